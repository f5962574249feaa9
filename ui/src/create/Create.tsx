/**
 * Create: a KVM guest from an ISO, from a template or by network install, and a container from a
 * template. The node is chosen first, each with its free memory and CPU load (the fleet's live
 * rows) and, once chosen, its CPUs and memory bounds. The ISO and network-install forms are made
 * from the method's declaration (rpc.discover: declared.ts), with a hand-written choice where the
 * node has the answer (its ISOs, its libvirt networks) and a line of guidance per field; the
 * template forms show the template's own settings (parse_template_for_vm) to adjust. Errors are
 * shown at the field the gateway names: ParameterMismatch's per-param reasons, the per-setting
 * error dictionaries of update/deploy, and the few errors that name one field (an unknown ISO or
 * network, a name already taken).
 */
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { fleet } from '../fleet/store.ts';
import { errorText, isOmsError, oms } from '../lib/client.ts';
import { bytes, percent } from '../lib/format.ts';
import { href, route } from '../lib/router.ts';
import { lostSession } from '../lib/session.ts';
import { Field, fieldErrors } from '../guest/Field.tsx';
import { declaredFields } from './declared.ts';
import { valueOf, type DeclaredField } from './fields.ts';
import './create.css';

type Kind = 'iso' | 'template' | 'location' | 'container';

const KINDS: { id: Kind; label: string }[] = [
  { id: 'iso', label: 'KVM guest from an ISO' },
  { id: 'template', label: 'KVM guest from a template' },
  { id: 'location', label: 'KVM guest by network install' },
  { id: 'container', label: 'Container from a template' },
];

/** Labels and guidance for declared params an operator meets here (the declaration's own description otherwise). */
const GUIDE: Record<string, { label: string; hint?: string; value?: string }> = {
  kvm_vm_name: { label: 'Name', hint: 'Letters, digits, dot, dash, underscore.' },
  os_variant: { label: 'OS variant', hint: 'As virt-install knows it; "generic" always works.', value: 'generic' },
  os_type: { label: 'OS type', hint: 'linux, windows, …', value: 'linux' },
  cdrom_iso: { label: 'ISO image', hint: "From the node's ISO directory (Storage uploads more)." },
  file_based_disk_size: { label: 'Disk size (GB)', hint: 'A new qcow2 file; leave empty when using a block device.', value: '1' },
  block_device_based_disk_path: { label: 'Block device', hint: 'Instead of a file disk, e.g. /dev/vg0/lv1; leave empty for a file.' },
  memory_size: { label: 'Memory (MiB)', value: '512' },
  memory: { label: 'Memory (MiB)', value: '512' },
  noapic_on_off: { label: 'No APIC' },
  noacpi_on_off: { label: 'No ACPI' },
  network: { label: 'Network', hint: "The guest's NIC: a libvirt network of the node, none, or the node's default." },
  disks: { label: 'Disks (GB)', hint: 'Sizes separated by commas, one qcow2 disk each (1 to 8 GB).', value: '1' },
  networks: { label: 'Networks', hint: 'libvirt networks or host bridges, separated by commas; one NIC each.' },
  location: { label: 'Install tree', hint: 'http, https or ftp URL of the install tree, or its absolute path on the node (inside the ISO directory).' },
  cmdline: { label: 'Kernel command line' },
  console: { label: 'Installer output on the serial console' },
};

/** Errors that are about one field, whatever their message. */
const ERROR_FIELD: Record<string, string> = {
  UnknownIsoImageError: 'cdrom_iso',
  UnknownNetworkError: 'network',
  NetworkInactiveError: 'network',
  NotBlockDeviceError: 'block_device_based_disk_path',
  InstallTreeError: 'location',
  InstallTreePathError: 'location',
  UnknownTemplateError: 'template_name',
};

