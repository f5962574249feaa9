/** Inputs shared by the admin forms: permission paths (with the fleet's nodes offered), roles. */
import { fleet } from '../fleet/store.ts';
import { admin } from './store.ts';

/** Rendered once by the screen; every PathInput offers it. */
export function PathChoices() {
  return (
    <datalist id="adm-paths">
      <option value="/" />
      <option value="/access" />
      <option value="/nodes" />
      {fleet.names.value.map((n) => (
        <option key={n} value={`/nodes/${n}`} />
      ))}
    </datalist>
  );
}

export function PathInput({ name, required }: { name: string; required?: boolean }) {
  return <input name={name} list="adm-paths" placeholder="/nodes/NODE" required={required} pattern="/.*" title="/, /access, /nodes, /nodes/NODE or /nodes/NODE/vms/GUEST" autoComplete="off" />;
}

export function RoleSelect({ name, optional }: { name: string; optional?: boolean }) {
  const roles = admin.roles.value.rows ?? [];
  return (
    <select name={name} required={!optional}>
      {optional ? <option value="">(none)</option> : null}
      {roles.map((r) => (
        <option key={r.name} value={r.name} title={r.privileges.join(', ')}>
          {r.name}
        </option>
      ))}
    </select>
  );
}
