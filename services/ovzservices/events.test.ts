/**
 * The container watcher's logic with a stand-in node (the lab test, test/integration/events-nodes.test.ts,
 * runs it against a real one): monitor before listing, settled changes only, each with the state
 * read after it, the listing after a restart publishing what changed meanwhile.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import type { Writable } from 'node:stream';
import type { NodeHandle } from '../../src/fleet/access.ts';
import type { Command } from '../../src/nodes/command.ts';
import type { FollowOptions } from '../../src/nodes/types.ts';
import { KnownStates, type WatchContext } from '../../src/events/watchers.ts';
import type { EventInput } from '../../src/events/types.ts';
import { containerWatcher } from './events.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const monitorLines = readFileSync(new URL('./fixtures/events/lxc-monitor-5.0.2.txt', import.meta.url), 'utf8').split('\n').filter(Boolean);

/** A node whose monitor the test feeds; `states` are what lxc-ls / lxc-info report. */
function fakeNode() {
  const log: string[] = [];
  let out: Writable | undefined;
  let end: ((code: number) => void) | undefined;
  const node = {
    states: {} as Record<string, string>,
    log,
    print: (line: string) => out!.write(`${line}\n`),
    end: (code: number) => end!(code),
    handle: {
      name: 'n1',
      settings: {},
      follow(argv: readonly unknown[], opts: FollowOptions) {
        log.push(`follow ${argv.join(' ')}`);
        out = opts.stdout;
        return new Promise((resolve, reject) => {
          end = (code) => resolve({ stdout: '', stderr: '', code });
          opts.signal.addEventListener('abort', () => reject(opts.signal.reason), { once: true });
        });
      },
      async exec(cmd: Command) {
        const argv = cmd as string[];
        log.push(argv[0] === 'sh' ? `info ${argv.slice(5).join(' ')}` : argv[0]);
        if (argv[0] === 'lxc-ls') return { stdout: Object.keys(node.states).join('\n') + '\n', stderr: '', code: 0 };
        const ids = argv.slice(5);
        const stdout = ids.map((id) => (node.states[id] ? `== ${id}\nState:          ${node.states[id]}\nPID:            1\n` : `== ${id}\n`)).join('');
        return { stdout, stderr: '', code: 0 };
      },
    } as unknown as NodeHandle,
  };
  return node;
}

function context(handle: NodeHandle, known = new KnownStates()) {
  const published: EventInput[] = [];
  const stop = new AbortController();
  let healthy = 0;
  const ctx: WatchContext = { node: handle, sink: { publish: (e) => published.push(e) }, log: pino({ enabled: false }), signal: stop.signal, resyncMs: 3_600_000, known, healthy: () => healthy++ };
  return { ctx, published, stop, known, healthy: () => healthy };
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

describe('ovzservices events: the LXC monitor watcher', () => {
  it('starts the monitor on the lxcpath before it lists; then each settled change of the captured run, with its state', async () => {
    const n = fakeNode();
    n.states = { '71301': 'STOPPED' };
    const c = context(n.handle);
    const run = containerWatcher.watch(c.ctx);
    await until('healthy', () => c.healthy() === 1);
    expect(n.log.slice(0, 3)).to.deep.equal(['follow lxc-monitor -P /var/lib/lxc -n .*', 'lxc-ls', 'info 71301']);
    expect(c.published).to.deep.equal([]);
    // The captured run, line by line, with the state lxc-info would give after each step.
    const after: Record<string, string> = { RUNNING: 'RUNNING', FROZEN: 'FROZEN', THAWED: 'RUNNING', STOPPED: 'STOPPED' };
    for (const line of monitorLines) {
      const s = /\[([A-Z]+)\]$/.exec(line)?.[1];
      if (s && after[s] && line.includes('changed state')) n.states['71301'] = after[s];
      n.print(line);
      await sleep(20);
    }
    await until('six changes', () => c.published.length === 6);
    expect(c.published.map((e) => `${e.type} ${e.node} ${e.target} ${e.action} ${e.data?.state}`)).to.deep.equal([
      'container n1 71301 started running',
      'container n1 71301 frozen paused',
      'container n1 71301 thawed running',
      'container n1 71301 stopped shutdown',
      'container n1 71301 started running',
      'container n1 71301 stopped shutdown',
    ]);
    expect(c.published[3].data?.exit_status).to.equal(0);
    c.stop.abort(new Error('stop'));
    await run.catch(() => undefined);
  });

  it('after a restart, publishes what changed since the states known before, marked resync', async () => {
    const n = fakeNode();
    n.states = { '101': 'RUNNING', '102': 'STOPPED' };
    const first = context(n.handle);
    const run1 = containerWatcher.watch(first.ctx);
    await until('healthy', () => first.healthy() === 1);
    n.end(255);
    await run1;
    n.states = { '102': 'RUNNING', '103': 'STOPPED' };
    const second = context(n.handle, first.known);
    const run2 = containerWatcher.watch(second.ctx);
    await until('healthy again', () => second.healthy() === 1);
    expect(second.published.map((e) => `${e.target} ${e.action} ${e.data?.state} ${e.data?.resync}`)).to.deep.equal([
      '101 destroyed null true',
      '102 started running true',
      '103 created shutdown true',
    ]);
    second.stop.abort(new Error('stop'));
    await run2.catch(() => undefined);
  });

  it('on a node without LXC (exit 127) waits for the resync pace before ending', async () => {
    const n = fakeNode();
    const c = context(n.handle);
    const ctx = { ...c.ctx, resyncMs: 300 };
    const t = Date.now();
    const run = containerWatcher.watch(ctx);
    await sleep(10);
    n.end(127);
    await run;
    expect(Date.now() - t).to.be.at.least(250);
  });
});
