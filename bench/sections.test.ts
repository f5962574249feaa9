import { expect } from 'chai';
import { parseBenchArgs, runSections, type Section } from './sections.ts';

/** Runs fn with mocha's own handlers of stray errors set aside, so the runner's are the only ones. */
async function withoutMochaHandlers<T>(fn: () => Promise<T>): Promise<T> {
  const uncaught = process.listeners('uncaughtException');
  const unhandled = process.listeners('unhandledRejection');
  process.removeAllListeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
  try {
    return await fn();
  } finally {
    for (const l of uncaught) process.on('uncaughtException', l);
    for (const l of unhandled) process.on('unhandledRejection', l);
  }
}

describe('bench sections', () => {
  it('prints a failing section\'s error and still runs the sections after it', async () => {
    const lines: string[] = [];
    const ran: string[] = [];
    const sections: Section<null>[] = [
      { name: 'a', title: 'first', run: async () => void (ran.push('a'), lines.push('figure a')) },
      { name: 'b', title: 'second', run: async () => { ran.push('b'); throw new Error('installing websockify failed (exit 100):\nE: Unable to locate package websockify'); } },
      { name: 'c', title: 'third', run: async () => void (ran.push('c'), lines.push('figure c')) },
    ];
    const failed = await runSections(sections, null, (l) => lines.push(l));
    expect(ran).to.deep.equal(['a', 'b', 'c']);
    expect(failed).to.deep.equal(['b']);
    expect(lines).to.deep.equal(['== first', 'figure a', '== second', 'FAILED: installing websockify failed (exit 100):\nE: Unable to locate package websockify', '== third', 'figure c']);
  });

  it('fails the running section on an error thrown outside its promise, and goes on', async () => {
    const lines: string[] = [];
    const failed = await withoutMochaHandlers(async () => {
      const f = await runSections<null>(
        [
          {
            name: 'stray',
            title: 'stray',
            // An 'error' event nobody listens to: thrown from a timer, never reaching the section's promise.
            run: () => {
              setTimeout(() => {
                throw new Error('spawn websockify ENOENT');
              }, 5);
              return new Promise(() => undefined);
            },
          },
          { name: 'next', title: 'next', run: async () => void lines.push('figure next') },
        ],
        null,
        (l) => lines.push(l),
      );
      // The runner's handlers are gone once it is done.
      expect(process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection')).to.equal(0);
      return f;
    });
    expect(failed).to.deep.equal(['stray']);
    expect(lines).to.deep.equal(['== stray', 'FAILED: spawn websockify ENOENT', '== next', 'figure next']);
  });

  describe('arguments', () => {
    const known = ['stats', 'vnc', 'load'];
    it('defaults to 20 nodes, every section, full durations', () => {
      expect(parseBenchArgs([], {}, known)).to.deep.equal({ nodes: 20, only: undefined, quick: false });
    });
    it('takes the node count from OMS_BENCH_NODES, and --nodes over it', () => {
      expect(parseBenchArgs([], { OMS_BENCH_NODES: '3' }, known).nodes).to.equal(3);
      expect(parseBenchArgs(['--nodes', '5'], { OMS_BENCH_NODES: '3' }, known).nodes).to.equal(5);
    });
    it('takes --only as a list, repeated or comma-separated, and --quick', () => {
      expect(parseBenchArgs(['--only', 'stats,vnc', '--only', 'load', '--quick'], {}, known)).to.deep.equal({ nodes: 20, only: ['stats', 'vnc', 'load'], quick: true });
    });
    it('refuses unknown sections, flags and node counts', () => {
      expect(() => parseBenchArgs(['--only', 'vnc,nosuch'], {}, known)).to.throw(/unknown section nosuch/);
      expect(() => parseBenchArgs(['--fast'], {}, known)).to.throw(/usage/);
      for (const n of ['0', '51', 'abc', '2.5']) expect(() => parseBenchArgs(['--nodes', n], {}, known)).to.throw(/--nodes must be 1..50/);
    });
  });
});
