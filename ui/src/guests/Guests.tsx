/**
 * The guests screen: every KVM guest and container the user may see, across the fleet, live.
 * The filter and the sort live in the address (`#/guests?q=state:running%20-node:a&sort=-memory`),
 * so a reload, a bookmark or a link keeps them. The table is virtualised: only the rows in view
 * (and a margin) are in the page, each row a fixed height, so a thousand guests filter and scroll
 * as fast as ten.
 */
import { useComputed, useSignal, type Signal } from '@preact/signals';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { bytes } from '../lib/format.ts';
import { listen } from '../lib/live.ts';
import { href, route } from '../lib/router.ts';
import { ACTIONS, bulk, progressText, summaryText, type ActionId } from './bulk.ts';
import { matches, parseFilter } from './filter.ts';
import { compareRows, parseSort, sortParam, type GuestRow, type Sort, type SortColumn } from './rows.ts';
import { guests } from './store.ts';
import './guests.css';

/** Every row's height in pixels (guests.css sets the same): the list's geometry is arithmetic. */
export const ROW_H = 40;
/** Rows rendered above and below the visible ones, so a quick scroll shows no blank. */
const MARGIN = 12;

const COLUMNS: { id: SortColumn; label: string }[] = [
  { id: 'name', label: 'Name' },
  { id: 'type', label: 'Type' },
  { id: 'node', label: 'Node' },
  { id: 'state', label: 'State' },
  { id: 'vcpus', label: 'vCPUs' },
  { id: 'memory', label: 'Memory' },
  { id: 'ips', label: 'IPs' },
  { id: 'tags', label: 'Tags' },
];

const guestHref = (r: GuestRow) => `#/guest/${encodeURIComponent(r.node)}/${encodeURIComponent(r.id)}`;

/** Keeps the address in step with the filter and sort without a history entry per keystroke. */
function remember(q: string, sort: Sort): void {
  const url = href('guests', { q: q.trim() || undefined, sort: sortParam(sort) });
  if (location.hash !== url) history.replaceState(history.state, '', url);
}

function Row({ k, index, selected }: { k: string; index: number; selected: boolean }) {
  const sig = guests.row(k);
  const p = bulk.progress(k).value;
  if (!sig) return null;
  const r = sig.value;
  const label = `${r.name} on ${r.node}`;
  return (
    <tr class="g-row" data-index={index} data-key={k} aria-rowindex={index + 2} aria-selected={selected}>
      <td class="g-check">
        <input type="checkbox" checked={selected} aria-label={`Select ${label}`} onChange={(e) => bulk.toggle(k, e.currentTarget.checked)} />
      </td>
      <th scope="row" class="g-name">
        <a href={guestHref(r)} title={r.type === 'container' && r.name !== r.id ? `container ${r.id}` : undefined}>
          {r.name}
        </a>
      </th>
      <td>{r.type}</td>
      <td>{r.node}</td>
      <td class={`g-state g-state-${r.state}`}>
        <span class="dot" aria-hidden="true" />
        {r.state}
      </td>
      <td class="g-num">{r.vcpus ?? '—'}</td>
      <td class="g-num">{r.memKiB === undefined ? '—' : bytes(r.memKiB * 1024)}</td>
      <td title={r.ips.join(', ')}>{r.ips.length ? r.ips.join(', ') : '—'}</td>
      <td>
        {r.tags.length ? (
          <ul class="tags g-tags" aria-label={`Tags of ${r.name}`}>
            {r.tags.map((t) => (
              <li key={t}>
                <a href={href('guests', { q: `tag:${t.includes(' ') ? `"${t}"` : t}` })}>{t}</a>
              </li>
            ))}
          </ul>
        ) : null}
      </td>
      <td class={`g-progress g-progress-${p?.phase ?? 'none'}`} title={p ? progressText(p) : undefined}>
        {progressText(p)}
      </td>
    </tr>
  );
}

