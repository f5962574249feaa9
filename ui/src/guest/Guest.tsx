/**
 * A KVM guest's own view, `#/guest/<node>/<name>`: its state with the actions that apply to that
 * state (and only those), settings (vCPUs, memory) with the gateway's per-field errors, drives and
 * NICs with attach/detach, runtime facts, tags, the VNC and serial consoles embedded (the
 * gateway's own console pages with a single-use ticket), and the guest's task history. Live from
 * the events (store.ts).
 */
import { useSignal } from '@preact/signals';
import { useEffect, useMemo } from 'preact/hooks';
import { errorText, oms } from '../lib/client.ts';
import { bytes, clock } from '../lib/format.ts';
import { listen } from '../lib/live.ts';
import { href, route } from '../lib/router.ts';
import { lostSession } from '../lib/session.ts';
import { progressText, TaskLog } from '../tasks/TasksPanel.tsx';
import { GuestStore, type Part, type VmState } from './store.ts';
import './guest.css';

/** A button running one call, showing its error beside the view's other messages. */
type Run = (what: string, work: () => Promise<unknown>) => Promise<boolean>;

function useRunner(after: () => void): { run: Run; busy: string | undefined; problem: string | undefined; done: string | undefined } {
  const busy = useSignal<string | undefined>(undefined);
  const problem = useSignal<string | undefined>(undefined);
  const done = useSignal<string | undefined>(undefined);
  const run: Run = async (what, work) => {
    busy.value = what;
    problem.value = undefined;
    done.value = undefined;
    try {
      await work();
      done.value = `${what}: done.`;
      return true;
    } catch (e) {
      if (!lostSession(e)) problem.value = `${what} failed. ${errorText(e)}`;
      return false;
    } finally {
      busy.value = undefined;
      after();
    }
  };
  return { run, busy: busy.value, problem: problem.value, done: done.value };
}

function Failed<T>({ p }: { p: Part<T> }) {
  return p.error ? <p class="error">{p.error}</p> : null;
}

/** The actions each state allows. Transitions allow none but cancelling the call under way. */
const ACTIONS: Record<string, string[]> = {
  STOPPED: ['Start', 'Delete'],
  RUNNING: ['Shut down', 'Force stop', 'Pause'],
  PAUSED: ['Resume', 'Force stop'],
};

function StateSection({ g, run, busy }: { g: GuestStore; run: Run; busy?: string }) {
  const s = g.state.value;
  const confirming = useSignal(false);
  const state: VmState | null = s.value?.state ?? null;
  const acts = state ? (ACTIONS[state] ?? []) : [];
  const call: Record<string, () => Promise<unknown>> = {
    Start: () => oms.kvmservices.start_vm(g.node, g.name),
    'Shut down': () => oms.kvmservices.shutdown_vm(g.node, g.name),
    'Force stop': () => oms.kvmservices.stop_vm(g.node, g.name),
    Pause: () => oms.kvmservices.pause_vm(g.node, g.name),
    Resume: () => oms.kvmservices.resume_vm(g.node, g.name),
  };
  return (
    <section aria-labelledby="g-state" class="card">
      <h2 id="g-state">State</h2>
      <p class="vm-state" role="status" aria-label="Guest state">
        <span class={`dot state-${(state ?? 'unknown').toLowerCase()}`} aria-hidden="true" />
        {g.gone.value ? 'NOT DEFINED' : (state ?? (s.error ? 'unknown' : '…'))}
      </p>
      <Failed p={s} />
      <div class="actions">
        {acts.map((a) =>
          a === 'Delete' ? (
            <button key={a} type="button" class="danger" disabled={!!busy} onClick={() => (confirming.value = true)}>
              Delete…
            </button>
          ) : (
            <button key={a} type="button" disabled={!!busy} onClick={() => void run(a, call[a])}>
              {a}
            </button>
          ),
        )}
        {state && !ACTIONS[state] && s.value?.task_id ? (
          <button type="button" disabled={!!busy} onClick={() => void run('Cancel', () => oms.tasks.cancel_task(s.value!.task_id!))}>
            Cancel {state.toLowerCase()}
          </button>
        ) : null}
      </div>
      {confirming.value && state === 'STOPPED' ? (
        <div class="confirm" role="group" aria-labelledby="g-del-q">
          <p id="g-del-q">
            Delete guest <strong>{g.name}</strong> on {g.node}? Its definition is removed; its disk images stay.
          </p>
          <button
            type="button"
            class="danger"
            onClick={async () => {
              confirming.value = false;
              if (await run('Delete', () => oms.kvmservices.delete_vm(g.node, g.name))) g.gone.value = true;
            }}
          >
            Delete guest
          </button>
          <button type="button" onClick={() => (confirming.value = false)}>
            Keep it
          </button>
        </div>
      ) : null}
    </section>
  );
}