/** Per-field messages from a failed call. */
function errorsOf(e: unknown, nameField: string): Record<string, string> {
  const f = fieldErrors(e);
  if (isOmsError(e)) {
    const at = e.omsName === 'VmExistsError' ? nameField : ERROR_FIELD[e.omsName];
    if (at && !f[at]) f[at] = e.message;
  }
  return f;
}

const DEFAULT_NET = '(node default)';
const NO_NET = '(no network interface)';

/** The node choice: every fleet node with its free memory and CPU load, live from the fleet's rows. */
function NodeChoice({ node, onChange }: { node?: string; onChange: (n: string) => void }) {
  const names = fleet.names.value;
  const bounds = useSignal<{ max_vcpu?: string | number; max_memory?: string | number } | undefined>(undefined);
  useEffect(() => {
    bounds.value = undefined;
    if (node) void oms.kvmservices.parse_system_min_max(node).then((b) => (bounds.value = b as typeof bounds.value), () => undefined);
  }, [node]);
  return (
    <fieldset class="nodes">
      <legend>Node</legend>
      {!fleet.loaded.value ? <p>Loading the fleet…</p> : names.length === 0 ? <p>No nodes are enrolled.</p> : null}
      {names.map((n) => {
        const r = fleet.row(n)?.value;
        const free = r?.memTotalBytes !== undefined && r.memUsedBytes !== undefined ? `${bytes(r.memTotalBytes - r.memUsedBytes)} free of ${bytes(r.memTotalBytes)}` : 'memory unknown';
        return (
          <label key={n} class="node-option">
            <input type="radio" name="create-node" value={n} checked={node === n} onChange={() => onChange(n)} />
            <span class="node-name">{n}</span>
            <span class="node-free">
              {free}; CPU load {percent(r?.cpuPercent)}
              {r && r.status !== 'connected' ? `; ${r.status}` : ''}
            </span>
          </label>
        );
      })}
      {node && bounds.value?.max_vcpu ? (
        <p class="hint">
          {node}: {bounds.value.max_vcpu} CPUs; a guest may have up to {bounds.value.max_memory} MiB.
        </p>
      ) : null}
    </fieldset>
  );
}

/** What the node offers for a choice field: its ISOs, its libvirt networks. */
function useChoices(node: string | undefined, kind: Kind) {
  const isos = useSignal<string[]>([]);
  const nets = useSignal<string[]>([]);
  useEffect(() => {
    isos.value = [];
    nets.value = [];
    if (!node) return;
    if (kind === 'iso') void oms.isoservices.list_images(node).then((r) => (isos.value = ((r as unknown[]) ?? []).map((x) => (typeof x === 'string' ? x : String((x as { name?: string }).name)))), () => undefined);
    if (kind === 'iso' || kind === 'template') void oms.kvmservices.list_networks(node).then((r) => (nets.value = ((r as { name: string }[]) ?? []).map((x) => x.name)), () => undefined);
  }, [node, kind]);
  return { isos: isos.value, nets: nets.value };
}

interface Outcome {
  ok?: string;
  guest?: string;
  error?: string;
}

function OutcomeLine({ o, node }: { o: Outcome; node?: string }) {
  if (o.error)
    return (
      <p role="alert" class="error">
        {o.error}
      </p>
    );
  if (o.ok)
    return (
      <p role="status" class="created">
        {o.ok}{' '}
        {o.guest && node ? <a href={`#/guest/${encodeURIComponent(node)}/${encodeURIComponent(o.guest)}`}>Open {o.guest}</a> : null}
      </p>
    );
  return <p role="status" class="created" />;
}

