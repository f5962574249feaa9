/** Groups: create, set members, delete. Their grants are on the Grants tab. */
import { useState } from 'preact/hooks';
import { oms } from '../lib/client.ts';
import { OutcomeLine, useCall } from './call.tsx';
import { admin, type Group } from './store.ts';

const names = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

function GroupRow({ g }: { g: Group }) {
  const [mode, setMode] = useState<'idle' | 'members' | 'delete'>('idle');
  const c = useCall();
  const setMembers = async (ev: Event) => {
    ev.preventDefault();
    const m = names(new FormData(ev.currentTarget as HTMLFormElement).get('members') as string);
    if (await c.run(() => oms.userservices.set_group_members(g.name, m), `Members of ${g.name} set.`)) setMode('idle');
    admin.relist();
  };
  const remove = async () => {
    await c.run(() => oms.userservices.delete_group(g.name), `Group ${g.name} deleted.`);
    setMode('idle');
    admin.relist();
  };
  return (
    <tr>
      <th scope="row">{g.name}</th>
      <td class="wrap">{g.comment || '—'}</td>
      <td class="wrap">
        {mode === 'members' ? (
          <form onSubmit={setMembers} class="adm-inline">
            <label>
              Members of {g.name} <span class="hint">(user names, comma separated)</span>
              <input name="members" defaultValue={g.members.join(', ')} autoFocus />
            </label>
            <button type="submit" disabled={c.busy}>
              Save
            </button>
            <button type="button" onClick={() => setMode('idle')}>
              Cancel
            </button>
          </form>
        ) : (
          g.members.join(', ') || '—'
        )}
      </td>
      <td class="adm-actions">
        {mode === 'delete' ? (
          <span class="adm-inline" role="group" aria-label={`Confirm deleting group ${g.name}`}>
            Delete group {g.name} and its grants?
            <button type="button" class="danger" onClick={() => void remove()} disabled={c.busy}>
              Yes, delete {g.name}
            </button>
            <button type="button" onClick={() => setMode('idle')}>
              Keep
            </button>
          </span>
        ) : mode === 'idle' ? (
          <>
            <button type="button" onClick={() => (c.clear(), setMode('members'))} aria-label={`Edit members of ${g.name}`}>
              Members
            </button>
            <button type="button" onClick={() => (c.clear(), setMode('delete'))} aria-label={`Delete group ${g.name}`}>
              Delete
            </button>
          </>
        ) : null}
        <OutcomeLine outcome={c.outcome} />
      </td>
    </tr>
  );
}

function CreateGroup() {
  const c = useCall();
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const f = ev.currentTarget as HTMLFormElement;
    const v = Object.fromEntries(new FormData(f)) as Record<string, string>;
    if (await c.run(() => oms.userservices.add_group(v.group, v.comment || undefined), `Group ${v.group} created.`)) f.reset();
    admin.relist();
  };
  return (
    <form class="adm-form" onSubmit={submit} aria-labelledby="adm-new-group">
      <h3 id="adm-new-group">New group</h3>
      <label>
        Group name
        <input name="group" required pattern="[A-Za-z][A-Za-z0-9_.\-]{0,31}" autoComplete="off" />
      </label>
      <label>
        Comment <span class="hint">(optional)</span>
        <input name="comment" maxLength={200} />
      </label>
      <button type="submit" disabled={c.busy}>
        Create group
      </button>
      <OutcomeLine outcome={c.outcome} />
    </form>
  );
}

export function Groups() {
  const l = admin.groups.value;
  return (
    <section aria-labelledby="adm-groups">
      <h2 id="adm-groups">Groups</h2>
      {l.error ? (
        <p role="alert" class="error">
          {l.error}
        </p>
      ) : !l.rows ? (
        <p>Loading groups…</p>
      ) : l.rows.length === 0 ? (
        <p>No groups yet.</p>
      ) : (
        <div class="scroll" tabIndex={0} role="region" aria-label="Groups table">
          <table>
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Comment</th>
                <th scope="col">Members</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {l.rows.map((g) => (
                <GroupRow key={g.name} g={g} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!l.error ? <CreateGroup /> : null}
    </section>
  );
}