/** A labelled input whose error, when the gateway names this field, is tied to it (aria-describedby). */
export function Field(props: {
  id: string;
  label: string;
  error?: string;
  hint?: string;
  value: string;
  onInput: (e: { currentTarget: HTMLInputElement }) => void;
  inputMode?: 'numeric' | 'decimal';
  /** A password: typed unseen, never offered for autofill. */
  secret?: boolean;
}) {
  const { id, label, error, hint, secret, ...input } = props;
  const described = [hint ? `${id}-hint` : '', error ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {secret ? (
        <input id={id} type="password" autoComplete="new-password" aria-invalid={error ? true : undefined} aria-describedby={described} {...input} />
      ) : (
        <input id={id} type="text" aria-invalid={error ? true : undefined} aria-describedby={described} {...input} />
      )}
      {hint ? (
        <span id={`${id}-hint`} class="hint">
          {hint}
        </span>
      ) : null}
      {error ? (
        <span id={`${id}-err`} class="field-error">
          {error}
        </span>
      ) : null}
    </div>
  );
}

/** Per-field messages from ParameterMismatch's details ({params: [{param, reason}]}), when it has them. */
export function fieldErrors(e: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const params = ((e as { details?: { params?: { param: string; reason: string }[] } })?.details?.params ?? []) as { param: string; reason: string }[];
  for (const p of params) out[p.param.split('.').pop()!] = p.reason;
  return out;
}

function SettingsSection({ g }: { g: GuestStore }) {
  const p = g.settings.value;
  const vcpu = useSignal<string | undefined>(undefined);
  const memory = useSignal<string | undefined>(undefined);
  const errors = useSignal<Record<string, string>>({});
  const note = useSignal<string | undefined>(undefined);
  const saving = useSignal(false);
  const s = p.value;
  const save = async (ev: Event) => {
    ev.preventDefault();
    const dict: Record<string, string> = {};
    if (vcpu.value !== undefined) dict.vcpu = vcpu.value;
    if (memory.value !== undefined) dict.memory = memory.value;
    errors.value = {};
    note.value = undefined;
    if (!Object.keys(dict).length) return void (note.value = 'Nothing changed.');
    saving.value = true;
    try {
      const r = ((await oms.kvmservices.update_vm_settings(g.node, g.name, dict)) ?? {}) as Record<string, string>;
      errors.value = r;
      const applied = Object.keys(dict).filter((k) => !r[k]);
      note.value = Object.keys(r).length ? (applied.length ? `Saved ${applied.join(' and ')}; the rest was refused.` : 'Nothing was saved.') : 'Saved. A running guest takes them at its next boot.';
      for (const k of applied) (k === 'vcpu' ? vcpu : memory).value = undefined;
      void g.readSettings();
    } catch (e) {
      if (lostSession(e)) return;
      const f = fieldErrors(e);
      errors.value = Object.keys(f).length ? f : {};
      note.value = errorText(e);
    } finally {
      saving.value = false;
    }
  };
  return (
    <section aria-labelledby="g-settings" class="card">
      <h2 id="g-settings">Settings</h2>
      <Failed p={p} />
      {s ? (
        <form onSubmit={save} noValidate>
          <Field
            id="g-vcpu"
            label="vCPUs"
            inputMode="numeric"
            value={vcpu.value ?? s.vcpu}
            hint={s.max_vcpu ? `${s.min_vcpu ?? 1} to ${s.max_vcpu}` : undefined}
            error={errors.value.vcpu}
            onInput={(e) => (vcpu.value = e.currentTarget.value)}
          />
          <Field
            id="g-memory"
            label="Memory (MiB)"
            inputMode="numeric"
            value={memory.value ?? s.memory}
            hint={s.max_memory ? `${s.min_memory ?? 16} to ${s.max_memory} MiB` : undefined}
            error={errors.value.memory}
            onInput={(e) => (memory.value = e.currentTarget.value)}
          />
          <button type="submit" disabled={saving.value}>
            {saving.value ? 'Saving…' : 'Save settings'}
          </button>
          <p role="status" class="note-line">
            {note.value ?? ''}
          </p>
        </form>
      ) : !p.error ? (
        <p>Loading…</p>
      ) : null}
    </section>
  );
}

