/**
 * Threshold crossings with hysteresis. A metric goes `above` when a sample exceeds its limit and
 * only comes back `below` when a sample falls under limit * (1 - band): a value hovering at the
 * limit (89.9, 90.1, 89.8 ...) reports one crossing, not one per sample. Pure state machine, one
 * per node; the monitor publishes what update() returns.
 */

export const THRESHOLD_METRICS = ['memory', 'disk', 'load_per_cpu'] as const;
export type ThresholdMetric = (typeof THRESHOLD_METRICS)[number];

export type Limits = Readonly<Partial<Record<ThresholdMetric, number>>>;

/** Share of the limit a value must fall below it before the crossing clears. */
export const HYSTERESIS_BAND = 0.05;

export interface Crossing {
  readonly metric: ThresholdMetric;
  readonly value: number;
  readonly limit: number;
  readonly direction: 'above' | 'below';
}

export class ThresholdState {
  readonly #above = new Set<ThresholdMetric>();

  /**
   * The crossings of this sample. A limit of 0 or none is off (and clears silently, so turning a
   * limit off does not leave a metric stuck above).
   */
  update(values: Readonly<Partial<Record<ThresholdMetric, number>>>, limits: Limits): Crossing[] {
    const out: Crossing[] = [];
    for (const metric of THRESHOLD_METRICS) {
      const limit = limits[metric];
      const value = values[metric];
      if (!limit || limit <= 0) {
        this.#above.delete(metric);
        continue;
      }
      if (value === undefined || !Number.isFinite(value)) continue;
      if (!this.#above.has(metric) && value > limit) {
        this.#above.add(metric);
        out.push({ metric, value, limit, direction: 'above' });
      } else if (this.#above.has(metric) && value < limit * (1 - HYSTERESIS_BAND)) {
        this.#above.delete(metric);
        out.push({ metric, value, limit, direction: 'below' });
      }
    }
    return out;
  }

  isAbove(metric: ThresholdMetric): boolean {
    return this.#above.has(metric);
  }
}
