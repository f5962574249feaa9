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
import { ConsoleSection } from './Consoles.tsx';
import { DrivesSection, NicsSection } from './Devices.tsx';
import { Field, fieldErrors } from './Field.tsx';
import { Failed, useRunner, type Run } from './run.tsx';
import { StateSection } from './State.tsx';
import { GuestStore } from './store.ts';
import './guest.css';

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
