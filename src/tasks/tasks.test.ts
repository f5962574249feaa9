import { expect } from 'chai';
import pino from 'pino';
import { openDatabase } from '../db/database.ts';
import { OmsError } from '../rpc/errors.ts';
import { Tasks, type TaskRow } from './tasks.ts';
import type { EventInput } from '../events/types.ts';

describe('tasks', () => {
  const make = (events: TaskRow[] = []) => new Tasks(openDatabase(':memory:'), pino({ level: 'silent' }), (r) => events.push(r));

  it('records success with result, log and progress', async () => {
    const events: TaskRow[] = [];
    const t = make(events);
    const { id, done } = t.start({ kind: 'test.copy', node: 'n1', target: 'vm1', user: 'admin' }, async (task) => {
      task.log('copying');
      task.progress(50, 100);
      task.progress(100, 100);
      return { copied: 100 };
    });
    expect(await done).to.deep.equal({ copied: 100 });
    const row = t.require(id);
    expect(row).to.deep.include({ state: 'succeeded', kind: 'test.copy', node: 'n1', target: 'vm1', user: 'admin', result: { copied: 100 }, error: null });
    expect(row.progress).to.deep.equal({ done: 100, total: 100, percent: 100 });
    expect(t.logOf(id).map((l) => l.line)).to.deep.equal(['copying']);
    expect(events.at(-1)!.state).to.equal('succeeded');
  });

  it('a step writes the progress the throttle held back, and so does the end of a failed task', async () => {
    const events: TaskRow[] = [];
    const t = make(events);
    const seen = () => events.filter((r) => r.state === 'running' && r.progress).map((r) => r.progress!.done);
    // Two disks copied faster than the throttle: the first disk's end still shows before disk 2.
    await t.start({ kind: 'test.copy' }, async (task) => {
      task.progress(0, 512);
      task.progress(384, 512);
      task.log('copying disk 2/2');
      task.progress(512, 512);
    }).done;
    expect(seen()).to.deep.equal([0, 384, 512]);
    events.length = 0;
    const failed = t.start({ kind: 'test.copy' }, async (task) => {
      task.progress(0, 100);
      task.progress(40, 100);
      throw new OmsError('NodeUnreachableError', { node: 'n1' });
    });
    await failed.done.catch(() => {});
    expect(t.require(failed.id).progress).to.deep.include({ done: 40, total: 100 });
  });

  it('refuses a second operation on the same target while one runs', async () => {
    const t = make();
    let release!: () => void;
    const first = t.start({ kind: 'a', node: 'n1', target: 'vm1' }, () => new Promise<void>((r) => (release = r)));
    expect(() => t.start({ kind: 'b', node: 'n1', target: 'vm1' }, async () => 1)).to.throw(OmsError, /busy with task/);
    // Another target on the same node is fine.
    await t.start({ kind: 'b', node: 'n1', target: 'vm2' }, async () => 1).done;
    release();
    await first.done;
    await t.start({ kind: 'c', node: 'n1', target: 'vm1' }, async () => 1).done;
  });

  it('failures keep the typed error; unexpected ones become InternalError', async () => {
    const t = make();
    const a = t.start({ kind: 'x' }, async () => {
      throw new OmsError('UnknownNodeError', { node: 'n9' });
    });
    await a.done.catch(() => {});
    expect(t.require(a.id).error).to.deep.equal({ name: 'UnknownNodeError', message: 'Unknown node: n9' });
    const b = t.start({ kind: 'x' }, async () => {
      throw new Error('raw /secret/path');
    });
    await b.done.catch(() => {});
    expect(t.require(b.id).error!.name).to.equal('InternalError');
    expect(t.require(b.id).error!.message).to.not.include('/secret');
  });

  it('cancel aborts the work and ends the task as cancelled', async () => {
    const t = make();
    const { id, done } = t.start({ kind: 'slow' }, (task) => new Promise((_, reject) => task.signal.addEventListener('abort', () => reject(new Error('stopped')))));
    expect(t.cancel(id)).to.equal(true);
    await done.catch((e) => expect((e as OmsError).omsName).to.equal('TaskCancelledError'));
    expect(t.require(id).state).to.equal('cancelled');
    expect(t.cancel(id)).to.equal(false);
  });

  it('tasks left running by a dead gateway are marked failed on the next start', () => {
    const db = openDatabase(':memory:');
    db.prepare("INSERT INTO tasks (id, kind, state, created_at) VALUES ('00000000-0000-0000-0000-000000000001', 'k', 'running', 1)").run();
    const t = new Tasks(db, pino({ level: 'silent' }));
    expect(t.recoverInterrupted()).to.equal(1);
    expect(t.require('00000000-0000-0000-0000-000000000001')).to.deep.include({ state: 'failed', error: { name: 'TaskInterruptedError', message: 'the gateway stopped while the task ran' } });
  });
});

describe('tasks: live events', () => {
  const withSink = () => {
    const published: EventInput[] = [];
    const t = new Tasks(openDatabase(':memory:'), pino({ level: 'silent' }), () => {}, undefined, { publish: (e) => published.push(e) });
    return { t, published };
  };
  const brief = (e: EventInput) => [e.action, e.data?.state, e.data?.outcome ?? e.data?.line ?? (e.data?.progress as { done?: number } | undefined)?.done ?? null];

  it('tells created, progress (throttled as the row), log lines and finished ok, for the task id on its node', async () => {
    const { t, published } = withSink();
    const { id, done } = t.start({ kind: 'test.copy', node: 'n1', target: 'vm1', user: 'admin' }, async (task) => {
      task.progress(0, 100);
      task.progress(10, 100); // held back by the throttle
      task.log('disk 1/1');
      task.progress(100, 100);
      return 1;
    });
    await done;
    expect(published.map(brief)).to.deep.equal([
      ['created', 'running', null],
      ['progress', 'running', 0],
      ['progress', 'running', 10],
      ['log', 'running', 'disk 1/1'],
      ['progress', 'running', 100],
      ['finished', 'succeeded', 'ok'],
    ]);
    for (const e of published) expect(e).to.deep.include({ type: 'task', node: 'n1', target: id });
    expect(published[0].data).to.deep.include({ kind: 'test.copy', guest: 'vm1', user: 'admin' });
  });

  it('tells failed and cancelled with the error', async () => {
    const { t, published } = withSink();
    await t.start({ kind: 'k' }, async () => {
      throw new OmsError('FuncManError', { reason: 'boom' });
    }).done.catch(() => undefined);
    const c = t.start({ kind: 'k' }, (task) => new Promise((_, reject) => task.signal.addEventListener('abort', () => reject(new Error('stopped')))));
    t.cancel(c.id);
    await c.done.catch(() => undefined);
    const finished = published.filter((e) => e.action === 'finished').map((e) => [e.data?.outcome, (e.data?.error as { name: string }).name]);
    expect(finished).to.deep.equal([
      ['failed', 'FuncManError'],
      ['cancelled', 'TaskCancelledError'],
    ]);
  });
});