function DrivesSection({ g, run, busy }: { g: GuestStore; run: Run; busy?: string }) {
  const p = g.drives.value;
  const image = useSignal('');
  const dev = useSignal('vdb');
  return (
    <section aria-labelledby="g-drives" class="card">
      <h2 id="g-drives">Disks</h2>
      <Failed p={p} />
      {p.value ? (
        p.value.length ? (
          <div class="scroll" tabIndex={0} role="region" aria-label="Disks table">
            <table>
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Bus</th>
                  <th scope="col">Media</th>
                  <th scope="col">Source</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {p.value.map((d) => (
                  <tr key={d.target_dev}>
                    <th scope="row">{d.target_dev}</th>
                    <td>{d.device}</td>
                    <td>
                      {d.media}
                      {d.readonly ? ' (read-only)' : ''}
                    </td>
                    <td class="wrap">{d.source}</td>
                    <td>
                      <button
                        type="button"
                        disabled={!!busy}
                        aria-label={`Detach ${d.target_dev}`}
                        onClick={() => void run(`Detach ${d.target_dev}`, () => (d.dev_channel ? oms.kvmservices.detach_drive(g.node, g.name, d.device as 'ide' | 'virtio' | 'scsi', d.dev_channel) : oms.kvmservices.detach_disk(g.node, g.name, d.target_dev)))}
                      >
                        Detach
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p>No disks.</p>
        )
      ) : null}
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void run(`Attach ${image.value}`, () => oms.kvmservices.attach_disk(g.node, g.name, image.value, dev.value));
        }}
      >
        <Field id="g-disk-image" label="Disk image (images directory)" value={image.value} onInput={(e) => (image.value = e.currentTarget.value)} />
        <Field id="g-disk-dev" label="As device" value={dev.value} onInput={(e) => (dev.value = e.currentTarget.value)} />
        <button type="submit" disabled={!!busy || !image.value}>
          Attach disk
        </button>
      </form>
    </section>
  );
}

function NicsSection({ g, run, busy }: { g: GuestStore; run: Run; busy?: string }) {
  const p = g.nics.value;
  const kind = useSignal<'network' | 'bridge'>('network');
  const source = useSignal('');
  return (
    <section aria-labelledby="g-nics" class="card">
      <h2 id="g-nics">Network interfaces</h2>
      <Failed p={p} />
      {p.value ? (
        p.value.length ? (
          <ul class="plain">
            {p.value.map((n) => (
              <li key={n.mac}>
                <code>{n.mac}</code> {n.type} {n.source}{' '}
                <button type="button" disabled={!!busy} aria-label={`Detach NIC ${n.mac}`} onClick={() => void run(`Detach NIC ${n.mac}`, () => oms.kvmservices.detach_nic(g.node, g.name, n.mac))}>
                  Detach
                </button>
              </li>
            ))}
          </ul>
        ) : (
          <p>No network interfaces.</p>
        )
      ) : null}
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void run(`Attach NIC on ${source.value}`, () => oms.kvmservices.attach_nic(g.node, g.name, kind.value, source.value));
        }}
      >
        <div class="field">
          <label for="g-nic-type">Type</label>
          <select id="g-nic-type" value={kind.value} onChange={(e) => (kind.value = e.currentTarget.value as 'network' | 'bridge')}>
            <option value="network">libvirt network</option>
            <option value="bridge">host bridge</option>
          </select>
        </div>
        <Field id="g-nic-source" label="Network or bridge name" value={source.value} onInput={(e) => (source.value = e.currentTarget.value)} />
        <button type="submit" disabled={!!busy || !source.value}>
          Attach NIC
        </button>
      </form>
    </section>
  );
}