function SortHeader({ col, sort }: { col: (typeof COLUMNS)[number]; sort: Signal<Sort> }) {
  const s = sort.value;
  const on = s.by === col.id;
  return (
    <th scope="col" class={`g-col-${col.id}`} aria-sort={on ? (s.dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button
        type="button"
        class="g-sort"
        onClick={() => (sort.value = { by: col.id, dir: on && s.dir === 'asc' ? 'desc' : 'asc' })}
      >
        {col.label}
        <span aria-hidden="true" class="g-arrow">
          {on ? (s.dir === 'asc' ? '▲' : '▼') : ''}
        </span>
      </button>
    </th>
  );
}

function Table({ keys, sort }: { keys: string[]; sort: Signal<Sort> }) {
  const box = useRef<HTMLDivElement>(null);
  const all = useRef<HTMLInputElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const focusNext = useRef<number | null>(null);
  const frame = useRef(0);
  const selected = bulk.selected.value;

  useLayoutEffect(() => {
    const el = box.current!;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    if (focusNext.current === null) return;
    const input = box.current?.querySelector<HTMLInputElement>(`tr[data-index="${focusNext.current}"] input[type=checkbox]`);
    if (input) {
      input.focus();
      focusNext.current = null;
    }
  });

  const shown = keys.filter((k) => selected.has(k)).length;
  useEffect(() => {
    if (all.current) all.current.indeterminate = shown > 0 && shown < keys.length;
  });

  const onScroll = () => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => {
      const el = box.current;
      if (el) setView({ top: el.scrollTop, height: el.clientHeight });
    });
  };

  // The header row is ROW_H high too: row i starts at (i + 1) * ROW_H.
  const first = Math.max(0, Math.floor(view.top / ROW_H) - 1 - MARGIN);
  const last = Math.min(keys.length, Math.ceil((view.top + view.height) / ROW_H) + MARGIN);

  /** Arrow keys, Page Up/Down, Home and End move between the rows' checkboxes, scrolling as needed. */
  const onKeyDown = (e: KeyboardEvent) => {
    const t = e.target as HTMLElement;
    if (!(t instanceof HTMLInputElement) || t.type !== 'checkbox') return;
    const idx = Number(t.closest('tr')?.dataset.index);
    if (!Number.isInteger(idx)) return;
    const page = Math.max(1, Math.floor(view.height / ROW_H) - 2);
    const moves: Record<string, number> = { ArrowDown: idx + 1, ArrowUp: idx - 1, PageDown: idx + page, PageUp: idx - page, Home: 0, End: keys.length - 1 };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const next = Math.max(0, Math.min(keys.length - 1, moves[e.key]));
    const el = box.current!;
    const y = (next + 1) * ROW_H;
    if (y - ROW_H < el.scrollTop) el.scrollTop = y - ROW_H;
    else if (y + ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = y + ROW_H - el.clientHeight;
    focusNext.current = next;
    const input = el.querySelector<HTMLInputElement>(`tr[data-index="${next}"] input[type=checkbox]`);
    if (input) {
      input.focus();
      focusNext.current = null;
    }
    setView({ top: el.scrollTop, height: el.clientHeight });
  };

  return (
    <div class="g-scroll" ref={box} onScroll={onScroll} onKeyDown={onKeyDown} role="region" aria-label="Guests table" tabIndex={-1}>
      <table class="g-table" aria-rowcount={keys.length + 1}>
        <caption class="visually-hidden">Guests and containers of the fleet</caption>
        <colgroup>
          <col class="g-w-check" />
          {COLUMNS.map((c) => (
            <col key={c.id} class={`g-w-${c.id}`} />
          ))}
          <col class="g-w-progress" />
        </colgroup>
        <thead>
          <tr aria-rowindex={1}>
            <td class="g-check">
              <input
                ref={all}
                type="checkbox"
                aria-label="Select all shown guests"
                checked={keys.length > 0 && shown === keys.length}
                onChange={(e) => {
                  const shownNow = new Set(keys);
                  bulk.set(e.currentTarget.checked ? new Set([...selected, ...keys]) : [...selected].filter((k) => !shownNow.has(k)));
                }}
              />
            </td>
            {COLUMNS.map((c) => (
              <SortHeader key={c.id} col={c} sort={sort} />
            ))}
            <th scope="col" class="g-col-progress">
              Action
            </th>
          </tr>
        </thead>
        <tbody>
          {first > 0 ? (
            <tr class="g-spacer" aria-hidden="true">
              <td colSpan={10} style={{ height: `${first * ROW_H}px` }} />
            </tr>
          ) : null}
          {keys.slice(first, last).map((k, i) => (
            <Row key={k} k={k} index={first + i} selected={selected.has(k)} />
          ))}
          {last < keys.length ? (
            <tr class="g-spacer" aria-hidden="true">
              <td colSpan={10} style={{ height: `${(keys.length - last) * ROW_H}px` }} />
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}

function BulkBar({ keys }: { keys: string[] }) {
  const sel = bulk.selected.value;
  const rows = [...sel].map((k) => guests.row(k)?.peek()).filter((r): r is GuestRow => !!r);
  const shownNow = new Set(keys);
  const hidden = rows.filter((r) => !shownNow.has(r.key)).length;
  const runs = bulk.runs.value;
  return (
    <div class="g-bulk" role="toolbar" aria-label="Actions on the selected guests">
      <span class="g-selected">
        {rows.length} selected{hidden ? ` (${hidden} hidden by the filter)` : ''}
      </span>
      {(Object.keys(ACTIONS) as ActionId[]).map((id) => (
        <button key={id} type="button" disabled={rows.length === 0} onClick={() => void bulk.run(id, rows)}>
          {ACTIONS[id].label}
        </button>
      ))}
      <button type="button" disabled={rows.length === 0} onClick={() => bulk.set([])}>
        Clear selection
      </button>
      <div role="status" class="g-summary" aria-label="Bulk action progress">
        {runs.slice(-3).map((r, i) => (
          <p key={i}>{summaryText(r)}</p>
        ))}
      </div>
    </div>
  );
}

export function Guests() {
  const q = route.value.query.get('q') ?? '';
  const sortQ = route.value.query.get('sort');
  const text = useSignal(q);
  const sort = useSignal<Sort>(parseSort(sortQ));

  // The address changed under the screen (a tag link, the back button): the box follows it.
  useEffect(() => {
    text.value = q;
    sort.value = parseSort(sortQ);
  }, [q, sortQ]);

  useEffect(() => {
    const leave = listen(guests);
    return () => {
      leave();
      guests.clear();
      bulk.clear();
    };
  }, []);

  useEffect(() => remember(text.value, sort.value), [text.value, sort.value]);

  const filter = useComputed(() => parseFilter(text.value));
  const lastRef = useRef<string[]>([]);
  // The keys shown, in order. Reads every row (a state change may move a row in or out), but
  // answers the same array when nothing moved, so the table re-renders only when the list does.
  const visible = useComputed(() => {
    const f = filter.value;
    const rows = guests
      .all()
      .map((s) => s.value)
      .filter((r) => matches(f, r))
      .sort(compareRows(sort.value))
      .map((r) => r.key);
    const last = lastRef.current;
    if (rows.length === last.length && rows.every((k, i) => k === last[i])) return last;
    lastRef.current = rows;
    return rows;
  });

  const keys = visible.value;
  const total = guests.keys.value.length;
  const nodes = guests.nodes.value.length;
  const waiting = guests.waiting.value.size;
  const errors = Object.entries(guests.nodeErrors.value);
  const problems = filter.value.problems;
  return (
    <section aria-labelledby="guests-title" class="guests">
      <h1 id="guests-title">Guests</h1>
      {guests.error.value ? (
        <p role="alert" class="error">
          {guests.error.value}
        </p>
      ) : null}
      <div class="g-filter">
        <label for="g-filter">Filter</label>
        <input
          id="g-filter"
          type="search"
          value={text.value}
          placeholder="state:running -node:node1 tag:web name"
          aria-describedby="g-filter-help g-filter-problems"
          autocomplete="off"
          spellcheck={false}
          onInput={(e) => (text.value = e.currentTarget.value)}
        />
        <p id="g-filter-help" class="g-help">
          <code>node:</code>, <code>tag:</code>, <code>state:</code> (running, stopped, paused), <code>type:</code> (kvm, container) and words of the name; <code>-</code> before a term excludes it.
        </p>
        <p id="g-filter-problems" class="error" aria-live="polite">
          {problems.join('; ')}
        </p>
      </div>
      <BulkBar keys={keys} />
      {!guests.loaded.value ? (
        <p>Loading the guests…</p>
      ) : (
        <p class="summary" aria-live="polite">
          {keys.length === total ? `${total} ${total === 1 ? 'guest' : 'guests'}` : `${keys.length} of ${total} guests shown`} on {nodes} {nodes === 1 ? 'node' : 'nodes'}
          {waiting ? ` (reading ${waiting} more ${waiting === 1 ? 'node' : 'nodes'}…)` : ''}
        </p>
      )}
      {errors.length ? (
        <ul class="g-errors" aria-label="Nodes whose guests could not be read">
          {errors.map(([where, e]) => (
            <li key={where} class="error">
              {where}: {e}
            </li>
          ))}
        </ul>
      ) : null}
      <Table keys={keys} sort={sort} />
      {guests.loaded.value && waiting === 0 && keys.length === 0 ? <p>{total ? 'No guest matches the filter.' : 'No guests on the nodes you may see.'}</p> : null}
    </section>
  );
}
