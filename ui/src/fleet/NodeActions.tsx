/**
 * A fleet row's actions: edit the node's settings (funcservices.set_node_settings) and remove it
 * (remove_signed, after confirmation). The gateway has no call that reads a node's settings, so
 * the form changes only the fields filled in and then shows the node's settings as the gateway
 * answered them.
 */
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { errorText, oms } from '../lib/client.ts';
import { useConfirm } from '../lib/confirm.tsx';
import { lostSession } from '../lib/session.ts';

type Settings = Parameters<typeof oms.funcservices.set_node_settings>[1];

const TEXT_FIELDS: { key: keyof Settings; label: string; hint: string }[] = [
  { key: 'libvirtUri', label: 'libvirt URI', hint: 'qemu:///system' },
  { key: 'isoDir', label: 'ISO directory', hint: '/var/lib/oms-node/isos' },
  { key: 'imagesDir', label: 'Disk images directory', hint: '/var/lib/oms-node/images' },
  { key: 'templatesDir', label: 'Templates directory', hint: '/var/lib/oms-node/templates' },
  { key: 'containerTemplatesDir', label: 'Container templates directory', hint: '' },
  { key: 'networkConfigDir', label: 'Network config directory', hint: '/etc/network/interfaces.d' },
  { key: 'authorizedKeysFile', label: 'Authorized keys file', hint: '/root/.ssh/authorized_keys' },
  { key: 'defaultGuestNetwork', label: 'Default guest network', hint: 'libvirt network name' },
];

/** The form's fields as settings: empty ones are left out (unchanged). */
export function settingsOf(f: FormData): Settings {
  const s: Record<string, unknown> = {};
  for (const { key } of TEXT_FIELDS) {
    const v = String(f.get(key) ?? '').trim();
    if (v !== '') s[key] = v;
  }
  const virt = String(f.get('guestVirtType') ?? '');
  if (virt === 'kvm' || virt === 'qemu') s.guestVirtType = virt;
  const lvm = String(f.get('lvmDriverLoaded') ?? '');
  if (lvm === 'yes' || lvm === 'no') s.lvmDriverLoaded = lvm === 'yes';
  const limits: Record<string, number> = {};
  for (const k of ['memory', 'disk', 'load_per_cpu']) {
    const v = String(f.get(`limit_${k}`) ?? '').trim();
    if (v !== '') limits[k] = Number(v);
  }
  if (Object.keys(limits).length) s.healthLimits = limits;
  return s as Settings;
}

function SettingsDialog({ name, close }: { name: string; close: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState<Record<string, unknown> | undefined>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const back = document.activeElement as HTMLElement | null;
    ref.current!.showModal();
    return () => back?.focus?.();
  }, []);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const settings = settingsOf(new FormData(ev.target as HTMLFormElement));
    setBusy(true);
    setError(undefined);
    try {
      setSaved((await oms.funcservices.set_node_settings(name, settings)) as Record<string, unknown>);
    } catch (e) {
      if (!lostSession(e)) setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog
      ref={ref}
      class="form-dialog"
      aria-labelledby={`${id}-t`}
      onCancel={(e) => {
        e.preventDefault();
        close();
      }}
    >
      <h2 id={`${id}-t`}>Settings of {name}</h2>
      <p class="muted">Fill in what to change; empty fields keep their current value.</p>
      <form onSubmit={submit}>
        <div class="form-grid">
          {TEXT_FIELDS.map((f) => (
            <label key={f.key}>
              {f.label}
              <input name={f.key} placeholder={f.hint} autoComplete="off" />
            </label>
          ))}
          <label>
            Guest virtualization
            <select name="guestVirtType">
              <option value="">unchanged</option>
              <option value="kvm">kvm (hardware)</option>
              <option value="qemu">qemu (emulated)</option>
            </select>
          </label>
          <label>
            LVM with device-mapper
            <select name="lvmDriverLoaded">
              <option value="">unchanged</option>
              <option value="yes">yes</option>
              <option value="no">no (--driverloaded n)</option>
            </select>
          </label>
          <label>
            Memory limit (%)
            <input name="limit_memory" type="number" min={0} max={100} step="any" />
          </label>
          <label>
            Disk limit (%)
            <input name="limit_disk" type="number" min={0} max={100} step="any" />
          </label>
          <label>
            Load per CPU limit
            <input name="limit_load_per_cpu" type="number" min={0} max={1000} step="any" />
          </label>
        </div>
        <p role="alert" class="error">
          {error ?? ''}
        </p>
        {saved ? (
          <div role="status">
            <p class="ok-text">Saved. The settings of {name} now:</p>
            <pre class="cmd">{Object.keys(saved).length ? Object.entries(saved).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n') : 'all defaults'}</pre>
          </div>
        ) : null}
        <div class="actions">
          <button type="button" onClick={close}>
            Close
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Save settings
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function NodeActions({ name }: { name: string }) {
  const [ask, dialog] = useConfirm();
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const remove = async () => {
    const ok = await ask({
      title: `Remove ${name}?`,
      body: (
        <p>
          OMS stops managing <strong>{name}</strong>: the gateway's key is removed from the node's authorized keys and its pinned host key is forgotten. Guests and containers on it keep running.
        </p>
      ),
      confirm: `Remove ${name}`,
    });
    if (!ok) return;
    setBusy(true);
    setError(undefined);
    try {
      const r = (await oms.funcservices.remove_signed([name])) as { failed_removals?: string[] };
      if (r.failed_removals?.length) setError(`${name} is removed, but its authorized keys file could not be changed: remove the gateway's key there by hand.`);
    } catch (e) {
      if (!lostSession(e)) setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="row-actions">
      <button type="button" class="small" onClick={() => setEditing(true)} aria-label={`Settings of ${name}`}>
        Settings
      </button>
      <button type="button" class="small" disabled={busy} onClick={() => void remove()} aria-label={`Remove ${name}`}>
        Remove
      </button>
      {error ? (
        <span role="alert" class="error note">
          {error}
        </span>
      ) : null}
      {editing ? <SettingsDialog name={name} close={() => setEditing(false)} /> : null}
      {dialog}
    </div>
  );
}