function RuntimeSection({ g }: { g: GuestStore }) {
  const p = g.runtime.value;
  const r = p.value;
  return (
    <section aria-labelledby="g-runtime" class="card">
      <h2 id="g-runtime">Runtime</h2>
      <Failed p={p} />
      {r ? (
        <dl class="facts">
          <dt>vCPUs</dt>
          <dd>{r.vcpus ?? '—'}</dd>
          <dt>Memory</dt>
          <dd>{r.memory ? `${bytes(r.memory.current_kib * 1024)} of ${bytes(r.memory.maximum_kib * 1024)}` : '—'}</dd>
          <dt>CPU time</dt>
          <dd>{r.cpu_time_ns ? `${(r.cpu_time_ns / 1e9).toFixed(1)} s` : '—'}</dd>
          <dt>Started</dt>
          <dd>{r.started_at ? new Date(r.started_at).toLocaleString() : 'not running'}</dd>
          <dt>Autostart</dt>
          <dd>{r.autostart ? 'yes' : 'no'}</dd>
          <dt>Addresses</dt>
          <dd>{r.ips.length ? r.ips.join(', ') : '—'}</dd>
        </dl>
      ) : null}
    </section>
  );
}

function TagsSection({ g, run, busy }: { g: GuestStore; run: Run; busy?: string }) {
  const p = g.tags.value;
  const tag = useSignal('');
  return (
    <section aria-labelledby="g-tags" class="card">
      <h2 id="g-tags">Tags</h2>
      <Failed p={p} />
      <ul class="tags" aria-label={`Tags of ${g.name}`}>
        {(p.value ?? []).map((t) => (
          <li key={t}>
            <span class="tag">{t}</span>
            <button type="button" class="link" disabled={!!busy} aria-label={`Remove tag ${t}`} onClick={() => void run(`Remove tag ${t}`, () => oms.tagservices.remove_vm_tag(g.node, g.name, t)).then(() => g.readTags())}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const t = tag.value.trim();
          void run(`Add tag ${t}`, () => oms.tagservices.add_vm_tag(g.node, g.name, t)).then((ok) => {
            if (ok) tag.value = '';
            void g.readTags();
          });
        }}
      >
        <Field id="g-tag" label="New tag" value={tag.value} onInput={(e) => (tag.value = e.currentTarget.value)} />
        <button type="submit" disabled={!!busy || !tag.value.trim()}>
          Add tag
        </button>
      </form>
    </section>
  );
}

/** A console page of the gateway (vnc.html, terminal.html) in a frame, opened with a single-use ticket. */
function ConsoleSection({ g }: { g: GuestStore }) {
  const vnc = useSignal<string | undefined>(undefined);
  const serial = useSignal<string | undefined>(undefined);
  const problem = useSignal<string | undefined>(undefined);
  const running = g.state.value.value?.state === 'RUNNING' || g.state.value.value?.state === 'PAUSED';
  const open = async (kind: 'vnc' | 'serial') => {
    problem.value = undefined;
    try {
      if (kind === 'vnc') {
        const port = Number(await oms.kvmservices.set_up_vnc_connection(g.node, g.name));
        vnc.value = ((await oms.kvmservices.get_vnc_ticket(port)) as { url: string }).url;
      } else {
        serial.value = ((await oms.kvmservices.open_console(g.node, g.name)) as { url: string }).url;
      }
    } catch (e) {
      if (!lostSession(e)) problem.value = errorText(e);
    }
  };
  return (
    <section aria-labelledby="g-console" class="card wide">
      <h2 id="g-console">Consoles</h2>
      <div class="actions">
        {vnc.value ? (
          <button type="button" onClick={() => (vnc.value = undefined)}>
            Close VNC console
          </button>
        ) : (
          <button type="button" disabled={!running} onClick={() => void open('vnc')}>
            Open VNC console
          </button>
        )}
        {serial.value ? (
          <button type="button" onClick={() => (serial.value = undefined)}>
            Close serial console
          </button>
        ) : (
          <button type="button" disabled={!running} onClick={() => void open('serial')}>
            Open serial console
          </button>
        )}
      </div>
      {!running ? <p class="hint">The consoles open while the guest runs.</p> : null}
      {problem.value ? (
        <p role="alert" class="error">
          {problem.value}
        </p>
      ) : null}
      {vnc.value ? <iframe class="console-frame" src={vnc.value} title={`VNC console of ${g.name}`} /> : null}
      {serial.value ? <iframe class="console-frame serial" src={serial.value} title={`Serial console of ${g.name}`} /> : null}
    </section>
  );
}

function HistorySection({ g }: { g: GuestStore }) {
  const p = g.history.value;
  const open = useSignal<string | undefined>(undefined);
  return (
    <section aria-labelledby="g-history" class="card wide">
      <h2 id="g-history">Task history</h2>
      <Failed p={p} />
      {p.value ? (
        p.value.length ? (
          <ul class="plain history">
            {p.value.map((t) => (
              <li key={t.id}>
                <span>{clock(t.created_at)}</span> <strong>{t.kind}</strong> <span class={`task-${t.state}`}>{t.state}</span> {t.progress ? <span>{progressText(t.progress)}</span> : null}
                {t.error ? (
                  <span class="error">
                    {' '}
                    {t.error.name}: {t.error.message}
                  </span>
                ) : null}{' '}
                <button type="button" class="link" aria-expanded={open.value === t.id} onClick={() => (open.value = open.value === t.id ? undefined : t.id)}>
                  {open.value === t.id ? 'Hide log' : 'Log'}
                </button>
                {open.value === t.id ? <TaskLog id={t.id} /> : null}
              </li>
            ))}
          </ul>
        ) : (
          <p>No tasks for this guest yet.</p>
        )
      ) : null}
    </section>
  );
}

export function Guest() {
  const [node, name] = route.value.rest;
  const g = useMemo(() => (node && name ? new GuestStore(node, name) : undefined), [node, name]);
  useEffect(() => {
    if (!g) return;
    const leave = listen(g);
    return () => {
      leave();
      g.close();
    };
  }, [g]);
  const { run, busy, problem, done } = useRunner(() => {
    if (!g) return;
    void g.readState();
    void g.readDrives();
    void g.readNics();
  });
  if (!g)
    return (
      <section>
        <h1>Guest</h1>
        <p>
          No guest named in the address (<code>#/guest/node/name</code>). <a href={href('fleet')}>Go to the fleet</a>.
        </p>
      </section>
    );
  return (
    <section aria-labelledby="guest-title" class="guest">
      <h1 id="guest-title">
        {g.name} <span class="sub-title">on {g.node}</span>
      </h1>
      <p role="status" class="note-line">
        {busy ? `${busy}…` : (done ?? '')}
      </p>
      {problem ? (
        <p role="alert" class="error">
          {problem}
        </p>
      ) : null}
      {g.gone.value ? <p class="notice">This guest is not defined on {g.node} (deleted or renamed).</p> : null}
      <div class="guest-grid">
        <StateSection g={g} run={run} busy={busy} />
        <SettingsSection g={g} />
        <RuntimeSection g={g} />
        <TagsSection g={g} run={run} busy={busy} />
        <DrivesSection g={g} run={run} busy={busy} />
        <NicsSection g={g} run={run} busy={busy} />
        <ConsoleSection g={g} />
        <HistorySection g={g} />
      </div>
    </section>
  );
}
