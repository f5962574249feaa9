/** Roles and grants: who holds which role on which path; grant and revoke. */
import { oms } from '../lib/client.ts';
import { OutcomeLine, useCall } from './call.tsx';
import { PathInput, RoleSelect } from './fields.tsx';
import { admin, type Grant } from './store.ts';

function GrantRow({ g }: { g: Grant }) {
  const c = useCall();
  const revoke = async () => {
    await c.run(() => oms.userservices.revoke(g.path, g.subject_type, g.subject, g.role), 'Revoked.');
    admin.relist();
  };
  const what = `${g.role} on ${g.path} for ${g.subject_type} ${g.subject}`;
  return (
    <tr>
      <th scope="row">
        <code>{g.path}</code>
      </th>
      <td>
        {g.subject_type} {g.subject}
      </td>
      <td>{g.role}</td>
      <td>{g.propagate ? 'yes' : 'no'}</td>
      <td class="adm-actions">
        <button type="button" onClick={() => void revoke()} disabled={c.busy} aria-label={`Revoke ${what}`}>
          Revoke
        </button>
        <OutcomeLine outcome={c.outcome} />
      </td>
    </tr>
  );
}

function AddGrant() {
  const c = useCall();
  const users = admin.users.value.rows ?? [];
  const groups = admin.groups.value.rows ?? [];
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const f = ev.currentTarget as HTMLFormElement;
    const d = new FormData(f);
    const v = Object.fromEntries(d) as Record<string, string>;
    const [type, subject] = v.subject.split(':') as ['user' | 'group', string];
    if (await c.run(() => oms.userservices.grant(v.path, type, subject, v.role, d.has('propagate')), `Granted ${v.role} on ${v.path} to ${type} ${subject}.`)) f.reset();
    admin.relist();
  };
  return (
    <form class="adm-form" onSubmit={submit} aria-labelledby="adm-new-grant">
      <h3 id="adm-new-grant">Grant a role</h3>
      <label>
        Path
        <PathInput name="path" required />
      </label>
      <label>
        To
        <select name="subject" required>
          {users.map((u) => (
            <option key={`u${u.name}`} value={`user:${u.name}`}>
              user {u.name}
            </option>
          ))}
          {groups.map((g) => (
            <option key={`g${g.name}`} value={`group:${g.name}`}>
              group {g.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Role
        <RoleSelect name="role" />
      </label>
      <label class="adm-check">
        <input type="checkbox" name="propagate" defaultChecked /> Also below this path
      </label>
      <button type="submit" disabled={c.busy}>
        Grant
      </button>
      <OutcomeLine outcome={c.outcome} />
    </form>
  );
}

function Roles() {
  const rows = admin.roles.value.rows ?? [];
  return (
    <details class="adm-roles">
      <summary>What each role allows</summary>
      <dl>
        {rows.map((r) => (
          <div key={r.name}>
            <dt>{r.name}</dt>
            <dd>{r.privileges.join(', ') || 'nothing'}</dd>
          </div>
        ))}
      </dl>
    </details>
  );
}

export function Grants() {
  const l = admin.grants.value;
  return (
    <section aria-labelledby="adm-grants">
      <h2 id="adm-grants">Roles and grants</h2>
      <p class="summary">A role granted on a path holds there and, when it propagates, below it; the most specific path with a grant decides.</p>
      <Roles />
      {l.error ? (
        <p role="alert" class="error">
          {l.error}
        </p>
      ) : !l.rows ? (
        <p>Loading grants…</p>
      ) : (
        <div class="scroll" tabIndex={0} role="region" aria-label="Grants table">
          <table>
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col">To</th>
                <th scope="col">Role</th>
                <th scope="col">Below too</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {l.rows.map((g) => (
                <GrantRow key={`${g.path} ${g.subject_type} ${g.subject} ${g.role}`} g={g} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!l.error ? <AddGrant /> : null}
    </section>
  );
}
