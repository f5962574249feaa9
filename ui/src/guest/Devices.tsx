/** The guest's disks and network interfaces, with attach and detach. */
import { useSignal } from '@preact/signals';
import { oms } from '../lib/client.ts';
import { Field } from './Field.tsx';
import { Failed, type Run } from './run.tsx';
import type { GuestStore } from './store.ts';

export function DrivesSection({ g, run, busy }: { g: GuestStore; run: Run; busy?: string }) {
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

export function NicsSection({ g, run, busy }: { g: GuestStore; run: Run; busy?: string }) {
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
