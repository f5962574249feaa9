// A script as an administrator writes it: plain Node (no tsx, no TypeScript), importing only the
// installed @oms/client package. Run by test/e2e/client.test.ts against the real gateway process;
// prints one JSON line of what it saw. Settings come from the environment; secrets never printed.
import { readFileSync } from 'node:fs';
import { connect, isOmsError, isConnectionError } from '@oms/client';

const { OMS_URL, OMS_USER, OMS_PASSWORD, OMS_FINGERPRINT, OMS_CACERT, OMS_TOKEN, OMS_TRANSPORT } = process.env;
const tls = OMS_CACERT ? { ca: readFileSync(OMS_CACERT, 'utf8') } : { fingerprint: OMS_FINGERPRINT };
const out = {};
const step = process.argv[2];

try {
  if (step === 'password') {
    const oms = connect({ url: OMS_URL, transport: OMS_TRANSPORT, ...tls });
    await oms.login(OMS_USER, OMS_PASSWORD);
    out.whoami = (await oms.userservices.whoami()).name;
    const { token } = await oms.userservices.create_api_token('cl-e2e');
    out.tokenShape = /^oms_/.test(token);
    // Handed to the next step through a file only the test reads, never printed.
    if (process.env.OMS_TOKEN_FILE) (await import('node:fs')).writeFileSync(process.env.OMS_TOKEN_FILE, token, { mode: 0o600 });
    await oms.logout();
    out.afterLogout = await oms.userservices.whoami().then(() => 'still in', (e) => (isOmsError(e, 'AuthError') ? 'AuthError' : String(e)));
  } else if (step === 'token') {
    const oms = connect({ url: OMS_URL, transport: OMS_TRANSPORT, token: OMS_TOKEN, ...tls });
    out.whoami = (await oms.userservices.whoami()).name;
    out.tokens = (await oms.userservices.list_api_tokens()).map((t) => t.name);
    oms.close();
  } else if (step === 'errors') {
    const oms = connect({ url: OMS_URL, transport: OMS_TRANSPORT, ...tls });
    const bad = await oms.login(OMS_USER, 'not the password').catch((e) => e);
    out.badLogin = { name: bad.name, omsName: bad.omsName, code: bad.code, message: bad.message, is: isOmsError(bad, 'AuthError') };
    await oms.login(OMS_USER, OMS_PASSWORD);
    const unknown = await oms.kvmservices.list_vms('cl-nowhere').catch((e) => e);
    out.unknownNode = { name: unknown.name, code: unknown.code, message: unknown.message, is: isOmsError(unknown, 'UnknownNodeError') };
    await oms.logout();
  } else if (step === 'events') {
    // Follows inventory events, stops after the first, misses one while away, and resumes from
    // the seq it had: the one made while away comes first, nothing is repeated.
    const oms = connect({ url: OMS_URL, transport: OMS_TRANSPORT, ...tls });
    await oms.login(OMS_USER, OMS_PASSWORD);
    const first = (async () => {
      for await (const ev of oms.events({ types: ['inventory'] })) if (ev.action === 'userservices.create_api_token') return ev;
    })();
    // The subscription is made before the change: a call on the same client goes after it.
    await new Promise((r) => setTimeout(r, 300));
    await oms.userservices.create_api_token('cl-ev-1');
    const a = await first;
    await oms.userservices.create_api_token('cl-ev-2');
    let b;
    for await (const ev of oms.events({ types: ['inventory'], since: a.seq })) {
      b = ev;
      break;
    }
    out.first = { type: a.type, action: a.action, name: a.data.params?.name };
    out.resumed = { name: b.data.params?.name, next: b.seq > a.seq };
    out.secretShown = JSON.stringify([a, b]).includes('oms_');
    for (const name of ['cl-ev-1', 'cl-ev-2']) await oms.userservices.revoke_api_token(name);
    await oms.logout();
  } else if (step === 'wrongcert') {
    const oms = connect({ url: OMS_URL, transport: OMS_TRANSPORT, ...tls });
    const e = await oms.login(OMS_USER, OMS_PASSWORD).then(() => null, (err) => err);
    out.refused = e && { name: e.name, reason: e.reason, certificate: isConnectionError(e, 'certificate'), message: e.message };
  }
} catch (e) {
  out.unexpected = `${e?.name}: ${e?.message}`;
}
console.log(JSON.stringify(out));
