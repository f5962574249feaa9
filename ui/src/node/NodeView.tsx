/** The node view (`#/node/<name>`): its stats as charts from the history, live, and its SSH terminal. */
import { useEffect } from 'preact/hooks';
import { fleet } from '../fleet/store.ts';
import { bytes, clock, percent } from '../lib/format.ts';
import { listen } from '../lib/live.ts';
import { currentNode, nodeHref, NodePick } from '../lib/node-pick.tsx';
import { route } from '../lib/router.ts';
import { Chart, type Line } from './Chart.tsx';
import { history, WINDOWS, type Metric } from './history.ts';
import { Terminal } from './Terminal.tsx';
import '../lib/ops.css';
import './node.css';

const rate = (v: number) => `${bytes(v)}/s`;

function Charts({ node }: { node: string }) {
  const s = history.series.value;
  const win = history.window.value;
  const now = Math.floor((history.readAt.value ?? Date.now()) / 1000);
  const line = (m: Metric, label: string, colour: string): Line => ({ label, colour, points: s[m]?.points ?? [] });
  const range = { from: now - win.seconds, to: now };
  return (
    <section class="panel" aria-labelledby="node-stats">
      <h2 id="node-stats">Statistics</h2>
      <div class="form-row">
        <label>
          Period
          <select
            value={win.id}
            onChange={(e) => {
              location.hash = `${nodeHref('node', node)}?window=${(e.target as HTMLSelectElement).value}`;
            }}
          >
            {WINDOWS.map((w) => (
              <option key={w.id} value={w.id}>
                {w.label}
              </option>
            ))}
          </select>
        </label>
        <p class="muted">
          {history.readAt.value ? `Read at ${clock(history.readAt.value)}; a new point every ${win.step} s.` : 'Reading…'}
          {history.health.value ? ` Health: ${history.health.value}.` : ''}
        </p>
      </div>
      {history.error.value ? (
        <p role="alert" class="error">
          {history.error.value}
        </p>
      ) : null}
      <div class="charts">
        <Chart title="CPU busy" lines={[line('cpu', 'CPU', '--accent')]} format={percent} {...range} />
        <Chart title="Memory used" lines={[line('memory', 'Memory', '--ok')]} format={percent} {...range} />
        <Chart title="Network" lines={[line('net_rx', 'Received', '--accent'), line('net_tx', 'Sent', '--wait')]} format={rate} {...range} />
        <Chart title="Disk used (root filesystem)" lines={[line('disk', 'Disk', '--bad')]} format={percent} {...range} />
      </div>
    </section>
  );
}

export function NodeView() {
  const node = currentNode();
  const winId = route.value.query.get('window');
  const win = WINDOWS.find((w) => w.id === winId) ?? WINDOWS[0];
  useEffect(() => {
    const leave = listen(history);
    return () => {
      leave();
      history.clear();
    };
  }, []);
  useEffect(() => history.show(node, win), [node, win]);
  const row = node ? fleet.row(node)?.value : undefined;
  return (
    <section aria-labelledby="node-title">
      <h1 id="node-title">Node {node ?? ''}</h1>
      <NodePick screen="node" node={node} />
      {node ? (
        <>
          <p class="summary">
            {row ? `${row.status}${row.address ? `, ${row.address}` : ''}${row.tags.length ? `; tags ${row.tags.join(', ')}` : ''}. ` : ''}
            <a href={nodeHref('storage', node)}>Storage</a> · <a href={nodeHref('network', node)}>Network</a>
          </p>
          <Charts key={node} node={node} />
          <Terminal key={node} node={node} />
        </>
      ) : null}
    </section>
  );
}
