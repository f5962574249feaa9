/**
 * The ISO scripts run for real, here, on a temp directory: they are plain sh/bash with their
 * inputs as positional parameters, so the directory confinement (realpath, symlinks), the
 * no-overwrite rule and the size limit can be proven without a node. fetch uses a loopback server.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Argv } from '../../src/nodes/command.ts';
import { EXIT, fetchImage, listIsoDetails, listIsos, prepareUpload, removeImage, resolveImage } from './commands.ts';
import { fetchReason, parseFetchedSize, parseIsoDetails, parseIsoList, parseResolved } from './parse.ts';

const run = (argv: Argv): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const [prog, ...args] = argv as string[];
    execFile(prog, args, { encoding: 'utf8' }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });

describe('isoservices/commands (scripts run locally)', function () {
  this.timeout(20_000);
  let root: string;
  let iso: string;
  let http: Server;
  let base: string;
  const payload = Buffer.alloc(5000, 7);

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'oms-iso-cmd-'));
    iso = join(root, 'isos');
    mkdirSync(iso);
    mkdirSync(join(root, 'outside'));
    writeFileSync(join(root, 'outside', 'secret'), 'secret');
    writeFileSync(join(iso, 'a.iso'), 'a');
    writeFileSync(join(iso, 'B.ISO'), 'b');
    writeFileSync(join(iso, 'notes.txt'), 'n');
    writeFileSync(join(iso, '.hidden.iso'), 'h');
    writeFileSync(join(iso, '.oms-upload-1.part'), 'p');
    mkdirSync(join(iso, 'dir.iso'));
    symlinkSync(join(root, 'outside', 'secret'), join(iso, 'out.iso'));
    symlinkSync(join(iso, 'a.iso'), join(iso, 'in.iso'));
    symlinkSync(join(root, 'nowhere'), join(iso, 'dangling.iso'));
    symlinkSync(iso, join(root, 'isolink'));
    http = createServer((req, res) => {
      if (req.url === '/ok') res.end(payload);
      else if (req.url === '/slow') {
        // Sends forever, slowly: only the fetch stopping itself ends this response.
        res.writeHead(200);
        const drip = setInterval(() => res.write(Buffer.alloc(64)), 50);
        res.on('close', () => clearInterval(drip));
      }
      else if (req.url === '/moved') res.writeHead(301, { location: '/ok' }).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  });
  after(async () => {
    await new Promise((r) => http.close(r));
    rmSync(root, { recursive: true, force: true });
  });

  it('lists regular *.iso files only: no dotfiles, temp files, directories or symlinks', async () => {
    const r = await run(listIsos(iso));
    expect(r.code).to.equal(0);
    expect(parseIsoList(r.stdout)).to.deep.equal(['B.ISO', 'a.iso']);
    expect((await run(listIsos(join(root, 'missing')))).code).to.equal(EXIT.noDir);
    const details = parseIsoDetails((await run(listIsoDetails(iso))).stdout);
    expect(details.map((d) => [d.name, d.size])).to.deep.equal([
      ['B.ISO', 1],
      ['a.iso', 1],
    ]);
    expect(Math.abs(details[0].mtime - Date.now() / 1000)).to.be.below(60);
  });

  it('details parse names with odd characters (fields split on "/", which names cannot hold)', () => {
    expect(parseIsoDetails('12/1700000000.5/a b\tc.iso\0')).to.deep.equal([{ name: 'a b\tc.iso', size: 12, mtime: 1700000000 }]);
    expect(() => parseIsoDetails('x/1/a.iso\0')).to.throw(/unreadable/);
  });

  it('resolves images inside the directory; refuses symlinks out, dangling ones, directories', async () => {
    const a = await run(resolveImage(iso, 'a.iso'));
    expect(a.code).to.equal(0);
    expect(parseResolved(a.stdout)).to.deep.equal({ dir: iso, file: join(iso, 'a.iso') });
    expect(parseResolved((await run(resolveImage(iso, 'in.iso'))).stdout).file).to.equal(join(iso, 'a.iso'));
    // Through a symlinked directory the real paths come back.
    expect(parseResolved((await run(resolveImage(join(root, 'isolink'), 'a.iso'))).stdout).dir).to.equal(iso);
    expect((await run(resolveImage(iso, 'out.iso'))).code).to.equal(EXIT.outside);
    expect((await run(resolveImage(iso, 'dangling.iso'))).code).to.equal(EXIT.outside);
    expect((await run(resolveImage(iso, 'dir.iso'))).code).to.equal(EXIT.outside);
    expect((await run(resolveImage(iso, 'none.iso'))).code).to.equal(EXIT.noImage);
    expect((await run(resolveImage(join(root, 'missing'), 'a.iso'))).code).to.equal(EXIT.noDir);
  });

  it('removes the link, never its target', async () => {
    symlinkSync(join(iso, 'a.iso'), join(iso, 'in2.iso'));
    const real = parseResolved((await run(resolveImage(iso, 'in2.iso'))).stdout);
    expect((await run(removeImage(real.dir, 'in2.iso'))).code).to.equal(0);
    expect(readFileSync(join(iso, 'a.iso'), 'utf8')).to.equal('a');
    expect(readdirSync(iso)).to.not.include('in2.iso');
  });

  it('prepares uploads: real directory, name free (a symlink counts as taken)', async () => {
    const r = await run(prepareUpload(join(root, 'isolink'), 'new.iso'));
    expect([r.code, r.stdout]).to.deep.equal([0, `${iso}\n`]);
    expect((await run(prepareUpload(iso, 'a.iso'))).code).to.equal(EXIT.exists);
    expect((await run(prepareUpload(iso, 'dangling.iso'))).code).to.equal(EXIT.exists);
    expect((await run(prepareUpload(join(root, 'missing'), 'x.iso'))).code).to.equal(EXIT.noDir);
  });

  it('fetches to a temp name, then the name; size-limited; no redirects; no overwrite', async () => {
    const ok = await run(fetchImage(iso, 'f.iso', `${base}/ok`, 10_000, 'tok1', 30));
    expect(ok.code, ok.stderr).to.equal(0);
    expect(parseFetchedSize(ok.stdout)).to.equal(payload.length);
    expect(readFileSync(join(iso, 'f.iso'))).to.deep.equal(payload);
    expect((await run(fetchImage(iso, 'f.iso', `${base}/ok`, 10_000, 'tok2', 30))).code).to.equal(EXIT.exists);
    expect((await run(fetchImage(iso, 'out.iso', `${base}/ok`, 10_000, 'tok2', 30))).code).to.equal(EXIT.exists);
    expect((await run(fetchImage(iso, 'g.iso', `${base}/ok`, 4999, 'tok3', 30))).code).to.equal(EXIT.tooLarge);
    const missing = await run(fetchImage(iso, 'g.iso', `${base}/nope`, 10_000, 'tok4', 30));
    expect(missing.code).to.equal(EXIT.fetchFailed);
    expect(fetchReason(missing.stderr)).to.match(/^curl: \(22\).*404/);
    const moved = await run(fetchImage(iso, 'g.iso', `${base}/moved`, 10_000, 'tok5', 30));
    expect(moved.code).to.equal(EXIT.fetchFailed);
    expect(fetchReason(moved.stderr)).to.match(/^curl: \(47\)/);
    expect(readdirSync(iso).filter((n) => n.startsWith('.oms-fetch'))).to.deep.equal([]);
    expect(readdirSync(iso)).to.not.include('g.iso');
  });

  it('a fetch whose gateway has gone stops itself within seconds and leaves nothing', async () => {
    // Its own process group, as under sshd: the watchdog signals the whole group.
    const [prog, ...args] = fetchImage(iso, 'gone.iso', `${base}/slow`, 10_000_000, 'tok6', 60) as string[];
    const child = spawn(prog, args, { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => r(code ?? (signal ? 128 : null))));
    await new Promise((r) => setTimeout(r, 500));
    expect(readdirSync(iso).filter((n) => n.startsWith('.oms-fetch-tok6'))).to.have.length(1);
    const started = Date.now();
    child.stdout!.destroy(); // what sshd does to the script's stdout when the gateway's connection goes
    expect(await exited).to.equal(143);
    expect(Date.now() - started).to.be.below(5000);
    expect(readdirSync(iso).filter((n) => n.startsWith('.oms-fetch') || n === 'gone.iso')).to.deep.equal([]);
  });

  it('reads the fetched size from the last output line, after the watchdog dots', () => {
    expect(parseFetchedSize('.\n.\n5000\n')).to.equal(5000);
    expect(parseFetchedSize('5000\n')).to.equal(5000);
    expect(() => parseFetchedSize('.\n')).to.throw();
  });
});
