/** uploadOverSftp against a real sshd with the sftp subsystem (test/fixtures/sshd.ts): no mocks. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { expect } from 'chai';
import pino from 'pino';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { loadOrCreateGatewayKey } from '../../src/nodes/keys.ts';
import { NodePool, type NodeTarget } from '../../src/nodes/pool.ts';
import { startSshd, type Sshd } from '../../test/fixtures/sshd.ts';
import { byteLimit, uploadOverSftp } from './upload.ts';

const log = pino({ enabled: false });

async function omsName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isOmsError(e)) return e.omsName;
    throw e;
  }
  throw new Error('expected a rejection');
}

/** A source that yields `chunks` chunks of `size` bytes, lazily (no length known up front). */
const stream = (chunks: number, size: number) => Readable.from((function* () { for (let i = 0; i < chunks; i++) yield Buffer.alloc(size, i % 256); })());

describe('isoservices/upload over a real sshd', function () {
  this.timeout(30_000);
  let dir: string;
  let isoDir: string;
  let sshd: Sshd;
  let pool: NodePool;
  let target: NodeTarget;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oms-iso-upload-'));
    isoDir = join(dir, 'isos');
    mkdirSync(isoDir);
    const key = loadOrCreateGatewayKey(dir);
    sshd = await startSshd({ authorizedKey: key.publicKey, extraConfig: ['Subsystem sftp internal-sftp'] });
    pool = new NodePool({ privateKey: key.privateKey });
    target = { name: 'n1', address: '127.0.0.1', port: sshd.port, hostKeyFingerprint: sshd.hostKeyFingerprint };
  });
  after(async () => {
    pool?.closeAll();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const upload = async (name: string, source: Readable, max: number) => {
    const sftp = await pool.sftp(target);
    try {
      return await uploadOverSftp(sftp, { node: 'n1', realDir: isoDir, name }, source, max, log);
    } finally {
      sftp.end();
    }
  };

  it('streams to a temp name and renames: the file arrives whole, nothing else stays', async () => {
    const progress: number[] = [];
    const sftp = await pool.sftp(target);
    const size = await uploadOverSftp(sftp, { node: 'n1', realDir: isoDir, name: 'a.iso' }, stream(40, 32 * 1024), 2 * 1024 * 1024, log, (n) => progress.push(n));
    sftp.end();
    expect(size).to.equal(40 * 32 * 1024);
    expect(readFileSync(join(isoDir, 'a.iso')).length).to.equal(size);
    expect(readdirSync(isoDir)).to.deep.equal(['a.iso']);
    expect(progress.at(-1)).to.equal(size);
  });

  it('stops past the limit with IsoImageTooLargeError and removes the partial temp file', async () => {
    expect(await omsName(upload('b.iso', stream(100, 64 * 1024), 1024 * 1024))).to.equal('IsoImageTooLargeError');
    expect(readdirSync(isoDir)).to.deep.equal(['a.iso']);
  });

  it('never overwrites: an existing name is IsoImageExistsError, its content kept', async () => {
    writeFileSync(join(isoDir, 'c.iso'), 'original');
    expect(await omsName(upload('c.iso', stream(1, 100), 1024))).to.equal('IsoImageExistsError');
    expect(readFileSync(join(isoDir, 'c.iso'), 'utf8')).to.equal('original');
    expect(readdirSync(isoDir).sort()).to.deep.equal(['a.iso', 'c.iso']);
  });

  it('a failing source: IsoUploadError, no temp file', async () => {
    const broken = new Readable({ read() { this.destroy(new Error('client went away')); } });
    expect(await omsName(upload('d.iso', broken, 1024))).to.equal('IsoUploadError');
    expect(existsSync(join(isoDir, 'd.iso'))).to.equal(false);
    expect(readdirSync(isoDir).sort()).to.deep.equal(['a.iso', 'c.iso']);
    await new Promise((r) => setTimeout(r, 100));
    expect(pool.stats().channelsInUse).to.equal(0);
  });

  it('a source failing midway with a typed error (client gone): that error, temp file written then removed', async () => {
    const source = new PassThrough();
    const p = upload('e.iso', source, 1024 * 1024);
    source.write(Buffer.alloc(64 * 1024, 1));
    // The temp file exists on the "node" while the body streams...
    const deadline = Date.now() + 5000;
    while (!readdirSync(isoDir).some((n) => n.startsWith('.oms-upload-')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(isoDir).some((n) => /^\.oms-upload-[0-9a-f]+\.part$/.test(n))).to.equal(true);
    // ...and the client goes away mid-body.
    source.destroy(oms('UploadAbortedError', { bytes: 65536 }));
    expect(await omsName(p)).to.equal('UploadAbortedError');
    expect(readdirSync(isoDir).sort()).to.deep.equal(['a.iso', 'c.iso']);
  });

  it('byteLimit counts and passes bytes through up to the limit', async () => {
    const t = byteLimit(10);
    const out: Buffer[] = [];
    t.on('data', (c: Buffer) => out.push(c));
    t.write(Buffer.alloc(10));
    t.end();
    await new Promise((r) => t.on('end', r));
    expect(t.bytes()).to.equal(10);
    expect(Buffer.concat(out).length).to.equal(10);
  });
});
