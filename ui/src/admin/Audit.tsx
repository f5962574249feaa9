/**
 * The audit log: one row per call that changed something. The filters (user, method, time range)
 * live in the address (`#/admin/audit?user=alice&method=add_user`), so a filtered view can be
 * bookmarked; the gateway filters (userservices.list_audit), so nothing is missed past a page.
 * Read again when userservices changes something (the store counts those events).
 */
import { useEffect, useState } from 'preact/hooks';
import { errorText, oms } from '../lib/client.ts';
import { route } from '../lib/router.ts';
import { lostSession } from '../lib/session.ts';
import { admin } from './store.ts';

interface Row {
  at: number;
  requestId: string;
  user: string | null;
  remote: string | null;
  service: string;
  method: string;
  target: string | null;
  outcome: string;
}

const LIMIT = 200;
const FIELDS = ['user', 'method', 'since', 'until'] as const;
/** A datetime-local value ("2026-11-29T15:30") as milliseconds, in this browser's time zone. */
const ms = (v: string | null) => (v ? new Date(v).getTime() : undefined);

export function Audit() {
  const q = route.value.query;
  const f = Object.fromEntries(FIELDS.map((k) => [k, q.get(k) ?? ''])) as Record<(typeof FIELDS)[number], string>;
  const [rows, setRows] = useState<Row[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const changes = admin.changes.value;

  useEffect(() => {
    let current = true;
    setError(undefined);
    oms.userservices
      .list_audit(LIMIT, f.user || undefined, f.method || undefined, ms(f.since), ms(f.until))
      .then((r) => current && setRows(r as Row[]))
      .catch((e) => current && !lostSession(e) && setError(errorText(e)));
    return () => void (current = false);
  }, [f.user, f.method, f.since, f.until, changes]);

  const submit = (ev: Event) => {
    ev.preventDefault();
    const d = new FormData(ev.currentTarget as HTMLFormElement);
    const s = new URLSearchParams();
    for (const k of FIELDS) {
      const v = String(d.get(k) ?? '').trim();
      if (v) s.set(k, v);
    }
    location.hash = `#/admin/audit${s.size ? `?${s}` : ''}`;
  };

  return (
    <section aria-labelledby="adm-audit">
      <h2 id="adm-audit">Audit log</h2>
      <form class="adm-filters" onSubmit={submit} aria-label="Audit log filters" key={q.toString()}>
        <label>
          User
          <input name="user" defaultValue={f.user} autoComplete="off" list="adm-users" />
        </label>
        <label>
          Method <span class="hint">(service.method or method)</span>
          <input name="method" defaultValue={f.method} placeholder="userservices.add_user" autoComplete="off" />
        </label>
        <label>
          From
          <input name="since" type="datetime-local" defaultValue={f.since} />
        </label>
        <label>
          To
          <input name="until" type="datetime-local" defaultValue={f.until} />
        </label>
        <div class="adm-row">
          <button type="submit">Filter</button>
          <a href="#/admin/audit">Clear filters</a>
        </div>
      </form>
      <datalist id="adm-users">
        {(admin.users.value.rows ?? []).map((u) => (
          <option key={u.name} value={u.name} />
        ))}
      </datalist>
      {error ? (
        <p role="alert" class="error">
          {error}
        </p>
      ) : !rows ? (
        <p>Loading the audit log…</p>
      ) : (
        <>
          <p class="summary" role="status">
            {rows.length === LIMIT ? `The newest ${LIMIT} entries` : `${rows.length} ${rows.length === 1 ? 'entry' : 'entries'}`}
            {FIELDS.some((k) => f[k]) ? ' matching the filters' : ''}.
          </p>
          <div class="scroll" tabIndex={0} role="region" aria-label="Audit log table">
            <table>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">User</th>
                  <th scope="col">Method</th>
                  <th scope="col">Target</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">From</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.requestId + r.at}>
                    <th scope="row">{new Date(r.at).toLocaleString()}</th>
                    <td>{r.user ?? '—'}</td>
                    <td>
                      {r.service}.{r.method}
                    </td>
                    <td>{r.target ?? '—'}</td>
                    <td class={r.outcome === 'ok' ? '' : 'status-bad'}>{r.outcome}</td>
                    <td>{r.remote ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
