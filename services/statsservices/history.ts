/**
 * statsservices.get_history: a node's health history as the monitor kept it (src/health), at
 * the step the caller asks, each point averaged from the finest resolution still kept (raw
 * samples for the last OMS_HEALTH_RAW_HOURS, 5-minute rollups before).
 */
import { z } from 'zod';
import { method } from '../../src/rpc/declare.ts';
import { nodeName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import { oms } from '../../src/rpc/errors.ts';
import { HEALTH_METRICS, METRIC_UNITS, type HealthMetric } from '../../src/health/sample.ts';

/** Points in one answer at most: a chart's width, not a data dump. */
export const MAX_POINTS = 2000;

const unixSeconds = z.number().int().min(0).max(4_102_444_800); // up to 2100-01-01
const metricWord = z.string().max(40);

const point = z.object({ time: z.number().int(), value: z.number(), max: z.number() });
export const historyResult = z.object({
  node: z.string(),
  metric: z.enum(HEALTH_METRICS),
  unit: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  step: z.number().int(),
  points: z.array(point),
});

/** Checks what the schemas cannot (the metric, the range against the step); typed errors. */
export function checkHistoryRequest(metric: string, from: number, to: number, step: number): HealthMetric {
  if (!(HEALTH_METRICS as readonly string[]).includes(metric)) throw oms('UnknownMetricError', { metric: metric.slice(0, 40), known: HEALTH_METRICS.join(', ') });
  if (to <= from) throw oms('HistoryRangeError', { reason: `to (${to}) must be after from (${from})` });
  const points = Math.ceil((to - from) / step);
  if (points > MAX_POINTS) throw oms('TooManyPointsError', { from, to, step, points, max: MAX_POINTS });
  return metric as HealthMetric;
}

export const historyMethod = method({
  name: 'get_history',
  description: `A node's health history from the health monitor: metric one of ${HEALTH_METRICS.map((m) => `${m} (${METRIC_UNITS[m]})`).join(', ')}; from and to in unix seconds (to excluded), step in seconds (at most ${MAX_POINTS} points). Returns {node, metric, unit, from, to, step, points: [{time, value, max}]}: one point per step that has data (time: the step's start), value the average over the step and max its largest sample; steps inside the raw retention (OMS_HEALTH_RAW_HOURS, 24 h) come from the samples taken every OMS_HEALTH_INTERVAL, older ones from 5-minute rollups (kept OMS_HEALTH_KEEP_DAYS, 30 days).`,
  auth: 'session',
  permission: { privilege: 'node.view', path: (p) => paths.node(p.node) },
  cacheable: true,
  node: 'node',
  params: [
    { name: 'node', schema: nodeName },
    { name: 'metric', schema: metricWord },
    { name: 'from', schema: unixSeconds },
    { name: 'to', schema: unixSeconds },
    { name: 'step', schema: z.number().int().min(1).max(30 * 86400) },
  ] as const,
  result: historyResult,
  run(ctx, { node, metric, from, to, step }) {
    const m = checkHistoryRequest(metric, from, to, step);
    ctx.app.nodes.signed(node); // UnknownNodeError for a node that is not (or no longer) signed
    const points = ctx.app.history.query({ node, metric: m, from: from * 1000, to: to * 1000, step: step * 1000 });
    return { node, metric: m, unit: METRIC_UNITS[m], from, to, step, points: points.map((p) => ({ time: Math.round(p.time / 1000), value: p.value, max: p.max })) };
  },
});