/** A form made from a method's declaration (ISO, network install). */
function DeclaredForm({ method, node, kind }: { method: string; node?: string; kind: Kind }) {
  const decl = useSignal<{ description: string; fields: DeclaredField[] } | undefined>(undefined);
  const problem = useSignal<string | undefined>(undefined);
  const values = useSignal<Record<string, string | boolean>>({});
  const errors = useSignal<Record<string, string>>({});
  const outcome = useSignal<Outcome>({});
  const busy = useSignal(false);
  const { isos, nets } = useChoices(node, kind);
  useEffect(() => {
    decl.value = undefined;
    void declaredFields(method).then(
      (d) => {
        decl.value = d;
        values.value = Object.fromEntries(d.fields.filter((f) => GUIDE[f.name]?.value !== undefined).map((f) => [f.name, GUIDE[f.name].value!]));
      },
      (e) => void (lostSession(e) || (problem.value = errorText(e))),
    );
  }, [method]);
  const d = decl.value;
  if (problem.value) return <p class="error">{problem.value}</p>;
  if (!d) return <p>Loading the form…</p>;
  const set = (name: string, v: string | boolean) => (values.value = { ...values.value, [name]: v });
  const submit = async (ev: Event) => {
    ev.preventDefault();
    errors.value = {};
    outcome.value = {};
    if (!node) return void (outcome.value = { error: 'Choose a node first.' });
    const params: Record<string, unknown> = { server_hostname: node };
    for (const f of d.fields) {
      const raw = values.value[f.name];
      if (f.name === 'network') {
        if (raw === undefined || raw === DEFAULT_NET) continue;
        params.network = raw === NO_NET ? '' : raw;
        continue;
      }
      const v = valueOf(f, raw);
      if (v !== undefined) params[f.name] = v;
    }
    busy.value = true;
    try {
      // It waits for the install task; the tasks panel shows its progress meanwhile.
      await oms.call(method, params, { timeoutMs: 30 * 60_000 });
      const name = String(params.kvm_vm_name ?? '');
      outcome.value = { ok: `Created ${name} on ${node}.`, guest: name };
    } catch (e) {
      if (lostSession(e)) return;
      errors.value = errorsOf(e, 'kvm_vm_name');
      outcome.value = { error: errorText(e) };
    } finally {
      busy.value = false;
    }
  };
  return (
    <form onSubmit={submit} noValidate class="create-form">
      <p class="hint">{d.description.split('. ')[0]}.</p>
      {d.fields.map((f) => {
        const g = GUIDE[f.name];
        const id = `c-${f.name}`;
        const label = `${g?.label ?? f.name}${f.required ? '' : ' (optional)'}`;
        const hint = g?.hint ?? f.description;
        const err = errors.value[f.name];
        const v = values.value[f.name];
        if (f.kind === 'bool')
          return (
            <div class="field check" key={f.name}>
              <label>
                <input type="checkbox" checked={v === true} onChange={(e) => set(f.name, e.currentTarget.checked)} /> {label}
              </label>
              {err ? <span class="field-error">{err}</span> : null}
            </div>
          );
        const options = f.name === 'cdrom_iso' ? isos : f.name === 'network' ? [DEFAULT_NET, NO_NET, ...nets] : f.kind === 'choice' ? f.choices : undefined;
        if (options)
          return (
            <div class="field" key={f.name}>
              <label for={id}>{label}</label>
              <select id={id} value={typeof v === 'string' ? v : ''} aria-invalid={err ? true : undefined} aria-describedby={`${id}-hint${err ? ` ${id}-err` : ''}`} onChange={(e) => set(f.name, e.currentTarget.value)}>
                <option value="">{f.name === 'cdrom_iso' ? (node ? (isos.length ? 'Choose an ISO' : 'No ISO images on this node') : 'Choose a node first') : 'Choose'}</option>
                {options.map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
              <span id={`${id}-hint`} class="hint">
                {hint}
              </span>
              {err ? (
                <span id={`${id}-err`} class="field-error">
                  {err}
                </span>
              ) : null}
            </div>
          );
        return (
          <Field
            key={f.name}
            id={id}
            label={label}
            hint={hint}
            error={err}
            inputMode={f.kind === 'number' ? 'decimal' : undefined}
            value={typeof v === 'string' ? v : ''}
            onInput={(e) => set(f.name, e.currentTarget.value)}
          />
        );
      })}
      <button type="submit" class="primary" disabled={busy.value}>
        {busy.value ? 'Creating…' : 'Create'}
      </button>
      <OutcomeLine o={outcome.value} node={node} />
    </form>
  );
}

/** Settings of a template the operator may change; the rest (bounds, names) are shown as hints or not at all. */
const HIDDEN_SETTING = /^(min_|max_)|^(template_name|vm_name|kvm_vm_name|name|domain_type)$/;

/** A KVM or container template: choose it, name the guest, adjust the template's own settings. */
function TemplateForm({ node, service }: { node?: string; service: 'kvmservices' | 'ovzservices' }) {
  const templates = useSignal<string[]>([]);
  const template = useSignal('');
  const name = useSignal('');
  const settings = useSignal<Record<string, string> | undefined>(undefined);
  const changed = useSignal<Record<string, string>>({});
  const network = useSignal(DEFAULT_NET);
  const errors = useSignal<Record<string, string>>({});
  const outcome = useSignal<Outcome>({});
  const busy = useSignal(false);
  const { nets } = useChoices(node, service === 'kvmservices' ? 'template' : 'container');
  useEffect(() => {
    templates.value = [];
    settings.value = undefined;
    if (!node) return;
    const list = service === 'kvmservices' ? oms.kvmservices.list_templates(node) : oms.ovzservices.list_templates(node);
    void list.then((r) => (templates.value = ((r as unknown[]) ?? []).map((x) => (typeof x === 'string' ? x : String((x as { name?: string }).name)))), (e) => void (lostSession(e) || (outcome.value = { error: errorText(e) })));
  }, [node, service]);
  const nameField = service === 'kvmservices' ? 'kvm_name' : 'vm_name';
  const load = async () => {
    errors.value = {};
    outcome.value = {};
    if (!node || !template.value) return void (outcome.value = { error: 'Choose a node and a template first.' });
    try {
      const r = service === 'kvmservices' ? await oms.kvmservices.parse_template_for_vm(node, template.value, name.value || 'new') : await oms.ovzservices.parse_template_for_vm(node, template.value, name.value || 'new');
      settings.value = Object.fromEntries(Object.entries(r as Record<string, unknown>).filter(([, v]) => typeof v === 'string' || typeof v === 'number').map(([k, v]) => [k, String(v)]));
      changed.value = {};
    } catch (e) {
      if (!lostSession(e)) outcome.value = { error: errorText(e) };
    }
  };
  const submit = async (ev: Event) => {
    ev.preventDefault();
    errors.value = {};
    outcome.value = {};
    if (!node || !template.value) return void (outcome.value = { error: 'Choose a node and a template first.' });
    busy.value = true;
    try {
      let r: unknown;
      if (service === 'kvmservices') {
        const params: Record<string, unknown> = { server_hostname: node, template_name: template.value, kvm_name: name.value, template_settings_dictionary: changed.value };
        if (network.value !== DEFAULT_NET) params.network = network.value === NO_NET ? '' : network.value;
        r = await oms.call('kvmservices.deploy_template_for_vm', params, { timeoutMs: 30 * 60_000 });
      } else {
        // A container's deploy takes its whole settings dictionary: the template's, as adjusted.
        const all = Object.fromEntries(Object.entries({ ...settings.value, ...changed.value }).filter(([k]) => !HIDDEN_SETTING.test(k)));
        r = await oms.call('ovzservices.deploy_template_for_vm', { server_hostname: node, template_name: template.value, vm_name: name.value, settings_dictionary: all }, { timeoutMs: 30 * 60_000 });
      }
      const bad = (r && typeof r === 'object' ? r : {}) as Record<string, string>;
      if (Object.keys(bad).length) {
        errors.value = bad;
        outcome.value = { error: 'Nothing was created: some settings are not right (see the fields).' };
      } else outcome.value = { ok: `Created ${name.value} on ${node}.`, guest: service === 'kvmservices' ? name.value : undefined };
    } catch (e) {
      if (lostSession(e)) return;
      errors.value = errorsOf(e, nameField);
      outcome.value = { error: errorText(e) };
    } finally {
      busy.value = false;
    }
  };
  const s = settings.value;
  return (
    <form onSubmit={submit} noValidate class="create-form">
      <div class="field">
        <label for="t-template">Template</label>
        <select id="t-template" value={template.value} aria-invalid={errors.value.template_name ? true : undefined} onChange={(e) => ((template.value = e.currentTarget.value), (settings.value = undefined))}>
          <option value="">{node ? (templates.value.length ? 'Choose a template' : 'No templates on this node') : 'Choose a node first'}</option>
          {templates.value.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        {errors.value.template_name ? <span class="field-error">{errors.value.template_name}</span> : null}
      </div>
      <Field id="t-name" label={service === 'kvmservices' ? 'Guest name' : 'Container name'} value={name.value} error={errors.value[nameField]} onInput={(e) => (name.value = e.currentTarget.value)} />
      {service === 'kvmservices' ? (
        <div class="field">
          <label for="t-network">Network</label>
          <select id="t-network" value={network.value} onChange={(e) => (network.value = e.currentTarget.value)}>
            {[DEFAULT_NET, NO_NET, ...nets].map((o) => (
              <option key={o} value={o}>
                {o === DEFAULT_NET ? "(the template's NIC, else the node's default)" : o}
              </option>
            ))}
          </select>
          {errors.value.network ? <span class="field-error">{errors.value.network}</span> : null}
        </div>
      ) : null}
      <button type="button" onClick={() => void load()} disabled={!template.value}>
        Show the template's settings
      </button>
      {s ? (
        <fieldset>
          <legend>Settings of {template.value}</legend>
          {Object.keys(s)
            .filter((k) => !HIDDEN_SETTING.test(k))
            .map((k) => (
              <Field
                key={k}
                id={`t-set-${k}`}
                label={k}
                secret={k === 'passwd'}
                hint={s[`min_${k}`] !== undefined ? `${s[`min_${k}`]} to ${s[`max_${k}`]}` : undefined}
                error={errors.value[k]}
                value={changed.value[k] ?? s[k]}
                onInput={(e) => (changed.value = { ...changed.value, [k]: e.currentTarget.value })}
              />
            ))}
        </fieldset>
      ) : null}
      <button type="submit" class="primary" disabled={busy.value}>
        {busy.value ? 'Creating…' : 'Create'}
      </button>
      <OutcomeLine o={outcome.value} node={node} />
    </form>
  );
}

export function Create() {
  const q = route.value.query;
  const kind = (KINDS.some((k) => k.id === q.get('kind')) ? q.get('kind') : 'iso') as Kind;
  const node = q.get('node') ?? undefined;
  const go = (change: Record<string, string | undefined>) => (location.hash = href('create', { kind, node, ...change }));
  return (
    <section aria-labelledby="create-title" class="create">
      <h1 id="create-title">Create</h1>
      <fieldset class="kinds">
        <legend>What to create</legend>
        {KINDS.map((k) => (
          <label key={k.id}>
            <input type="radio" name="create-kind" value={k.id} checked={kind === k.id} onChange={() => go({ kind: k.id })} /> {k.label}
          </label>
        ))}
      </fieldset>
      <NodeChoice node={node} onChange={(n) => go({ node: n })} />
      {kind === 'iso' ? (
        <DeclaredForm key="iso" method="kvmservices.create_vm_from_iso" node={node} kind="iso" />
      ) : kind === 'location' ? (
        <DeclaredForm key="location" method="kvmservices.create_vm_from_location" node={node} kind="location" />
      ) : (
        <TemplateForm key={kind} node={node} service={kind === 'template' ? 'kvmservices' : 'ovzservices'} />
      )}
    </section>
  );
}
