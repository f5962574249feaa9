/** The storage screen (`#/storage/<node>`): ISO images (upload, fetch, delete), disk images, LVM. */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText, oms } from '../lib/client.ts';
import { useConfirm, type Ask } from '../lib/confirm.tsx';
import { bytes, clock } from '../lib/format.ts';
import { listen } from '../lib/live.ts';
import { currentNode, NodePick } from '../lib/node-pick.tsx';
import { lostSession } from '../lib/session.ts';
import { storage, type Loaded } from './store.ts';
import { uploadIso, UploadError, type Upload } from './upload.ts';
import '../lib/ops.css';
import './storage.css';

type Run = (work: () => Promise<string | void>) => Promise<void>;

/** One action's outcome line, shared by a section's forms and buttons. */
function useOutcome(): [Run, JSX.Element, boolean] {
  const [busy, setBusy] = useState(false);
  const [ok, setOk] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const run: Run = async (work) => {
    setBusy(true);
    setOk(undefined);
    setError(undefined);
    try {
      const said = await work();
      if (said) setOk(said);
    } catch (e) {
      if (!lostSession(e)) setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return [
    run,
    <>
      <p role="status" class="ok-text">
        {ok ?? ''}
      </p>
      <p role="alert" class="error">
        {error ?? ''}
      </p>
    </>,
    busy,
  ];
}

function Listing<T>({ of, what, children }: { of: Loaded<T>; what: string; children: (rows: T) => ComponentChildren }) {
  if (of.error) return <p class="error">{of.error}</p>;
  if (!of.rows) return <p class="muted">Reading {what}…</p>;
  return <>{children(of.rows)}</>;
}

const stamp = (s: number) => `${new Date(s * 1000).toLocaleDateString()} ${clock(s * 1000)}`;

function UploadForm({ node }: { node: string }) {
  const file = useRef<HTMLInputElement>(null);
  const [name, setName] = useState('');
  const [progress, setProgress] = useState<{ image: string; sent: number; total: number } | undefined>();
  const [current, setCurrent] = useState<Upload | undefined>();
  const [ok, setOk] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();

  const start = (ev: Event) => {
    ev.preventDefault();
    const f = file.current?.files?.[0];
    if (!f) return setError('Choose an ISO file first.');
    const image = name.trim() || f.name;
    setOk(undefined);
    setError(undefined);
    setProgress({ image, sent: 0, total: f.size });
    const up = uploadIso(node, image, f, (sent, total) => setProgress({ image, sent, total }));
    setCurrent(up);
    up.done.then(
      (r) => {
        setOk(`Uploaded ${r.name} (${bytes(r.size)}) to ${node}.`);
        setProgress({ image, sent: f.size, total: f.size });
        setName('');
        if (file.current) file.current.value = '';
      },
      (e: unknown) => {
        const u = e instanceof UploadError ? e : new UploadError(errorText(e), undefined, 0);
        const where = `after ${bytes(u.sent)} of ${bytes(f.size)}`;
        // The route keeps nothing of an unfinished upload (the temp file goes), so the way on is to send it again.
        const resume =
          u.omsName === 'IsoImageExistsError'
            ? `Nothing was sent to ${node}: choose another name, or delete the image there first, then press Upload again.`
            : `Nothing of it was kept on ${node}; the name ${image} is free again. To resume, choose the file again and press Upload: it starts over from the beginning.`;
        if (u.cancelled) setError(`Upload of ${image} cancelled ${where}. ${resume}`);
        else setError(`Upload of ${image} failed ${where}: ${u.message}. ${resume}`);
      },
    ).finally(() => setCurrent(undefined));
  };

  const pct = progress && progress.total ? Math.floor((progress.sent / progress.total) * 100) : 0;
  return (
    <form class="upload" onSubmit={start} aria-label="Upload an ISO image">
      <h3>Upload an ISO image</h3>
      <div class="form-row">
        <label>
          ISO file
          <input
            ref={file}
            type="file"
            accept=".iso,application/x-iso9660-image"
            onChange={(e) => {
              const f = (e.target as HTMLInputElement).files?.[0];
              if (f && !name) setName(f.name);
            }}
          />
        </label>
        <label>
          Name on the node
          <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} placeholder="debian-12.iso" pattern="[^/]+\.iso" autoComplete="off" />
        </label>
        <button type="submit" class="primary" disabled={!!current}>
          Upload
        </button>
        {current ? (
          <button type="button" onClick={() => current.cancel()}>
            Cancel upload
          </button>
        ) : null}
      </div>
      {progress ? (
        <div class="progress">
          <progress max={progress.total || 1} value={progress.sent} aria-label={`Upload of ${progress.image}`} />
          <span>
            {bytes(progress.sent)} of {bytes(progress.total)} ({pct} %)
          </span>
        </div>
      ) : null}
      <p role="status" class="ok-text">
        {ok ?? ''}
      </p>
      <p role="alert" class="error">
        {error ?? ''}
      </p>
    </form>
  );
}

function FetchForm({ node }: { node: string }) {
  const [run, outcome, busy] = useOutcome();
  const submit = (ev: Event) => {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const f = new FormData(form);
    const url = String(f.get('url') ?? '').trim();
    const image = String(f.get('name') ?? '').trim() || decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() ?? '');
    void run(async () => {
      const r = (await oms.isoservices.fetch_image(node, url, image)) as { name: string; size: number };
      form.reset();
      return `${node} fetched ${r.name} (${bytes(r.size)}).`;
    });
  };
  return (
    <form onSubmit={submit} aria-label="Fetch an ISO image from a URL">
      <h3>Fetch from a URL</h3>
      <p class="muted">The node downloads it itself (http or https, no redirects).</p>
      <div class="form-row">
        <label>
          URL
          <input name="url" type="url" required placeholder="https://…/image.iso" autoComplete="off" />
        </label>
        <label>
          Name on the node
          <input name="name" placeholder="from the URL" autoComplete="off" />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Fetching…' : 'Fetch'}
        </button>
      </div>
      {outcome}
    </form>
  );
}

