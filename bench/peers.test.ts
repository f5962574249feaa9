import { expect } from 'chai';
import { ensurePeers, installPackages, onPath, peers } from './peers.ts';

describe('bench peers', () => {
  it('installs nothing when every command is there', async () => {
    const asked: string[][] = [];
    const r = await ensurePeers([peers.websockify, peers.ansible], { onPath: (c) => `/usr/bin/${c}`, install: async (p) => void asked.push(p) });
    expect(asked).to.deep.equal([]);
    expect(r).to.deep.equal([]);
  });

  it('installs the packages of the missing commands only, in one go', async () => {
    const present = new Set(['ansible']);
    const asked: string[][] = [];
    const r = await ensurePeers([peers.websockify, peers.ansible, peers.parallelSsh], {
      onPath: (c) => (present.has(c) ? `/usr/bin/${c}` : undefined),
      install: async (pkgs) => {
        asked.push(pkgs);
        present.add('websockify').add('parallel-ssh');
      },
    });
    expect(asked).to.deep.equal([['websockify', 'pssh']]);
    expect(r).to.deep.equal(['websockify', 'pssh']);
  });

  it("fails with apt's words when the install fails", async () => {
    const install = async () => {
      throw new Error('installing websockify failed (exit 100):\nE: Unable to locate package websockify');
    };
    const err = await ensurePeers([peers.websockify], { onPath: () => undefined, install }).catch((e: Error) => e);
    expect((err as Error).message).to.contain('E: Unable to locate package websockify');
  });

  it('fails when the command is still missing after its package was installed', async () => {
    const err = await ensurePeers([peers.parallelSsh], { onPath: () => undefined, install: async () => undefined }).catch((e: Error) => e);
    expect((err as Error).message).to.equal('installed pssh, yet parallel-ssh is not on PATH');
  });

  it('finds commands on PATH as command -v does', () => {
    expect(onPath('sh')).to.match(/\/sh$/);
    expect(onPath('sh', '/nonexistent')).to.equal(undefined);
  });

  it('peers.sh succeeds at once for packages already installed', async () => {
    // bash is always installed: the script must return at once without touching apt.
    await installPackages(['bash', 'coreutils']);
  });
});
