/**
 * Placement: which node a new guest or container goes to when the caller names none. Candidates
 * are ranked by the health monitor's latest sample (src/health): free memory first, idle CPU
 * second (score = 0.6 × memory free % + 0.4 × CPU idle %), after CloudSigma's `avoid` (not on a
 * node running one of these guests) and an optional node tag. A node without a recent answered
 * sample is not a candidate: placing on a node nobody has heard from is how guests get lost.
 * Pure: the facts come from index.ts, the choice and every reason go back to the caller.
 */
import { oms } from '../../src/rpc/errors.ts';

export interface LatestSample {
  readonly time: number;
  readonly reachable: boolean;
  /** Percent used / busy, as the history stores them. */
  readonly memory?: number | null;
  readonly cpu?: number | null;
  readonly load?: number | null;
}

export interface Candidate {
  readonly node: string;
  readonly tags: readonly string[];
  readonly sample?: LatestSample;
  /** Guests (names or ids) the node holds, for `avoid`; only read when avoid is given. */
  readonly guests?: readonly string[];
  /** Why the node cannot take the guest at all (no libvirt, say), found by asking it. */
  readonly unfit?: string;
}

export interface PlacementRequest {
  readonly candidates: readonly Candidate[];
  readonly avoid: readonly string[];
  readonly tag?: string;
  readonly now: number;
  /** A sample older than this is not recent enough to place by. */
  readonly maxAgeMs: number;
}

export interface Ranked {
  readonly node: string;
  readonly memory_free: number;
  readonly cpu_idle: number;
  readonly score: number;
}

export interface Placement {
  readonly node: string;
  readonly reason: string;
  readonly ranking: Ranked[];
  readonly excluded: { node: string; why: string }[];
}

const MEMORY_WEIGHT = 0.6;
const CPU_WEIGHT = 0.4;
const round1 = (x: number): number => Math.round(x * 10) / 10;

export function place(r: PlacementRequest): Placement {
  const excluded: { node: string; why: string }[] = [];
  const ranking: Ranked[] = [];
  const avoided = new Set<string>();
  for (const c of r.candidates) {
    if (c.unfit) {
      excluded.push({ node: c.node, why: c.unfit });
      continue;
    }
    const hits = r.avoid.filter((g) => c.guests?.includes(g));
    if (hits.length) {
      excluded.push({ node: c.node, why: `avoid: holds ${hits.join(', ')}` });
      hits.forEach((h) => avoided.add(h));
      continue;
    }
    if (r.tag !== undefined && !c.tags.includes(r.tag)) {
      excluded.push({ node: c.node, why: `not tagged ${r.tag}` });
      continue;
    }
    const s = c.sample;
    if (!s || r.now - s.time > r.maxAgeMs) {
      excluded.push({ node: c.node, why: s ? `last health sample ${Math.round((r.now - s.time) / 1000)} s old` : 'no health sample yet' });
      continue;
    }
    if (!s.reachable || s.memory == null || s.cpu == null) {
      excluded.push({ node: c.node, why: s.reachable ? 'latest health sample without memory or CPU' : 'unreachable in its latest health sample' });
      continue;
    }
    const memory_free = round1(100 - s.memory);
    const cpu_idle = round1(100 - s.cpu);
    ranking.push({ node: c.node, memory_free, cpu_idle, score: round1(MEMORY_WEIGHT * memory_free + CPU_WEIGHT * cpu_idle) });
  }
  ranking.sort((a, b) => b.score - a.score || a.node.localeCompare(b.node));
  if (ranking.length === 0) {
    const why = excluded.length ? excluded.map((e) => `${e.node}: ${e.why}`).join('; ') : 'no node the caller may create on';
    throw oms('PlacementError', { reason: why.slice(0, 1000) });
  }
  const best = ranking[0];
  const parts = [
    `${best.node} has the most room (memory ${best.memory_free}% free, CPU ${best.cpu_idle}% idle, score ${best.score}) of ${ranking.length} candidate(s)`,
  ];
  if (ranking[1]) parts.push(`next ${ranking[1].node} (score ${ranking[1].score})`);
  if (avoided.size) parts.push(`avoiding ${[...avoided].join(', ')} on ${excluded.filter((e) => e.why.startsWith('avoid')).map((e) => e.node).join(', ')}`);
  const missing = r.avoid.filter((g) => !avoided.has(g));
  if (missing.length) parts.push(`avoid: ${missing.join(', ')} found on no node`);
  if (r.tag !== undefined) parts.push(`only nodes tagged ${r.tag}`);
  return { node: best.node, reason: parts.join('; '), ranking, excluded };
}