function Isos({ node, ask }: { node: string; ask: (a: Ask) => Promise<boolean> }) {
  const [run, outcome] = useOutcome();
  const del = (name: string) =>
    void run(async () => {
      if (!(await ask({ title: `Delete ${name}?`, body: <p>The ISO image is deleted from {node}. Guests using it as a CD-ROM keep a missing medium.</p>, confirm: `Delete ${name}` }))) return;
      await oms.isoservices.delete_image(node, name);
      return `Deleted ${name}.`;
    });
  return (
    <section class="panel" aria-labelledby="st-isos">
      <h2 id="st-isos">ISO images</h2>
      <Listing of={storage.isos.value} what="ISO images">
        {(rows) =>
          rows.length === 0 ? (
            <p class="muted">No ISO images on {node}.</p>
          ) : (
            <div class="scroll" tabIndex={0} role="region" aria-label="ISO images table">
              <table>
                <caption class="visually-hidden">ISO images on {node}</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col" class="num">
                      Size
                    </th>
                    <th scope="col">Modified</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr key={r.name}>
                      <th scope="row">{r.name}</th>
                      <td class="num">{bytes(r.size)}</td>
                      <td>{stamp(r.mtime)}</td>
                      <td>
                        <button type="button" class="small" onClick={() => del(r.name)} aria-label={`Delete ${r.name}`}>
                          Delete
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Listing>
      {outcome}
      <UploadForm node={node} />
      <FetchForm node={node} />
    </section>
  );
}

function Images({ node, ask }: { node: string; ask: (a: Ask) => Promise<boolean> }) {
  const [run, outcome, busy] = useOutcome();
  const create = (ev: Event) => {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const f = new FormData(form);
    const name = String(f.get('name') ?? '').trim();
    void run(async () => {
      await oms.kvmservices.create_file_based_image(node, name, Number(f.get('size')));
      form.reset();
      return `Created ${name}.`;
    });
  };
  const del = (name: string) =>
    void run(async () => {
      if (!(await ask({ title: `Delete ${name}?`, body: <p>The disk image and its data are deleted from {node}.</p>, confirm: `Delete ${name}` }))) return;
      await oms.kvmservices.delete_file_based_image(node, name);
      return `Deleted ${name}.`;
    });
  return (
    <section class="panel" aria-labelledby="st-images">
      <h2 id="st-images">Disk images</h2>
      <Listing of={storage.images.value} what="disk images">
        {(rows) =>
          rows.length === 0 ? (
            <p class="muted">No disk images on {node}.</p>
          ) : (
            <ul class="plain-list" aria-label={`Disk images on ${node}`}>
              {rows.map((n) => (
                <li key={n}>
                  <span>{n}</span>
                  <button type="button" class="small" onClick={() => del(n)} aria-label={`Delete ${n}`}>
                    Delete
                  </button>
                </li>
              ))}
            </ul>
          )
        }
      </Listing>
      <form class="form-row" onSubmit={create} aria-label="Create a disk image">
        <label>
          Image name
          <input name="name" required placeholder="disk1.qcow2" autoComplete="off" />
        </label>
        <label>
          Size (MB)
          <input name="size" type="number" min={1} required />
        </label>
        <button type="submit" disabled={busy}>
          Create image
        </button>
      </form>
      {outcome}
    </section>
  );
}

function Lvm({ node, ask }: { node: string; ask: (a: Ask) => Promise<boolean> }) {
  const [run, outcome, busy] = useOutcome();
  const vgs = storage.vgs.value;
  const create = (ev: Event) => {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const f = new FormData(form);
    const vg = String(f.get('vg'));
    const name = String(f.get('name') ?? '').trim();
    void run(async () => {
      await oms.lvmservices.create_lv(node, vg, name, Number(f.get('size')));
      form.reset();
      return `Created ${vg}/${name}.`;
    });
  };
  const del = (vg: string, name: string) =>
    void run(async () => {
      if (!(await ask({ title: `Remove ${vg}/${name}?`, body: <p>The logical volume and its data are removed from {node}.</p>, confirm: `Remove ${vg}/${name}` }))) return;
      await oms.lvmservices.remove_lv(node, vg, name);
      return `Removed ${vg}/${name}.`;
    });
  return (
    <section class="panel" aria-labelledby="st-lvm">
      <h2 id="st-lvm">LVM</h2>
      <h3>Volume groups</h3>
      <Listing of={vgs} what="volume groups">
        {(rows) =>
          rows.length === 0 ? (
            <p class="muted">No volume groups on {node}.</p>
          ) : (
            <table>
              <caption class="visually-hidden">Volume groups on {node}</caption>
              <thead>
                <tr>
                  <th scope="col">Group</th>
                  <th scope="col" class="num">
                    Size
                  </th>
                  <th scope="col" class="num">
                    Free
                  </th>
                  <th scope="col" class="num">
                    Volumes
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((g) => (
                  <tr key={g.name}>
                    <th scope="row">{g.name}</th>
                    <td class="num">{bytes(g.size)}</td>
                    <td class="num">{bytes(g.free)}</td>
                    <td class="num">{g.lv_count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Listing>
      <h3>Logical volumes</h3>
      <Listing of={storage.lvs.value} what="logical volumes">
        {(rows) =>
          rows.length === 0 ? (
            <p class="muted">No logical volumes on {node}.</p>
          ) : (
            <table>
              <caption class="visually-hidden">Logical volumes on {node}</caption>
              <thead>
                <tr>
                  <th scope="col">Volume</th>
                  <th scope="col">Group</th>
                  <th scope="col" class="num">
                    Size
                  </th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((l) => (
                  <tr key={`${l.vg}/${l.name}`}>
                    <th scope="row">{l.name}</th>
                    <td>{l.vg}</td>
                    <td class="num">{bytes(l.size)}</td>
                    <td>
                      <button type="button" class="small" onClick={() => del(l.vg, l.name)} aria-label={`Remove ${l.vg}/${l.name}`}>
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Listing>
      {vgs.rows?.length ? (
        <form class="form-row" onSubmit={create} aria-label="Create a logical volume">
          <label>
            Volume group
            <select name="vg">
              {vgs.rows.map((g) => (
                <option key={g.name}>{g.name}</option>
              ))}
            </select>
          </label>
          <label>
            Volume name
            <input name="name" required autoComplete="off" />
          </label>
          <label>
            Size (MB)
            <input name="size" type="number" min={1} required />
          </label>
          <button type="submit" disabled={busy}>
            Create volume
          </button>
        </form>
      ) : null}
      {outcome}
    </section>
  );
}

export function Storage() {
  const node = currentNode();
  useEffect(() => {
    const leave = listen(storage);
    return () => {
      leave();
      storage.clear();
    };
  }, []);
  useEffect(() => storage.show(node), [node]);
  const [ask, dialog] = useConfirm();
  return (
    <section aria-labelledby="storage-title">
      <h1 id="storage-title">Storage{node ? ` of ${node}` : ''}</h1>
      <NodePick screen="storage" node={node} />
      {node ? (
        <div key={node}>
          <Isos node={node} ask={ask} />
          <Images node={node} ask={ask} />
          <Lvm node={node} ask={ask} />
        </div>
      ) : null}
      {dialog}
    </section>
  );
}
