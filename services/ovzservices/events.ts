/**
 * The containers' node watcher (issue 14): LXC state changes read on each node by an
 * `lxc-monitor` on the containers' lxcpath that stays running (NodeHandle.follow: a shell
 * connection, no command slot), published as `container` events (target: the container id, as
 * the OpenVZ API names it) whatever made the change: OMS, or `lxc-stop` run by hand.
 *
 * As for KVM guests (kvmservices/events.ts): the monitor starts first, then the containers are
 * listed; each published change carries the container's state read again after it
 * (`data.state` in list_vms_status's words, `data.lxc_state` in LXC's, null once it is gone);
 * the listing after a reconnect and on the slow resync timer publishes what changed since the
 * states known before, with `data.resync: true` (created and destroyed are seen only there: the
 * monitor reports states, not containers appearing).
 */
import { followThenList, type NodeWatcherDecl, type WatchContext } from '../../src/events/watchers.ts';
import { SerialBatches } from '../../src/events/batches.ts';
import type { Argv } from '../../src/nodes/command.ts';
import { isOmsError } from '../../src/rpc/errors.ts';
import { DEFAULT_LXCPATH } from './config.ts';
import type { ContainerDriver, CtInfo } from './driver.ts';
import { lxcDriver } from './lxc-driver.ts';
import { containerChanges, monitorAction, parseMonitorLine, stateData } from './monitor-parse.ts';

/** The monitor: every state change of every container in the lxcpath, one line each. */
export const monitorArgv = (lxcpath: string): Argv => ['lxc-monitor', '-P', lxcpath, '-n', '.*'];

/** As for the libvirt reader: time for the monitor to connect to lxc-monitord before the first listing. */
export const MONITOR_SETTLE_MS = 500;

export const containerWatcher: NodeWatcherDecl = {
  name: 'lxc-monitor',
  watch: (ctx) => new CtWatch(ctx).run(),
};

interface Pending {
  readonly id: string;
  readonly action: string;
  readonly exitStatus?: number;
}

class CtWatch {
  readonly #driver: ContainerDriver;
  /** The last raw state the monitor printed per container, to tell steps and repeats apart. */
  readonly #raw = new Map<string, string>();
  /** The exit status printed before a container's STOPPING/STOPPED. */
  readonly #exit = new Map<string, number>();
  /** Changes read but not yet published, in the order the monitor printed them; one step at a time. */
  readonly #queue = new SerialBatches<Pending>((batch) => this.#publish(batch), (e) => {
    if (!this.ctx.signal.aborted) this.ctx.log.warn({ error: isOmsError(e) ? e.omsName : 'error' }, 'could not read container states');
  });

  constructor(private readonly ctx: WatchContext) {
    const h = ctx.node;
    this.#driver = lxcDriver({ ...h, exec: ((c, o) => h.exec(c, { signal: ctx.signal, ...o, background: true })) as typeof h.exec }, DEFAULT_LXCPATH);
  }

  run(): Promise<void> {
    return followThenList(this.ctx, {
      argv: monitorArgv(DEFAULT_LXCPATH),
      settleMs: MONITOR_SETTLE_MS,
      onLine: (line) => this.#line(line),
      what: 'lxc-monitor',
      resync: () => this.#queue.run(() => this.#resync()),
    });
  }

  #line(line: string): void {
    const m = parseMonitorLine(line);
    if (!m) return;
    if ('exitStatus' in m) {
      this.#exit.set(m.id, m.exitStatus);
      return;
    }
    const action = monitorAction(this.#raw.get(m.id), m.state);
    this.#raw.set(m.id, m.state);
    if (!action) return;
    const exitStatus = action === 'stopped' ? this.#exit.get(m.id) : undefined;
    if (action === 'stopped' || action === 'started') this.#exit.delete(m.id);
    this.#queue.add({ id: m.id, action, ...(exitStatus !== undefined ? { exitStatus } : {}) });
  }

  /** Publishes every change read so far, with the states of those containers read once after them. */
  async #publish(batch: Pending[]): Promise<void> {
    let infos: Map<string, CtInfo> | undefined;
    try {
      const ids = [...new Set(batch.map((p) => p.id))];
      infos = new Map((await this.#driver.infoAll(ids)).map((i) => [i.id, i]));
    } catch (e) {
      if (this.ctx.signal.aborted) return;
      this.ctx.log.warn({ error: isOmsError(e) ? e.omsName : 'error' }, 'could not read container states after a change');
    }
    const { known } = this.ctx;
    if (this.ctx.signal.aborted) return; // the watch ended while the states were read
    for (const p of batch) {
      const info = infos?.get(p.id);
      if (infos) {
        if (info) known.states.set(p.id, info.state);
        else known.states.delete(p.id);
      }
      this.ctx.sink.publish({
        type: 'container',
        node: this.ctx.node.name,
        target: p.id,
        action: p.action,
        data: { ...(infos ? stateData(info) : {}), ...(p.exitStatus !== undefined ? { exit_status: p.exitStatus } : {}) },
      });
    }
  }

  async #resync(): Promise<void> {
    const ids = await this.#driver.list();
    const now = new Map((await this.#driver.infoAll(ids)).map((i) => [i.id, i]));
    const { known } = this.ctx;
    if (this.ctx.signal.aborted) return;
    if (known.seeded) {
      for (const c of containerChanges(known.states, new Map([...now].map(([id, i]) => [id, i.state])))) {
        this.ctx.sink.publish({ type: 'container', node: this.ctx.node.name, target: c.target, action: c.action, data: { ...stateData(now.get(c.target)), resync: true } });
      }
    }
    known.states.clear();
    for (const [id, i] of now) known.states.set(id, i.state);
    known.seeded = true;
  }
}
