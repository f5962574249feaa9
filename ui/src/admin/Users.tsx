/** Users: create (with a first grant), set a password, delete. */
import { useState } from 'preact/hooks';
import { oms } from '../lib/client.ts';
import { OutcomeLine, useCall, when } from './call.tsx';
import { PathInput, RoleSelect } from './fields.tsx';
import { admin, type User } from './store.ts';

function CreateUser() {
  const c = useCall();
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const f = ev.currentTarget as HTMLFormElement;
    const v = Object.fromEntries(new FormData(f)) as Record<string, string>;
    const roles = v.path && v.role ? [{ path: v.path, role: v.role }] : [];
    const ok = await c.run(() => oms.userservices.add_user(v.username, v.password, roles), `User ${v.username} created${roles.length ? ` with ${v.role} on ${v.path}` : ''}.`);
    if (ok) f.reset();
    admin.relist();
  };
  return (
    <form class="adm-form" onSubmit={submit} aria-labelledby="adm-new-user">
      <h3 id="adm-new-user">New user</h3>
      <label>
        User name
        <input name="username" required pattern="[a-z_][a-z0-9_.\-]{0,31}" title="lower-case letters, digits, _ . -" autoComplete="off" />
      </label>
      <label>
        Password
        <input name="password" type="password" required autoComplete="new-password" />
      </label>
      <label>
        Grant on path <span class="hint">(optional)</span>
        <PathInput name="path" />
      </label>
      <label>
        Role
        <RoleSelect name="role" optional />
      </label>
      <button type="submit" disabled={c.busy}>
        {c.busy ? 'Creating…' : 'Create user'}
      </button>
      <OutcomeLine outcome={c.outcome} />
    </form>
  );
}

function UserRow({ u }: { u: User }) {
  const [mode, setMode] = useState<'idle' | 'password' | 'delete'>('idle');
  const c = useCall();
  const setPassword = async (ev: Event) => {
    ev.preventDefault();
    const pw = new FormData(ev.currentTarget as HTMLFormElement).get('password') as string;
    if (await c.run(() => oms.userservices.change_password(u.name, pw), `Password of ${u.name} set.`)) setMode('idle');
  };
  const remove = async () => {
    if (await c.run(() => oms.userservices.delete_user(u.name), `User ${u.name} deleted.`)) admin.relist();
    setMode('idle');
  };
  return (
    <tr>
      <th scope="row">{u.name}</th>
      <td>{u.groups.join(', ') || '—'}</td>
      <td>
        <ul class="adm-grants">
          {u.grants.map((g) => (
            <li key={`${g.path} ${g.role}`}>
              {g.role} on <code>{g.path}</code>
            </li>
          ))}
        </ul>
      </td>
      <td>{when(u.created_at)}</td>
      <td class="adm-actions">
        {mode === 'password' ? (
          <form onSubmit={setPassword} class="adm-inline" aria-label={`Set the password of ${u.name}`}>
            <label>
              New password for {u.name}
              <input name="password" type="password" required autoComplete="new-password" autoFocus />
            </label>
            <button type="submit" disabled={c.busy}>
              Set
            </button>
            <button type="button" onClick={() => setMode('idle')}>
              Cancel
            </button>
          </form>
        ) : mode === 'delete' ? (
          <span class="adm-inline" role="group" aria-label={`Confirm deleting ${u.name}`}>
            Delete {u.name} and end their sessions?
            <button type="button" class="danger" onClick={() => void remove()} disabled={c.busy}>
              Yes, delete {u.name}
            </button>
            <button type="button" onClick={() => setMode('idle')}>
              Keep
            </button>
          </span>
        ) : (
          <>
            <button type="button" onClick={() => (c.clear(), setMode('password'))} aria-label={`Set password of ${u.name}`}>
              Set password
            </button>
            <button type="button" onClick={() => (c.clear(), setMode('delete'))} aria-label={`Delete ${u.name}`}>
              Delete
            </button>
          </>
        )}
        <OutcomeLine outcome={c.outcome} />
      </td>
    </tr>
  );
}

export function Users() {
  const l = admin.users.value;
  return (
    <section aria-labelledby="adm-users">
      <h2 id="adm-users">Users</h2>
      {l.error ? (
        <p role="alert" class="error">
          {l.error}
        </p>
      ) : !l.rows ? (
        <p>Loading users…</p>
      ) : (
        <div class="scroll" tabIndex={0} role="region" aria-label="Users table">
          <table>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Groups</th>
                <th scope="col">Direct grants</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {l.rows.map((u) => (
                <UserRow key={u.name} u={u} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!l.error ? <CreateUser /> : null}
    </section>
  );
}
