/**
 * The gateway's log, read as an operator reads it (JSON lines on stderr of the real process): a
 * call's line carries the request id the client saw in X-Request-Id, and no secret — password,
 * session id, API token — appears anywhere in it, whatever the wire format carried them in.
 */
import { expect } from 'chai';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { fetchCa } from '../helpers/https.ts';

const PASSWORD = 'logs-admin-password-x7';

describe('request logging', function () {
  this.timeout(60_000);
  let gw: GatewayProcess;
  before(async () => {
    gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off', OMS_LOG_LEVEL: 'debug' });
  });
  after(() => gw?.stop());

  const linesWith = (reqId: string) =>
    gw.logs.flatMap((l) => {
      try {
        const o = JSON.parse(l) as Record<string, unknown>;
        return o.reqId === reqId ? [o] : [];
      } catch {
        return [];
      }
    });
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it('a call is logged with the X-Request-Id its answer carried, and no secret is logged', async () => {
    const post = (method: string, params: unknown, headers: Record<string, string> = {}) =>
      fetchCa(`${gw.url}/jsonrpc`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), headers: { 'content-type': 'application/json', ...headers } });
    const auth = await post('authservices.authenticate', ['admin', PASSWORD]);
    const sid = auth.json().result.result as string;
    const newPassword = 'the-new-secret-pw-42';
    const calls = [
      await post('userservices.whoami', [sid, 0]),
      await post('userservices.whoami', [0], { authorization: `Bearer ${sid}` }),
      await fetchCa(`${gw.url}/?${new URLSearchParams({ id: '1', service: 'userservices', method: 'add_user', params: JSON.stringify([sid, 0, 'logs-user', newPassword]) })}`),
      await post('userservices.change_password', [sid, 0, 'logs-user', `${newPassword}-2`]),
      await post('authservices.authenticate', ['admin', 'a-wrong-password-9']),
    ];
    const token = (await post('userservices.create_api_token', [sid, 0, 'logs-token'])).json().result.result;
    await post('userservices.whoami', [0], { authorization: `Bearer ${token.token ?? token}` });
    await settle();

    for (const res of [auth, ...calls]) {
      const id = res.headers['x-request-id'] as string;
      expect(id).to.match(/^[0-9a-f-]{36}$/);
      const mine = linesWith(id);
      expect(mine.map((o) => o.msg), `log lines of request ${id}`).to.include.oneOf(['call', 'call failed']);
    }
    // A request id is one request's: two calls never share one.
    expect(new Set([auth, ...calls].map((r) => r.headers['x-request-id'])).size).to.equal(calls.length + 1);

    const all = gw.logs.join('\n');
    const secrets = [PASSWORD, sid, newPassword, `${newPassword}-2`, 'a-wrong-password-9', String(token.token ?? token)];
    for (const s of secrets) expect(all, 'a secret in the log').to.not.include(s);
  });
});
