/**
 * OMS_CONFIG through the real gateway process: the file's keys apply, the environment wins over
 * the file, and a file that cannot be used stops the process with ConfigurationReadError naming
 * it (no stack trace, nothing of its content).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startGatewayProcess } from '../helpers/process.ts';
import { fetchCa } from '../helpers/https.ts';

describe('configuration file (OMS_CONFIG)', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'oms-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("applies the file's keys, and the environment wins over the file", async () => {
    const file = join(dir, 'oms.json');
    // adminPassword and qooxdooTestService only from the file; maxBodyBytes in both.
    writeFileSync(file, JSON.stringify({ adminPassword: 'from-the-file-pw', qooxdooTestService: false, maxBodyBytes: 2000, tls: false }));
    const env: Record<string, string> = { OMS_CONFIG: file, OMS_MAX_BODY: '5000' };
    // The parent's environment must not decide what the file should.
    for (const k of ['OMS_ADMIN_PASSWORD', 'OMS_QOOXDOO_TEST', 'OMS_TLS']) env[k] = '';
    const gw = await startGatewayProcess(env);
    try {
      expect(gw.url, 'tls: false from the file').to.match(/^http:/);
      const post = (body: string) => fetchCa(`${gw.url}/jsonrpc`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      const auth = (await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'authservices.authenticate', params: ['admin', 'from-the-file-pw'] }))).json();
      expect(auth.result?.result, JSON.stringify(auth)).to.match(/^[0-9A-F]{40}$/);
      const echo = (await post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'qooxdoo.test.echo', params: ['x'] }))).json();
      expect(echo.error?.code, 'qooxdoo.test switched off by the file').to.equal(-32601);
      // 3000 bytes: over the file's 2000, under the environment's 5000.
      const pad = (n: number) => JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'rpc.discover', params: [], pad: 'x'.repeat(n) });
      expect((await post(pad(3000))).status).to.equal(200);
      expect((await post(pad(6000))).status).to.equal(413);
    } finally {
      await gw.stop();
    }
  });

  const bad: [string, () => string][] = [
    ['a missing file', () => join(dir, 'missing.json')],
    ['a file that cannot be read (a directory)', () => {
      const d = join(dir, 'is-a-dir.json');
      mkdirSync(d, { recursive: true });
      return d;
    }],
    ['a file that is not JSON', () => {
      const f = join(dir, 'broken.json');
      writeFileSync(f, '{"port": 8000, "adminPassword": "do-not-echo-me"');
      return f;
    }],
    ['a file with an unknown key', () => {
      const f = join(dir, 'unknown.json');
      writeFileSync(f, JSON.stringify({ prot: 8000, adminPassword: 'do-not-echo-me' }));
      return f;
    }],
  ];
  for (const [what, make] of bad) {
    it(`${what}: the gateway refuses to start with ConfigurationReadError naming the file`, () => {
      const file = make();
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'serve'], {
        cwd: repoRoot,
        env: { ...process.env, OMS_CONFIG: file, OMS_DATA_DIR: join(dir, 'data'), OMS_PORT: '0', OMS_BIND: '127.0.0.1' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/ConfigurationReadError/);
      expect(r.stderr).to.include(file);
      expect(r.stderr, 'no stack trace').to.not.match(/^\s+at /m);
      expect(r.stderr + r.stdout, "the file's content is not echoed").to.not.include('do-not-echo-me');
      expect(r.stdout).to.not.match(/listening/);
    });
  }
});
