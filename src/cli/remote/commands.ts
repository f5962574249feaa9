/**
 * The remote `oms` commands, each a few calls of the typed client: `call` for any method, and the
 * resource commands people expect (node, vm, iso, task, events, console). Arguments a command
 * passes on are checked against the method's declared params (call-args.ts) before the call.
 * Output goes through output.ts (table, --json, --yaml); failures are thrown and turned into an
 * exit code and one line by exit-codes.ts.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { OmsClient } from '../../../clients/typescript/src/index.ts';
import type { OmsEvent, TaskRow } from '../../../clients/typescript/src/types.ts';
import { OmsError } from '../../../clients/typescript/src/errors.ts';
import { bindArgs, checkNamed, checkParams } from './call-args.ts';
import { CliError, EXIT } from './exit-codes.ts';
import { formatOf, render } from './output.ts';
import type { RemoteCommand, RemoteOptions } from './command.ts';
import { progress } from './progress.ts';
import { remote, type Remote } from './session.ts';
import { uploadIso } from './upload.ts';
import { serialConsole } from './console.ts';
import { login, logout } from './login.ts';
import { completionScript } from './completion.ts';

export interface RemoteIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether stderr is a terminal: progress bars there, plain lines otherwise. */
  tty: boolean;
  /** Ends when the user interrupts (Ctrl-C): long waits stop following. */
  signal?: AbortSignal;
}

export type { RemoteCommand, RemoteOptions };

const POWER: Record<string, string> = {
  start: 'kvmservices.start_vm',
  shutdown: 'kvmservices.shutdown_vm',
  stop: 'kvmservices.stop_vm',
  pause: 'kvmservices.pause_vm',
  resume: 'kvmservices.resume_vm',
};

const waitTimeoutMs = (o: RemoteOptions): number | undefined => {
  if (o.timeout === undefined) return undefined;
  const s = Number(o.timeout);
  if (!Number.isFinite(s) || s <= 0) throw new CliError('--timeout: seconds, a positive number', EXIT.usage);
  return s * 1000;
};

/** Follows a task to its end with a progress bar (or lines), the final row back. */
async function follow(r: Remote, taskId: string, label: string, io: RemoteIo, o: RemoteOptions): Promise<TaskRow> {
  // Started before the first report, so rate and ETA count from when following began.
  const bar = progress(label, { tty: io.tty, write: io.err });
  try {
    const row = await r.client.waitTask(taskId, {
      pollMs: 500,
      signal: io.signal,
      waitTimeoutMs: waitTimeoutMs(o),
      onProgress: (p) => bar.update(p.done, p.total),
    });
    bar.end();
    return row;
  } catch (e) {
    bar.end();
    throw e;
  }
}

/** A method that may answer {task_id}: with --wait (the default) its task is followed to the end. */
async function callMaybeTask(r: Remote, method: string, params: Record<string, unknown>, task: boolean, io: RemoteIo, o: RemoteOptions): Promise<unknown> {
  const started = await r.client.call<unknown>(method, params);
  const taskId = (started as { task_id?: string | null } | null)?.task_id;
  if (!task || !taskId || o.wait === false) return started;
  const row = await follow(r, taskId, `${method} ${taskId}`, io, o);
  return row.result ?? started;
}

export interface VmRow {
  node: string;
  name: string;
  state: string;
  vm_state: string | null;
  vcpus: number;
  memory_mib: number;
  tags: string[];
}

