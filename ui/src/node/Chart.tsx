/**
 * One time-series chart, drawn by uPlot (imported lazily: it is not part of the first load).
 * A text summary beside it (samples, latest, peak) is what a screen reader and a test read.
 */
import { useEffect, useRef } from 'preact/hooks';
import type uPlotT from 'uplot';

export interface Line {
  label: string;
  points: { time: number; value: number }[];
  /** CSS variable naming the colour. */
  colour: string;
}

let lib: Promise<typeof uPlotT> | undefined;
const loadUplot = () => (lib ??= import('uplot').then((m) => m.default));

const css = (v: string) => getComputedStyle(document.documentElement).getPropertyValue(v).trim() || '#888';

/** Lines as uPlot's aligned data: one x array (the union of times), y values or null. */
function aligned(lines: Line[]): uPlotT.AlignedData {
  const times = [...new Set(lines.flatMap((l) => l.points.map((p) => p.time)))].sort((a, b) => a - b);
  const ys = lines.map((l) => {
    const at = new Map(l.points.map((p) => [p.time, p.value]));
    return times.map((t) => at.get(t) ?? null);
  });
  return [times, ...ys] as uPlotT.AlignedData;
}

export function Chart({ title, lines, format, from, to }: { title: string; lines: Line[]; format: (v: number) => string; from: number; to: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlotT | undefined>(undefined);
  const key = lines.map((l) => l.label).join('|');
  // The newest data: uPlot arrives later than the first data may, and must start from that, not from the first render's.
  const latest = useRef({ lines, from, to });
  latest.current = { lines, from, to };

  useEffect(() => {
    let gone = false;
    void loadUplot().then((uPlot) => {
      if (gone || !box.current) return;
      const { lines, from, to } = latest.current;
      const width = Math.max(240, box.current.clientWidth);
      plot.current = new uPlot(
        {
          width,
          height: 180,
          legend: { show: false },
          cursor: { show: false },
          scales: { x: { time: true, range: () => [latest.current.from, latest.current.to] } },
          axes: [
            { stroke: css('--muted'), grid: { stroke: css('--line') }, ticks: { stroke: css('--line') } },
            { stroke: css('--muted'), grid: { stroke: css('--line') }, ticks: { stroke: css('--line') }, size: 70, values: (_u, vals) => vals.map((v) => format(v)) },
          ],
          series: [{}, ...lines.map((l) => ({ label: l.label, stroke: css(l.colour), width: 2, points: { show: l.points.length < 3 } }))],
        },
        aligned(lines),
        box.current,
      );
      box.current.dataset.drawn = String(lines.reduce((n, l) => n + l.points.length, 0));
    });
    const ro = new ResizeObserver(() => {
      if (plot.current && box.current) plot.current.setSize({ width: Math.max(240, box.current.clientWidth), height: 180 });
    });
    if (box.current) ro.observe(box.current);
    return () => {
      gone = true;
      ro.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [key]);

  useEffect(() => {
    if (!plot.current || !box.current) return;
    plot.current.setData(aligned(lines), true);
    box.current.dataset.drawn = String(lines.reduce((n, l) => n + l.points.length, 0));
  }, [lines, from, to]);

  const summary = lines
    .map((l) => {
      const last = l.points.at(-1);
      const peak = l.points.reduce((m, p) => Math.max(m, p.value), -Infinity);
      return last ? `${l.label}: ${l.points.length} points, latest ${format(last.value)}, peak ${format(peak)}` : `${l.label}: no samples yet`;
    })
    .join('; ');
  return (
    <figure class="chart">
      <figcaption>
        <strong>{title}</strong>
        <span class="chart-summary">{summary}</span>
      </figcaption>
      <div ref={box} class="chart-box" role="img" aria-label={`${title} chart. ${summary}`} />
    </figure>
  );
}
