/** The fleet screen: every node, its state and figures, live. */
import type { Signal } from '@preact/signals';
import { bytes, clock, percent } from '../lib/format.ts';
import { href, route } from '../lib/router.ts';
import { nodeHref } from '../lib/node-pick.tsx';
import { Enrol } from './Enrol.tsx';
import { NodeActions } from './NodeActions.tsx';
import { fleet, type Count, type NodeRow } from './store.ts';
import '../lib/ops.css';
import './fleet-ops.css';

const count = (c: Count | null | undefined) => (c === undefined ? '…' : c === null ? 'n/a' : `${c.total} (${c.running} running)`);

function Status({ row }: { row: NodeRow }) {
  const kind = row.status === 'connected' ? 'ok' : row.status === 'checking' ? 'wait' : 'bad';
  return (
    <span class={`status status-${kind}`} title={row.note}>
      <span class="status-word">
        <span class="dot" aria-hidden="true" />
        {row.status}
      </span>
      {row.note && row.status !== 'connected' ? <span class="note">{row.note}</span> : null}
    </span>
  );
}

function Row({ row }: { row: Signal<NodeRow> }) {
  const r = row.value;
  const mem = r.memTotalBytes ? `${bytes(r.memUsedBytes)} of ${bytes(r.memTotalBytes)}` : '—';
  const disk = r.diskTotalBytes ? `${bytes(r.diskUsedBytes)} of ${bytes(r.diskTotalBytes)}` : '—';
  return (
    <tr data-status={r.status}>
      <th scope="row">
        <a class="node-name" href={nodeHref('node', r.name)}>
          {r.name}
        </a>
        {r.address ? <span class="sub">{r.address}</span> : null}
      </th>
      <td>
        <Status row={r} />
      </td>
      <td title={r.cpuModel}>{percent(r.cpuPercent)}</td>
      <td>{mem}</td>
      <td>{disk}</td>
      <td>{count(r.guests)}</td>
      <td>{count(r.containers)}</td>
      <td>
        <ul class="tags" aria-label={`Tags of ${r.name}`}>
          {r.tags.map((t) => (
            <li key={t}>
              <a href={href('fleet', { tag: t })}>{t}</a>
            </li>
          ))}
        </ul>
      </td>
      <td>{r.readAt ? clock(r.readAt) : '—'}</td>
      <td>
        <NodeActions name={r.name} />
      </td>
    </tr>
  );
}

export function Fleet() {
  const tag = route.value.query.get('tag') ?? undefined;
  const names = fleet.names.value;
  const rows = names.map((n) => fleet.row(n)!).filter((r) => r && (!tag || r.value.tags.includes(tag)));
  const by = (s: string) => rows.filter((r) => r.value.status === s).length;
  return (
    <section aria-labelledby="fleet-title">
      <h1 id="fleet-title">Fleet</h1>
      {tag ? (
        <p>
          Nodes tagged <strong>{tag}</strong>. <a href={href('fleet')}>Show all nodes</a>
        </p>
      ) : null}
      {fleet.error.value ? (
        <p role="alert" class="error">
          {fleet.error.value}
        </p>
      ) : null}
      {!fleet.loaded.value ? (
        <p>Loading the fleet…</p>
      ) : (
        <>
          <p class="summary">
            {rows.length} {rows.length === 1 ? 'node' : 'nodes'}: {by('connected')} connected, {by('unreachable')} unreachable, {by('host-key mismatch')} host-key mismatch
          </p>
          <div class="scroll" tabIndex={0} role="region" aria-label="Nodes table">
            <table>
              <caption class="visually-hidden">Nodes of the fleet</caption>
              <thead>
                <tr>
                  <th scope="col">Node</th>
                  <th scope="col">Status</th>
                  <th scope="col">CPU load</th>
                  <th scope="col">Memory</th>
                  <th scope="col">Disk</th>
                  <th scope="col">Guests</th>
                  <th scope="col">Containers</th>
                  <th scope="col">Tags</th>
                  <th scope="col">Figures read</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <Row key={r.peek().name} row={r} />
                ))}
              </tbody>
            </table>
          </div>
          {rows.length === 0 ? <p>No nodes{tag ? ' with this tag' : ''}. Enrol one below.</p> : null}
        </>
      )}
      <Enrol />
    </section>
  );
}
