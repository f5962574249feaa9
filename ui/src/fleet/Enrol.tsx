/**
 * Enrolling a node, as the OMS flow has it: request (the gateway connects and records the host
 * key the node offers) -> compare that fingerprint with the node's own, printed on the node by
 * the command shown beside it -> sign (pins the key). Pending requests are listed with the same
 * comparison, to sign or reject.
 */
import { useEffect, useState } from 'preact/hooks';
import { errorText, oms } from '../lib/client.ts';
import { listen } from '../lib/live.ts';
import { clock } from '../lib/format.ts';
import { lostSession } from '../lib/session.ts';
import { useConfirm } from '../lib/confirm.tsx';
import { fingerprintCommand, requests, type Request } from './requests.ts';

function GatewayKey() {
  const [key, setKey] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    oms.funcservices.get_gateway_key().then(
      (k) => setKey(String(k)),
      (e) => lostSession(e) || setError(errorText(e)),
    );
  }, []);
  return (
    <div>
      <p>
        1. On the node, add the gateway's key to root's <code>~/.ssh/authorized_keys</code>:
      </p>
      {key ? <pre class="cmd" aria-label="The gateway's SSH public key">{key}</pre> : <p class="muted">{error ?? 'Reading the gateway key…'}</p>}
    </div>
  );
}

function RequestRow({ r, algorithm, busy, act }: { r: Request; algorithm?: string; busy: boolean; act: (what: 'sign' | 'reject', r: Request) => void }) {
  return (
    <li class="request" aria-label={`Request for ${r.name}`}>
      <p>
        <strong>{r.name}</strong> at {r.address}:{r.port}, requested by {r.requested_by} at {clock(r.requested_at * 1000)}
        {r.signed ? ' (a signed node whose key or address is to change)' : ''}
      </p>
      <dl class="fp">
        <dt>Fingerprint the node offered</dt>
        <dd>
          <code data-testid="offered-fingerprint">{r.fingerprint}</code>
        </dd>
        {r.pinned_fingerprint ? (
          <>
            <dt>Fingerprint pinned now</dt>
            <dd>
              <code>{r.pinned_fingerprint}</code>
            </dd>
          </>
        ) : null}
        <dt>Run on the node to print its own</dt>
        <dd>
          <pre class="cmd">{fingerprintCommand(algorithm)}</pre>
        </dd>
      </dl>
      <div class="actions start">
        <button type="button" class="primary" disabled={busy} onClick={() => act('sign', r)}>
          Fingerprints match: sign {r.name}
        </button>
        <button type="button" disabled={busy} onClick={() => act('reject', r)}>
          Reject request for {r.name}
        </button>
      </div>
    </li>
  );
}

export function Enrol() {
  useEffect(() => {
    const leave = listen(requests);
    return () => {
      leave();
      requests.clear();
    };
  }, []);
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  // The algorithm of the key each request offered, from add_request's answer (list_requests has none).
  const [algorithms, setAlgorithms] = useState<Record<string, string>>({});
  const [ask, dialog] = useConfirm();

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    try {
      await work();
    } catch (e) {
      if (!lostSession(e)) setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const request = (ev: Event) => {
    ev.preventDefault();
    const f = new FormData(ev.target as HTMLFormElement);
    const name = String(f.get('name') ?? '').trim();
    const address = String(f.get('address') ?? '').trim();
    const port = Number(f.get('port') || 22);
    void run(async () => {
      const r = (await oms.funcservices.add_request(name, address, port)) as { name: string; fingerprint: string; algorithm: string };
      setAlgorithms((a) => ({ ...a, [r.name]: r.algorithm }));
      (ev.target as HTMLFormElement).reset();
      await requests.relist();
      setNotice(`${r.name} offered the key ${r.fingerprint}. Compare it with the node's own before signing.`);
    });
  };

  const act = (what: 'sign' | 'reject', r: Request) =>
    void run(async () => {
      if (what === 'sign') {
        const unidentified = (await oms.funcservices.sign_requests([r.name])) as { name: string }[];
        setNotice(`${r.name} is signed${unidentified.length ? ' (no virsh or LXC found there: tagged physical)' : ''}.`);
      } else {
        if (!(await ask({ title: `Reject the request for ${r.name}?`, body: <p>{r.signed ? 'The node keeps its pinned key.' : 'The node is forgotten.'}</p>, confirm: `Reject ${r.name}` }))) return;
        await oms.funcservices.remove_requests([r.name]);
        setNotice(`The request for ${r.name} is rejected.`);
      }
      await requests.relist();
    });

  const rows = requests.rows.value;
  if (requests.denied.value)
    return (
      <section class="panel enrol" aria-labelledby="enrol-title">
        <h2 id="enrol-title">Enrol a node</h2>
        <p class="muted">Enrolling and removing nodes needs the node.admin privilege on /nodes.</p>
      </section>
    );
  return (
    <section class="panel enrol" aria-labelledby="enrol-title">
      <h2 id="enrol-title">Enrol a node</h2>
      <GatewayKey />
      <p>2. Request it: the gateway connects and records the host key the node offers.</p>
      <form class="form-row" onSubmit={request} aria-label="Request a node">
        <label>
          Node name
          <input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._\-]*" autoComplete="off" />
        </label>
        <label>
          Address
          <input name="address" required autoComplete="off" />
        </label>
        <label>
          SSH port
          <input name="port" type="number" min={1} max={65535} placeholder="22" />
        </label>
        <button type="submit" disabled={busy}>
          Request
        </button>
      </form>
      <p>3. Compare the fingerprint with the node's own, then sign.</p>
      <p role="status" class="ok-text">
        {notice ?? ''}
      </p>
      <p role="alert" class="error">
        {error ?? requests.error.value ?? ''}
      </p>
      <h3>Pending requests</h3>
      {rows.length === 0 ? (
        <p class="muted">No pending requests.</p>
      ) : (
        <ul class="requests">
          {rows.map((r) => (
            <RequestRow key={r.name} r={r} algorithm={algorithms[r.name]} busy={busy} act={act} />
          ))}
        </ul>
      )}
      {dialog}
    </section>
  );
}