/** `state:running tag:web name:db* node:n1`: every term must hold (state matches the OMS state or the state model). */
export function vmFilter(expr: string | undefined): (v: VmRow) => boolean {
  if (!expr?.trim()) return () => true;
  const terms = expr.trim().split(/\s+/).map((t) => {
    const i = t.indexOf(':');
    if (i <= 0) throw new CliError(`--filter: expected key:value terms (state, tag, name, node), got ${JSON.stringify(t)}`, EXIT.usage);
    const key = t.slice(0, i).toLowerCase();
    const value = t.slice(i + 1);
    const glob = new RegExp(`^${value.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
    switch (key) {
      case 'state':
        return (v: VmRow) => glob.test(v.state) || (v.vm_state !== null && glob.test(v.vm_state));
      case 'tag':
        return (v: VmRow) => v.tags.some((x) => glob.test(x));
      case 'name':
        return (v: VmRow) => glob.test(v.name);
      case 'node':
        return (v: VmRow) => glob.test(v.node);
      default:
        throw new CliError(`--filter: unknown key ${JSON.stringify(key)} (state, tag, name, node)`, EXIT.usage);
    }
  });
  return (v) => terms.every((t) => t(v));
}

async function listVms(c: OmsClient, nodes: string[]): Promise<VmRow[]> {
  const rows: VmRow[] = [];
  for (const node of nodes) {
    const [status, listed] = await Promise.all([c.call<Record<string, Record<string, unknown>>[]>('kvmservices.list_vms_status', { server_hostname: node }), c.call<{ name: string; tags: string[] }[]>('kvmservices.list_vms', { server_hostname: node })]);
    const byName = status?.[0] ?? {};
    for (const [name, s] of Object.entries(byName)) {
      rows.push({
        node,
        name,
        state: String(s.state ?? ''),
        vm_state: (s.vm_state as string | null) ?? null,
        vcpus: Number(s.nrVirtCpu ?? 0),
        memory_mib: Math.round(Number(s.maxMem ?? 0) / 1024),
        tags: listed.find((l) => l.name === name)?.tags ?? [],
      });
    }
  }
  return rows.sort((a, b) => a.node.localeCompare(b.node) || a.name.localeCompare(b.name));
}

const eventLine = (ev: OmsEvent): string =>
  `${ev.seq}\t${new Date(ev.time).toISOString()}\t${ev.type}\t${ev.action}\t${ev.node ?? '-'}\t${ev.target ?? '-'}\t${Object.keys(ev.data ?? {}).length ? JSON.stringify(ev.data) : ''}\n`;

function list(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(',')).filter(Boolean);
}

export async function runRemote(c: RemoteCommand, io: RemoteIo): Promise<number> {
  const o = c.opts;
  const fmt = formatOf(o);
  const print = (v: unknown, columns?: readonly string[]) => io.out(render(v, fmt, columns));
  const [a0, a1, a2] = c.args;
  switch (c.name) {
    case 'login': {
      const r = await login(a0!, o as never, io.err);
      io.err(`logged in to ${a0} as ${r.user} (profile ${r.profile}); the API token is stored, not the password\n`);
      return EXIT.ok;
    }
    case 'logout': {
      const name = await logout(o.profile, io.err);
      io.err(`logged out (profile ${name})\n`);
      return EXIT.ok;
    }
    case 'completion':
      io.out(completionScript(a0 as 'bash' | 'zsh'));
      return EXIT.ok;
  }

  // Arguments are checked before anything is read from the profile or sent.
  const planned = plan(c);
  const r = remote(o.profile);
  try {
    return await planned(r, io, print);
  } finally {
    r.client.close();
  }
}

type Print = (v: unknown, columns?: readonly string[]) => void;
type Planned = (r: Remote, io: RemoteIo, print: Print) => Promise<number>;

/** Each command's arguments checked (usage errors before any call), and what it will do. */
function plan(c: RemoteCommand): Planned {
  const o = c.opts;
  const [a0, a1, a2] = c.args;
  switch (c.name) {
    case 'call': {
      const { name, spec, params } = bindArgs(a0!, c.args.slice(1));
      return async (r, io, print) => {
        print(await callMaybeTask(r, name, params, spec.task, io, o));
        return EXIT.ok;
      };
    }
    case 'node ls':
      return async (r, _io, print) => {
        const rows = (await r.client.call<Record<string, unknown>[]>('funcservices.list_signed', o.tag ? { optional_tag_name: o.tag } : {})).map((n) => ({ ...n, status: n.status === 1 ? 'up' : n.status === 0 ? 'down' : n.status }));
        print(rows, ['name', 'address', 'status', 'vms', 'tags', 'fingerprint']);
        return EXIT.ok;
      };
    case 'vm ls': {
      const nodes = list(o.node);
      for (const n of nodes) checkParams('kvmservices.list_vms_status', [n]);
      const keep = vmFilter(o.filter as string | undefined);
      return async (r, _io, print) => {
        const all = nodes.length ? nodes : (await r.client.call<{ name: string }[]>('funcservices.list_signed')).map((n) => n.name);
        print((await listVms(r.client, all)).filter(keep), ['node', 'name', 'state', 'vm_state', 'vcpus', 'memory_mib', 'tags']);
        return EXIT.ok;
      };
    }
    case 'vm start':
    case 'vm shutdown':
    case 'vm stop':
    case 'vm pause':
    case 'vm resume': {
      const verb = c.name.slice(3);
      const method = POWER[verb]!;
      const { spec, params } = bindArgs(method, o.window !== undefined && verb === 'shutdown' ? [a0!, a1!, String(o.window)] : [a0!, a1!]);
      return async (r, io, print) => {
        const result = await callMaybeTask(r, method, params, spec.task, io, o);
        if (formatOf(o) !== 'table') print(result);
        else if ((result as { task_id?: string } | null)?.task_id && o.wait === false) io.out(`${(result as { task_id: string }).task_id}\n`);
        else {
          const st = await r.client.call<{ state: string }>('kvmservices.get_vm_state', { server_hostname: a0, kvm_vm_name: a1 }).catch(() => undefined);
          io.out(`${a1} on ${a0}: ${st?.state ?? 'done'}\n`);
        }
        return EXIT.ok;
      };
    }
    case 'vm create': {
      if (!o.iso) throw new CliError('oms vm create NODE VM --iso IMAGE.iso --memory MiB --disk GB: --iso is needed (images: oms iso ls NODE)', EXIT.usage);
      const values = [a0!, a1!, String(o.osVariant ?? 'generic'), String(o.osType ?? 'linux'), String(o.iso), String(o.disk ?? ''), '""', String(o.memory ?? 512)];
      if (o.network !== undefined) values.push('false', 'false', String(o.network));
      const { params } = bindArgs('kvmservices.create_vm_from_iso', values);
      return async (r, io, print) => {
        const created = await r.client.call('kvmservices.create_vm_from_iso', params);
        if (o.start) await r.client.call('kvmservices.start_vm', { server_hostname: a0, kvm_vm_name: a1 });
        if (formatOf(o) !== 'table') print(created);
        else io.out(`created ${a1} on ${a0}${o.start ? ' and started it' : ''}\n`);
        return EXIT.ok;
      };
    }
    case 'iso ls': {
      checkParams('isoservices.list_images', [a0!]);
      return async (r, _io, print) => {
        const names = await r.client.call<string[]>('isoservices.list_images', { server_hostname: a0 });
        print(formatOf(o) === 'table' ? names.map((name) => ({ name })) : names, ['name']);
        return EXIT.ok;
      };
    }
    case 'iso upload': {
      const image = String(o.name ?? basename(a1!));
      try {
        if (!statSync(a1!).isFile()) throw new Error('not a file');
      } catch {
        throw new CliError(`${a1}: no such file to upload`, EXIT.usage);
      }
      checkParams('isoservices.list_images', [a0!]);
      checkParams('isoservices.delete_image', [a0!, image]);
      return async (r, io, print) => {
        // Asked first: a refusal the gateway sends mid-stream can be lost with the connection it
        // closes, and a taken name should not cost the whole upload. (Taken meanwhile is still refused.)
        if ((await r.client.call<string[]>('isoservices.list_images', { server_hostname: a0 })).includes(image))
          throw new OmsError('IsoImageExistsError', `ISO image ${image} exists on ${a0}; delete it first or give --name`);
        const bar = progress(`upload ${image}`, { tty: io.tty, write: io.err, unit: 'bytes' });
        let result;
        try {
          result = await uploadIso(r.profile, a0!, image, a1!, (done, total) => bar.update(done, total));
        } finally {
          bar.end();
        }
        if (formatOf(o) !== 'table') print(result);
        else io.out(`uploaded ${result.name} (${result.size} bytes) to ${a0}\n`);
        return EXIT.ok;
      };
    }
    case 'task ls': {
      const given = (v: unknown) => (v === undefined ? undefined : String(v));
      const params = checkNamed('tasks.list_tasks', { server_hostname: given(o.node), state: given(o.state), limit: given(o.limit) });
      return async (r, _io, print) => {
        const rows = await r.client.call<TaskRow[]>('tasks.list_tasks', params);
        print(
          formatOf(o) === 'table' ? rows.map((t) => ({ ...t, progress: t.progress ? `${t.progress.percent}%` : '', created: new Date(t.created_at * (t.created_at < 1e12 ? 1000 : 1)).toISOString(), error: t.error?.name ?? '' })) : rows,
          ['id', 'kind', 'node', 'target', 'user', 'state', 'progress', 'created', 'error'],
        );
        return EXIT.ok;
      };
    }
    case 'task show': {
      const { params } = bindArgs('tasks.task_status', [a0!]);
      return async (r, io, print) => {
        let row = await r.client.call<TaskRow>('tasks.task_status', params);
        if (o.wait === true && row.state === 'running') row = await follow(r, a0!, `task ${a0}`, io, o);
        print(row);
        return EXIT.ok;
      };
    }
    case 'task cancel': {
      const { params } = bindArgs('tasks.cancel_task', [a0!]);
      return async (r, io, print) => {
        const was = await r.client.call<number>('tasks.cancel_task', params);
        if (formatOf(o) !== 'table') print(was);
        else io.out(was ? `cancelling ${a0}\n` : `${a0} was not running\n`);
        return EXIT.ok;
      };
    }
    case 'events': {
      const types = list(o.type);
      const nodes = list(o.node);
      const since = o.since === undefined ? undefined : Number(o.since);
      if (since !== undefined && !(Number.isInteger(since) && since >= 0)) throw new CliError('--since: an event sequence number (integer >= 0)', EXIT.usage);
      checkParams('events.subscribe', [JSON.stringify(types.length ? types : ['kvm']), JSON.stringify(nodes), ...(since !== undefined ? [String(since)] : [])]);
      const count = o.count === undefined ? undefined : Number(o.count);
      return async (r, io) => {
        let n = 0;
        // A gateway that cannot be reached at first is an error (exit 7/8); once following, a
        // dropped connection is resumed from the last event, as the client does.
        const stop = new AbortController();
        io.signal?.addEventListener('abort', () => stop.abort(), { once: true });
        let connectedOnce = false;
        let firstError: Error | undefined;
        const onState = (st: { connected: boolean; since?: number; error?: Error }) => {
          if (st.connected) {
            io.err(connectedOnce ? `# resumed after event ${st.since ?? '-'}\n` : `# following events${since !== undefined ? ` after ${since}` : ''}; Ctrl-C stops\n`);
            connectedOnce = true;
          } else if (!connectedOnce && st.error) {
            firstError = st.error;
            stop.abort();
          } else if (connectedOnce) io.err('# connection lost; resuming\n');
        };
        if (formatOf(o) === 'table') io.err('SEQ\tTIME\tTYPE\tACTION\tNODE\tTARGET\tDATA\n');
        try {
          for await (const ev of r.client.events({ types: types.length ? (types as OmsEvent['type'][]) : undefined, nodes: nodes.length ? nodes : undefined, since, signal: stop.signal, onState })) {
            io.out(formatOf(o) === 'json' ? `${JSON.stringify(ev)}\n` : formatOf(o) === 'yaml' ? `---\n${render(ev, 'yaml')}` : eventLine(ev));
            if (count !== undefined && ++n >= count) break;
          }
        } catch (e) {
          if (!firstError) throw e;
        }
        if (firstError) throw firstError;
        return EXIT.ok;
      };
    }
    case 'console': {
      checkParams('kvmservices.open_console', [a0!, a1!]);
      return async (r, io) => {
        await serialConsole(r.client, r.profile, a0!, a1!, io.err);
        return EXIT.ok;
      };
    }
  }
  void a2;
  throw new CliError(`unknown command ${c.name}`, EXIT.usage);
}
