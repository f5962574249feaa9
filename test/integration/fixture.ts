/**
 * Integration fixture: the lab (already up when run by `npm test`; brought up here otherwise)
 * and the real gateway process using the lab's key. The lab's state is read afresh each time,
 * because tests change nodes (host keys are rotated) and later files must see the change.
 */
import { labStatus, labUp, type Lab, type LabNode } from '../lab/index.ts';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { fetchCa } from '../helpers/https.ts';

export const ADMIN_PASSWORD = 'integration-admin-pw';

export interface Env {
  lab: Lab;
  gw: GatewayProcess;
  sid: string;
  /** OMS query-string GET against the gateway; the parsed body. */
  call(service: string, method: string, params: unknown[]): Promise<any>;
  /** Same, failing the test on an error; the inner result. */
  ok(service: string, method: string, params: unknown[]): Promise<any>;
  stop(): Promise<void>;
}

export async function lab(): Promise<Lab> {
  return (await labStatus()) ?? labUp({ nodes: 3 });
}

/** The gateway process with TLS off unless env says OMS_TLS: 'on' (its CA is then gw.ca). */
export async function startEnv(env: Record<string, string> = {}, opts: { dataDir?: string } = {}): Promise<Env> {
  const l = await lab();
  if (!l.privateKey) throw new Error('the lab did not generate a key for the gateway');
  const gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: ADMIN_PASSWORD, OMS_TLS: 'off', OMS_SSH_KEY: l.privateKey, OMS_LOG_LEVEL: 'warn', ...env }, opts);
  // With OMS_TLS on, calls trust the gateway's own generated certificate.
  const call = async (service: string, method: string, params: unknown[]) => {
    const q = new URLSearchParams({ id: '1', service, method, params: JSON.stringify(params) });
    return (await fetchCa(`${gw.url}/?${q}`, { ca: gw.ca })).json();
  };
  const auth = await call('authservices', 'authenticate', ['admin', ADMIN_PASSWORD]);
  const sid = auth.result.result as string;
  const e: Env = {
    lab: l,
    gw,
    sid,
    call,
    async ok(service, method, params) {
      const r = await call(service, method, params);
      if (r.error) throw new Error(`${service}.${method} failed: ${JSON.stringify(r.error)}`);
      return r.result.result;
    },
    stop: () => gw.stop(),
  };
  return e;
}

/** Requests and signs lab nodes through the RPC API, as an administrator would. */
export async function enroll(e: Env, nodes: LabNode[]): Promise<void> {
  for (const n of nodes) await e.ok('funcservices', 'add_request', [e.sid, 0, n.name, n.address, n.port]);
  await e.ok('funcservices', 'sign_requests', [e.sid, 0, nodes.map((n) => n.name)]);
}
