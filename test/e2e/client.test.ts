/**
 * The typed client as a script author uses it, against the real gateway process (TLS on, with its
 * generated self-signed certificate): the package as `npm pack` publishes it, unpacked into a
 * directory outside the repository, imported by a plain-Node script (client-script/script.mjs)
 * with nothing of the repository's sources. Password and token logins, typed errors, and
 * certificate pinning (the gateway's fingerprint or its certificate as CA; another refused).
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startGatewayProcess, repoRoot, type GatewayProcess } from '../helpers/process.ts';
import { loadOrCreateCertificate } from '../../src/http/tls.ts';

const run = promisify(execFile);
const PASSWORD = 'cl-e2e-admin-password';
const clientDir = join(repoRoot, 'clients/typescript');

describe('end to end: the published client package, from a plain Node script, against the real gateway', function () {
  this.timeout(120_000);
  let gw: GatewayProcess;
  let work: string;
  let fingerprint: string;
  let caFile: string;

  /** Runs the script's step with plain node in the script's own directory; its one JSON line. */
  async function script(step: string, env: Record<string, string>): Promise<any> {
    const { stdout, stderr } = await run(process.execPath, ['script.mjs', step], {
      cwd: work,
      env: { PATH: process.env.PATH, OMS_URL: gw.url, OMS_USER: 'admin', OMS_PASSWORD: PASSWORD, OMS_FINGERPRINT: fingerprint, ...env },
    });
    // The script's output is what a script author could print: it must hold no secret.
    expect(stdout + stderr).to.not.include(PASSWORD);
    const line = stdout.trim().split('\n').at(-1)!;
    const out = JSON.parse(line);
    expect(out.unexpected, stderr).to.equal(undefined);
    return out;
  }

  before(async () => {
    if (!existsSync(join(clientDir, 'dist/index.js'))) await run('npm', ['run', '-s', 'client:build'], { cwd: repoRoot });
    work = mkdtempSync(join(tmpdir(), 'cl-e2e-'));
    // What `npm install <tarball>` does, without a registry: the packed files under node_modules,
    // its one dependency (ws) beside it.
    await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: clientDir });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
    const pkgDir = join(work, 'node_modules/@oms/client');
    mkdirSync(pkgDir, { recursive: true });
    await run('tar', ['-xzf', join(work, tarball), '-C', pkgDir, '--strip-components=1']);
    symlinkSync(join(repoRoot, 'node_modules/ws'), join(work, 'node_modules/ws'));
    copyFileSync(join(import.meta.dirname, 'client-script/script.mjs'), join(work, 'script.mjs'));
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'cl-e2e-script', private: true, type: 'module' }));

    gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD });
    caFile = join(work, 'gateway.pem');
    writeFileSync(caFile, gw.ca!);
    fingerprint = new X509Certificate(gw.ca!).fingerprint256;
  });
  after(async () => {
    await gw?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the package holds the compiled JS and type declarations, not the sources', () => {
    const files = readdirSync(join(work, 'node_modules/@oms/client/dist'));
    expect(files).to.include.members(['index.js', 'index.d.ts', 'browser.js', 'generated.d.ts']);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).to.deep.equal([]);
    expect(existsSync(join(work, 'node_modules/@oms/client/src'))).to.equal(false);
  });

  it('events: an async iterator of what changes; a second one resumes from the seq the first stopped at', async () => {
    const r = await script('events', { OMS_TRANSPORT: 'ws' });
    expect(r).to.deep.equal({ first: { type: 'inventory', action: 'userservices.create_api_token', name: 'cl-ev-1' }, resumed: { name: 'cl-ev-2', next: true }, secretShown: false });
  });

  for (const transport of ['http', 'ws']) {
    it(`${transport}: logs in by password (fingerprint pinned), calls whoami, creates a token, logs out; the token then works alone (CA pinned)`, async () => {
      const tokenFile = join(work, `token-${transport}`);
      const a = await script('password', { OMS_TRANSPORT: transport, OMS_TOKEN_FILE: tokenFile });
      expect(a).to.deep.equal({ whoami: 'admin', tokenShape: true, afterLogout: 'AuthError' });
      const token = readFileSync(tokenFile, 'utf8');
      const b = await script('token', { OMS_TRANSPORT: transport, OMS_TOKEN: token, OMS_CACERT: caFile, OMS_FINGERPRINT: '' });
      expect(b).to.deep.equal({ whoami: 'admin', tokens: ['cl-e2e'] });
      await revokeToken(token);
    });
  }

  /**
   * Outside the client (curl and the query-string API): the token the script made is the admin's
   * and works as a bearer; then it is revoked, so the other transport's run can make it again.
   */
  async function revokeToken(token: string): Promise<void> {
    const q = new URLSearchParams({ id: '1', service: 'userservices', method: 'list_api_tokens', params: JSON.stringify([0]) });
    const list = JSON.parse((await run('curl', ['-sS', '-g', '--cacert', caFile, '-H', `Authorization: Bearer ${token}`, `${gw.url}/?${q}`])).stdout);
    expect(list.result.result.map((t: { name: string }) => t.name)).to.include('cl-e2e');
    const sid = JSON.parse((await run('curl', ['-sS', '-g', '--cacert', caFile, `${gw.url}/?id=1&service=authservices&method=authenticate&params=${encodeURIComponent(JSON.stringify(['admin', PASSWORD]))}`])).stdout).result.result;
    const r = JSON.parse((await run('curl', ['-sS', '-g', '--cacert', caFile, `${gw.url}/?id=1&service=userservices&method=revoke_api_token&params=${encodeURIComponent(JSON.stringify([sid, 0, 'cl-e2e']))}`])).stdout);
    expect(r.error).to.equal(null);
  }

  it('typed errors: a wrong password is AuthError (101), an unknown node UnknownNodeError (200), with the gateway\'s messages', async () => {
    const out = await script('errors', { OMS_TRANSPORT: 'http' });
    expect(out.badLogin).to.deep.equal({ name: 'AuthError', omsName: 'AuthError', code: 101, message: 'Authentication failed', is: true });
    expect(out.unknownNode).to.deep.equal({ name: 'UnknownNodeError', code: 200, message: 'Unknown node: cl-nowhere', is: true });
  });

  for (const transport of ['http', 'ws']) {
    it(`${transport}: refuses a gateway whose certificate is not the pinned one (another fingerprint, another CA)`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cl-e2e-other-'));
      try {
        const other = await loadOrCreateCertificate(dir);
        const otherFile = join(dir, 'other.pem');
        writeFileSync(otherFile, other.cert);
        const wrong: Record<string, string>[] = [{ OMS_FINGERPRINT: new X509Certificate(other.cert).fingerprint256 }, { OMS_CACERT: otherFile }];
        for (const env of wrong) {
          const out = await script('wrongcert', { OMS_TRANSPORT: transport, ...env });
          expect(out.refused, JSON.stringify(out)).to.include({ name: 'OmsConnectionError', reason: 'certificate', certificate: true });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
