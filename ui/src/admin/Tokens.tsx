/**
 * The caller's API tokens. A new token's secret is shown once, in this component's state only
 * (never stored, never in the address): gone when the operator dismisses it or leaves the page.
 */
import { useRef, useState } from 'preact/hooks';
import { oms } from '../lib/client.ts';
import { OutcomeLine, useCall, when } from './call.tsx';
import { admin, type Token } from './store.ts';

function Secret({ name, token, done }: { name: string; token: string; done: () => void }) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<string | undefined>();
  const copy = async () => {
    field.current?.select();
    try {
      await navigator.clipboard.writeText(token);
      setCopied('Copied to the clipboard.');
    } catch {
      // No clipboard here (an insecure origin, a refused permission): the text is selected for Ctrl-C.
      setCopied('Selected: press Ctrl-C to copy.');
    }
  };
  return (
    <div class="adm-secret" role="group" aria-labelledby="adm-secret-title">
      <h3 id="adm-secret-title">Token {name} created</h3>
      <p>Copy it now: it is shown only this once. Scripts send it as <code>Authorization: Bearer</code>.</p>
      <label>
        Token {name}
        <input ref={field} readOnly value={token} class="mono" onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
      </label>
      <div class="adm-row">
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
        <button type="button" onClick={done}>
          Done
        </button>
      </div>
      <p role="status">{copied ?? ''}</p>
    </div>
  );
}

function TokenRow({ t }: { t: Token }) {
  const c = useCall();
  return (
    <tr>
      <th scope="row">{t.name}</th>
      <td>{when(t.created_at)}</td>
      <td>{when(t.last_used)}</td>
      <td class="adm-actions">
        <button type="button" aria-label={`Revoke token ${t.name}`} disabled={c.busy} onClick={() => void c.run(() => oms.userservices.revoke_api_token(t.name), `Token ${t.name} revoked.`).then(() => admin.relist())}>
          Revoke
        </button>
        <OutcomeLine outcome={c.outcome} />
      </td>
    </tr>
  );
}

export function Tokens() {
  const l = admin.tokens.value;
  const c = useCall();
  const [fresh, setFresh] = useState<{ name: string; token: string } | undefined>();
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const f = ev.currentTarget as HTMLFormElement;
    const name = new FormData(f).get('name') as string;
    let made: { name: string; token: string } | undefined;
    if (await c.run(async () => (made = await oms.userservices.create_api_token(name)), '')) {
      setFresh(made);
      c.clear();
      f.reset();
    }
    admin.relist();
  };
  return (
    <section aria-labelledby="adm-tokens">
      <h2 id="adm-tokens">API tokens</h2>
      <p class="summary">Your own tokens, for scripts and the command line: each acts as you. The gateway keeps only a digest of each.</p>
      {fresh ? <Secret {...fresh} done={() => setFresh(undefined)} /> : null}
      {l.error ? (
        <p role="alert" class="error">
          {l.error}
        </p>
      ) : !l.rows ? (
        <p>Loading tokens…</p>
      ) : l.rows.length === 0 ? (
        <p>You have no API tokens.</p>
      ) : (
        <div class="scroll" tabIndex={0} role="region" aria-label="API tokens table">
          <table>
            <thead>
              <tr>
                <th scope="col">Token</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {l.rows.map((t) => (
                <TokenRow key={t.name} t={t} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="adm-form" onSubmit={submit} aria-labelledby="adm-new-token">
        <h3 id="adm-new-token">New token</h3>
        <label>
          Token name
          <input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}" autoComplete="off" />
        </label>
        <button type="submit" disabled={c.busy}>
          Create token
        </button>
        <OutcomeLine outcome={c.outcome} />
      </form>
    </section>
  );
}
