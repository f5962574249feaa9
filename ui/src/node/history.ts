/**
 * A node's stats history for the charts: statsservices.get_history per metric over a window,
 * at a step that keeps each chart at a few hundred points at most.
 *
 * Live without busy polling: no event carries samples (the health monitor publishes only
 * `node` down / up / threshold), so the charts are re-read when such an event (or `connected`)
 * names the node, and otherwise once per history step — the interval at which a new point can
 * appear at all — and only while the page is visible.
 */
import { signal } from '@preact/signals';
import type { OmsEvent } from '@oms/client/browser';
import { errorText, oms } from '../lib/client.ts';
import type { EventSink } from '../lib/live.ts';
import { lostSession } from '../lib/session.ts';

export type Metric = 'cpu' | 'memory' | 'disk' | 'net_rx' | 'net_tx' | 'load';

export interface Series {
  metric: Metric;
  unit: string;
  points: { time: number; value: number; max: number }[];
}

export interface Window {
  id: string;
  label: string;
  seconds: number;
  step: number;
}

export const WINDOWS: Window[] = [
  { id: '15m', label: 'Last 15 minutes', seconds: 900, step: 5 },
  { id: '1h', label: 'Last hour', seconds: 3600, step: 15 },
  { id: '6h', label: 'Last 6 hours', seconds: 6 * 3600, step: 60 },
  { id: '24h', label: 'Last 24 hours', seconds: 86400, step: 300 },
  { id: '7d', label: 'Last 7 days', seconds: 7 * 86400, step: 1800 },
];

export const METRICS: Metric[] = ['cpu', 'memory', 'disk', 'net_rx', 'net_tx', 'load'];

export class HistoryStore implements EventSink {
  readonly node = signal<string | undefined>(undefined);
  readonly window = signal<Window>(WINDOWS[0]);
  readonly series = signal<Partial<Record<Metric, Series>>>({});
  readonly error = signal<string | undefined>(undefined);
  /** When the charts were last read (ms). */
  readonly readAt = signal<number | undefined>(undefined);
  /** The last health event about the node, as words. */
  readonly health = signal<string | undefined>(undefined);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reading = 0;

  show(node: string | undefined, win: Window): void {
    if (node === this.node.peek() && win === this.window.peek()) return;
    if (node !== this.node.peek()) this.health.value = undefined;
    this.node.value = node;
    this.window.value = win;
    this.series.value = {};
    this.relist();
  }

  relist(): void {
    void this.load();
  }

  async load(): Promise<void> {
    clearTimeout(this.#timer);
    const node = this.node.peek();
    const win = this.window.peek();
    if (!node) return;
    const mine = ++this.#reading;
    const now = Math.floor(Date.now() / 1000);
    // `to` is exclusive: one step past now, so the step being filled shows too.
    const from = now - win.seconds;
    const to = now + win.step;
    const got = await Promise.allSettled(METRICS.map((m) => oms.statsservices.get_history(node, m, from, to, win.step)));
    if (mine !== this.#reading) return;
    const next: Partial<Record<Metric, Series>> = {};
    let failure: unknown;
    got.forEach((g, i) => {
      if (g.status === 'fulfilled') next[METRICS[i]] = { metric: METRICS[i], unit: g.value.unit, points: g.value.points };
      else failure ??= g.reason;
    });
    if (failure && lostSession(failure)) return;
    this.series.value = next;
    this.error.value = failure ? errorText(failure) : undefined;
    this.readAt.value = Date.now();
    this.#schedule();
  }

  /** The next read, one step on; put off while the page is hidden. */
  #schedule(): void {
    clearTimeout(this.#timer);
    if (!this.node.peek()) return;
    this.#timer = setTimeout(() => {
      if (document.hidden) document.addEventListener('visibilitychange', () => void this.load(), { once: true });
      else void this.load();
    }, this.window.peek().step * 1000);
  }

  apply(ev: OmsEvent): void {
    if (ev.type !== 'node' || ev.node !== this.node.peek()) return;
    const d = (ev.data ?? {}) as { metric?: string; value?: number; limit?: number; direction?: string; reason?: string; down_seconds?: number };
    if (ev.action === 'threshold') this.health.value = `${d.metric} went ${d.direction} its limit ${d.limit} (${d.value?.toFixed?.(1) ?? d.value})`;
    else if (ev.action === 'down') this.health.value = `down (${d.reason})`;
    else if (ev.action === 'up') this.health.value = `up again after ${d.down_seconds} s down`;
    else if (ev.action !== 'connected') return;
    void this.load();
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#reading++;
    this.node.value = undefined;
    this.series.value = {};
  }
}

export const history = new HistoryStore();
