/**
 * The remote `oms` command against the real gateway process (TLS on, its own self-signed
 * certificate), as people and scripts use it: login on a real terminal (pty) with the password
 * prompt unechoed and the certificate confirmed, login from a pipe, --json/--yaml through pipes,
 * usage errors before any call, a certificate that changed refused, a revoked token's "log in
 * again", logout revoking on the gateway, and the exit code of each. Guests and nodes are in the
 * lab test (test/integration/cli.test.ts).
 */
import { expect } from 'chai';
import yaml from 'js-yaml';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { fetchCa } from '../helpers/https.ts';
import { omsPiped, omsPty } from '../helpers/oms-cli.ts';
import { EXIT } from '../../src/cli/remote/exit-codes.ts';

const ADMIN = 'cli-remote-admin-pw';
const STACK = /\n\s+at .*:\d+/;

describe('the remote oms command line against the gateway process', function () {
  this.timeout(180_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'oms-clir-gw-'));
  const otherDir = mkdtempSync(join(tmpdir(), 'oms-clir-gw2-'));
  const home = mkdtempSync(join(tmpdir(), 'oms-clir-home-'));
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'cfg'), OMS_PROFILE: '' };
  const configFile = join(home, 'cfg', 'oms', 'config.json');
  let gw: GatewayProcess;
  let other: GatewayProcess | undefined;
  const oms = (args: string[], input?: string) => omsPiped(args, env, input);
  const profiles = () => JSON.parse(readFileSync(configFile, 'utf8'));
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
  const rpc = async (method: string, params: unknown, bearer?: string) =>
    (await fetchCa(`${gw.url}/jsonrpc`, { method: 'POST', ca: gw.ca, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) } })).json();
  const tokenNames = async () => {
    const sid = (await rpc('authservices.authenticate', { username: 'admin', password: ADMIN })).result.result;
    return ((await rpc('userservices.list_api_tokens', { cache_timeout: 0 }, sid)).result.result as { name: string }[]).map((t) => t.name);
  };

  before(async () => {
    gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: ADMIN, OMS_TLS: 'on', OMS_LOG_LEVEL: 'warn', OMS_CONSOLE_PAGE_PORT: 'off' }, { dataDir });
  });
  after(async () => {
    await gw?.stop();
    await other?.stop();
    for (const d of [dataDir, otherDir, home]) rmSync(d, { recursive: true, force: true });
  });

  it('login on a terminal: the certificate shown and confirmed, the password not echoed; only URL and token stored, 0600', async () => {
    const t = omsPty(['login', gw.url, '--user', 'admin'], env);
    await t.waitFor(/Trust it and pin it for this profile\? \[y\/N\] /);
    expect(t.screen()).to.include(`SHA-256: ${fingerprint(gw.ca!)}`);
    t.type('y\r');
    await t.waitFor(/password for admin: /);
    t.type(`${ADMIN}\r`);
    expect(await t.exited, t.screen()).to.equal(0);
    expect(t.screen()).to.match(/logged in to .* as admin \(profile default\)/);
    // The terminal echoed the "y" typed at the question, never the password.
    expect(t.screen()).to.not.include(ADMIN);
    const p = profiles();
    expect(p.profiles.default).to.include({ url: gw.url.replace(/\/$/, ''), user: 'admin', fingerprint: fingerprint(gw.ca!) });
    expect(p.profiles.default.token).to.be.a('string').with.length.above(20);
    expect(readFileSync(configFile, 'utf8')).to.not.include(ADMIN);
    expect(statSync(configFile).mode & 0o777).to.equal(0o600);
    expect(statSync(join(home, 'cfg', 'oms')).mode & 0o777).to.equal(0o700);
    // The token is a real one on the gateway, under the name stored for logout.
    expect(await tokenNames()).to.include(p.profiles.default.tokenName);
  });

  it('--json and --yaml through pipes parse back; a table for people', async () => {
    const j = await oms(['call', 'userservices.whoami', '--json']);
    expect(j.code, j.stderr).to.equal(0);
    expect(JSON.parse(j.stdout)).to.include({ name: 'admin' });
    const y = await oms(['call', 'userservices.whoami', '--yaml']);
    expect((yaml.load(y.stdout) as { name: string }).name).to.equal('admin');
    const ls = await oms(['node', 'ls', '--json']);
    expect(ls.code, ls.stderr).to.equal(0);
    expect(JSON.parse(ls.stdout)).to.deep.equal([]);
    const tasks = await oms(['task', 'ls']);
    expect(tasks.code, tasks.stderr).to.equal(0);
    expect(tasks.stdout.split('\n')[0]).to.match(/^ID +KIND +NODE +TARGET +USER +STATE/);
  });

  it('wrong argument counts and types: usage with the param list and exit 2, before any call (even with the gateway unreachable)', async () => {
    const good = profiles();
    const broken = structuredClone(good);
    broken.profiles.default.url = 'https://127.0.0.1:1';
    writeFileSync(configFile, JSON.stringify(broken), { mode: 0o600 });
    try {
      const few = await oms(['call', 'kvmservices.start_vm', 'omsnode1']);
      expect(few.code).to.equal(EXIT.usage);
      expect(few.stderr).to.include('usage: oms call kvmservices.start_vm <server_hostname> <kvm_vm_name>').and.match(/server_hostname +string/);
      const typ = await oms(['call', 'tasks.list_tasks', 'omsnode1', 'sleeping']);
      expect(typ.code).to.equal(EXIT.usage);
      expect(typ.stderr).to.match(/wrong argument type: state/);
      expect((await oms(['vm', 'start', 'bad/name', 'v'])).code).to.equal(EXIT.usage);
      // The same profile with a valid call: the gateway is tried, and is unreachable (a plain line, no stack).
      const down = await oms(['call', 'userservices.whoami']);
      expect(down.code).to.equal(EXIT.unreachable);
      expect(down.stderr).to.match(/^oms: gateway unreachable: .*ECONNREFUSED/).and.not.match(STACK);
      // Following events does not retry for ever when the gateway was never reached.
      const events = await oms(['events', '--json']);
      expect(events.code, events.stderr).to.equal(EXIT.unreachable);
      expect(events.stderr).to.match(/^oms: gateway unreachable: /m).and.not.match(STACK);
    } finally {
      writeFileSync(configFile, JSON.stringify(good), { mode: 0o600 });
    }
  });

  it('an unknown task or node: the not-found exit code', async () => {
    const nf = await oms(['task', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(nf.stderr).to.match(/UnknownTaskError/);
    expect(nf.code).to.equal(EXIT.notFound);
    const nn = await oms(['vm', 'start', 'cli-nonode', 'cli-vm']);
    expect(nn.stderr).to.match(/UnknownNodeError/);
    expect(nn.code).to.equal(EXIT.notFound);
  });

  it('login from a pipe: the password on stdin, the certificate from --cacert, or refused without a pin (exit 8, nothing stored)', async () => {
    const refused = await oms(['login', gw.url, '--user', 'admin', '--profile', 'piped'], `${ADMIN}\n`);
    expect(refused.code).to.equal(EXIT.certificate);
    expect(refused.stderr).to.include(fingerprint(gw.ca!)).and.match(/--fingerprint, --cacert FILE or --yes/);
    expect(profiles().profiles.piped).to.equal(undefined);
    const caFile = join(home, 'gw.crt');
    writeFileSync(caFile, gw.ca!);
    const ok = await oms(['login', gw.url, '--user', 'admin', '--profile', 'piped', '--cacert', caFile], `${ADMIN}\n`);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(profiles().profiles.piped.ca).to.equal(gw.ca);
    const bad = await oms(['login', gw.url, '--user', 'admin', '--profile', 'wrongpw', '--yes'], 'not-the-password\n');
    expect(bad.code).to.equal(EXIT.auth);
    expect(bad.stderr).to.match(/^oms: AuthError/m).and.not.match(STACK);
    // OMS_PROFILE picks a profile as --profile does.
    const me = await omsPiped(['call', 'userservices.whoami', '--json'], { ...env, OMS_PROFILE: 'piped' });
    expect(me.code, me.stderr).to.equal(0);
  });

  it('a gateway whose certificate is not the pinned one is refused: exit 8, a plain message naming the pinned fingerprint', async () => {
    other = await startGatewayProcess({ OMS_ADMIN_PASSWORD: ADMIN, OMS_TLS: 'on', OMS_LOG_LEVEL: 'warn', OMS_CONSOLE_PAGE_PORT: 'off' }, { dataDir: otherDir });
    expect(fingerprint(other.ca!)).to.not.equal(fingerprint(gw.ca!));
    const good = profiles();
    const moved = structuredClone(good);
    // The same profile (pinned to the first gateway) now reaches another one: as if its certificate were replaced.
    moved.profiles.default.url = other.url.replace(/\/$/, '');
    writeFileSync(configFile, JSON.stringify(moved), { mode: 0o600 });
    try {
      const r = await oms(['node', 'ls']);
      expect(r.code).to.equal(EXIT.certificate);
      expect(r.stderr).to.match(/^oms: certificate mismatch: .*is not the pinned/).and.include(fingerprint(gw.ca!)).and.not.match(STACK);
    } finally {
      writeFileSync(configFile, JSON.stringify(good), { mode: 0o600 });
    }
  });

  it('a revoked token: "log in again" with the auth exit code', async () => {
    const sid = (await rpc('authservices.authenticate', { username: 'admin', password: ADMIN })).result.result;
    const name = profiles().profiles.piped.tokenName;
    expect((await rpc('userservices.revoke_api_token', { cache_timeout: 0, name }, sid)).result).to.not.equal(undefined);
    const r = await omsPiped(['node', 'ls'], { ...env, OMS_PROFILE: 'piped' });
    expect(r.code).to.equal(EXIT.auth);
    expect(r.stderr).to.match(/log in again with `oms login URL --profile piped`/).and.not.match(STACK);
  });

  it('logout revokes the token on the gateway and removes the profile; the old token is refused', async () => {
    const { token, tokenName } = profiles().profiles.default;
    const r = await oms(['logout']);
    expect(r.code, r.stderr).to.equal(0);
    expect(profiles().profiles.default).to.equal(undefined);
    expect(await tokenNames()).to.not.include(tokenName);
    expect((await rpc('userservices.whoami', { cache_timeout: 0 }, token)).error.message).to.match(/Invalid or expired/);
    const after = await oms(['node', 'ls']);
    expect(after.code).to.equal(EXIT.auth);
    expect(after.stderr).to.match(/not logged in/);
  });

  it('login with an API token read from stdin stores it as given', async () => {
    const sid = (await rpc('authservices.authenticate', { username: 'admin', password: ADMIN })).result.result;
    const made = (await rpc('userservices.create_api_token', { cache_timeout: 0, name: 'cli-given' }, sid)).result.result;
    const r = await oms(['login', gw.url, '--token', '--profile', 'bytoken', '--fingerprint', fingerprint(gw.ca!)], `${made.token}\n`);
    expect(r.code, r.stderr).to.equal(0);
    expect(profiles().profiles.bytoken).to.include({ token: made.token, user: 'admin' });
    const wrong = await oms(['login', gw.url, '--token', '--profile', 'bytoken2', '--yes'], 'oms_not-a-token\n');
    expect(wrong.code).to.equal(EXIT.auth);
  });
});
