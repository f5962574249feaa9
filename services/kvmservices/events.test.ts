/**
 * The KVM watcher's logic with a stand-in node (the lab test, test/integration/events-nodes.test.ts,
 * runs it against a real one): subscribe before listing, each event with the state read after
 * it, the listing after a restart publishing what changed meanwhile.
 */
import { expect } from 'chai';
import pino from 'pino';
import type { Writable } from 'node:stream';
import type { NodeHandle } from '../../src/fleet/access.ts';
import type { FollowOptions } from '../../src/nodes/types.ts';
import { KnownStates, type WatchContext } from '../../src/events/watchers.ts';
import type { EventInput } from '../../src/events/types.ts';
import { kvmEventWatcher } from './events.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const listing = (states: Record<string, number>) => Object.entries(states).map(([n, s]) => `Domain: '${n}'\n  state.state=${s}\n  state.reason=1\n`).join('\n');

/** A node whose reader the test feeds, and whose guests' states the test sets. */
function fakeNode() {
  const log: string[] = [];
  let out: Writable | undefined;
  let end: ((code: number) => void) | undefined;
  let fail: ((e: unknown) => void) | undefined;
  const node = {
    states: {} as Record<string, number>,
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
          fail = reject;
          opts.signal.addEventListener('abort', () => fail!(opts.signal.reason), { once: true });
        });
      },
      async converse(_spec: unknown, words: readonly string[]) {
        log.push(`read ${words.join(' ')}`);
        return listing(node.states);
      },
      async exec() {
        throw new Error('no one-off commands expected');
      },
    } as unknown as NodeHandle,
  };
  return node;
}

function context(handle: NodeHandle, known = new KnownStates()) {
  const published: EventInput[] = [];
  const stop = new AbortController();
  let healthy = 0;
  const ctx: WatchContext = {
    node: handle,
    sink: { publish: (e) => published.push(e) },
    log: pino({ enabled: false }),
    signal: stop.signal,
    resyncMs: 3_600_000,
    known,
    healthy: () => healthy++,
  };
  return { ctx, published, stop, known, healthy: () => healthy };
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

describe('kvmservices events: the libvirt event watcher', () => {
  it('starts the reader before it lists, then reports healthy; the first listing publishes nothing', async () => {
    const n = fakeNode();
    n.states = { a: 1 };
    const c = context(n.handle);
    const run = kvmEventWatcher.watch(c.ctx);
    await until('healthy', () => c.healthy() === 1);
    expect(n.log).to.deep.equal(['follow virsh -q -c qemu:///system event --all --loop --timestamp', 'read domstats --raw --nowait --state']);
    expect(c.published).to.deep.equal([]);
    expect(c.known.seeded).to.equal(true);
    c.stop.abort(new Error('stop'));
    await run.catch(() => undefined);
  });

  it('publishes each event with the state read after it, and events arriving together share one read', async () => {
    const n = fakeNode();
    const c = context(n.handle);
    const run = kvmEventWatcher.watch(c.ctx);
    await until('healthy', () => c.healthy() === 1);
    n.states = { g: 1 };
    n.print("2026-11-29 11:58:05.246+0000: event 'lifecycle' for domain 'g': Resumed Unpaused");
    n.print("2026-11-29 11:58:05.253+0000: event 'lifecycle' for domain 'g': Started Booted");
    await until('two events', () => c.published.length === 2);
    expect(c.published.map((e) => [e.type, e.node, e.target, e.action, e.data?.state, e.data?.reason])).to.deep.equal([
      ['kvm', 'n1', 'g', 'resumed', 'RUNNING', 'Unpaused'],
      ['kvm', 'n1', 'g', 'started', 'RUNNING', 'Booted'],
    ]);
    expect(c.published[1].data?.libvirt_time).to.equal(Date.UTC(2026, 10, 29, 11, 58, 5, 253));
    expect(n.log.filter((l) => l.startsWith('read'))).to.have.length.at.most(3); // the listing, then one or two reads
    n.states = {};
    n.print("event 'lifecycle' for domain 'g': Undefined Removed");
    await until('undefined', () => c.published.length === 3);
    expect(c.published[2]).to.deep.include({ action: 'undefined' });
    expect(c.published[2].data?.state).to.equal(null);
    expect(c.known.states.has('g')).to.equal(false);
    c.stop.abort(new Error('stop'));
    await run.catch(() => undefined);
  });

  it('after a restart, publishes what changed since the states known before, marked resync', async () => {
    const n = fakeNode();
    n.states = { stays: 1, starts: 5, goes: 1 };
    const first = context(n.handle);
    const run1 = kvmEventWatcher.watch(first.ctx);
    await until('healthy', () => first.healthy() === 1);
    n.end(255); // the link dropped: the reader ended
    await run1;
    n.states = { stays: 1, starts: 1, fresh: 3 };
    const second = context(n.handle, first.known);
    const run2 = kvmEventWatcher.watch(second.ctx);
    await until('healthy again', () => second.healthy() === 1);
    expect(second.published.map((e) => `${e.target} ${e.action} ${e.data?.state} ${e.data?.resync}`)).to.deep.equal([
      'fresh defined PAUSED true',
      'fresh suspended PAUSED true',
      'goes undefined null true',
      'starts started RUNNING true',
    ]);
    second.stop.abort(new Error('stop'));
    await run2.catch(() => undefined);
  });

  it('fails with the reader when its link drops, without listing', async () => {
    const n = fakeNode();
    const c = context(n.handle);
    const handle = { ...n.handle, follow: () => Promise.reject(new Error('unreachable')) } as NodeHandle;
    const err = await kvmEventWatcher.watch({ ...c.ctx, node: handle }).catch((e: Error) => e);
    expect((err as Error).message).to.equal('unreachable');
    expect(n.log).to.deep.equal([]);
    expect(c.healthy()).to.equal(0);
  });
});
