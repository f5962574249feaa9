/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and prints where the time went: top functions by self
 * time and by inclusive time (a function counted once per sample even when recursive), plus the
 * share of time under chosen groups of code (by file path fragments).
 *   npx tsx bench/cpuprofile-summary.ts FILE.cpuprofile [top] [under]
 * With `under` (a function name), the inclusive list also shows the callees seen below that
 * function, as shares of all busy time.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
const top = Number(process.argv[3] ?? 30);
const under = process.argv[4];
const below = new Map<string, number>();
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const short = (url: string) => url.replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm:').replace(/.*\/(src|services|bench)\//, '$1/');
const label = (n: Node) => `${n.callFrame.functionName || '(anon)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const self = new Map<string, number>();
const incl = new Map<string, number>();
let total = 0;
let idle = 0;
const groups: Record<string, (urls: string[], names: string[]) => boolean> = {
  'session lookup (Sessions.resolve)': (_u, n) => n.includes('resolve') && _u.some((u) => u.includes('auth/sessions')),
  'permissions (forUser/has)': (u) => u.some((x) => x.includes('auth/permissions')),
  'result cache (src/rpc/cache.ts)': (u) => u.some((x) => x.includes('rpc/cache.ts')),
  'better-sqlite3 (prepare/get/run/all)': (u) => u.some((x) => x.includes('better-sqlite3')),
  'pino (child loggers, lines)': (u) => u.some((x) => x.includes('nm:pino')),
  'zod': (u) => u.some((x) => x.includes('nm:zod')),
  'express + router': (u) => u.some((x) => /nm:(express|router|finalhandler|send|content-type|mime|qs|parseurl|statuses|on-finished)/.test(x)),
  'JSON.parse/stringify (native)': (_u, n) => n.some((x) => x === 'parse' || x === 'stringify'),
  'node:http': (u) => u.some((x) => x.startsWith('node:_http') || x.startsWith('node:http')),
  'TLS': (u) => u.some((x) => x.startsWith('node:_tls') || x.startsWith('node:tls')),
  'crypto (hash, uuid)': (u, n) => u.some((x) => x.startsWith('node:internal/crypto')) || n.includes('randomUUID'),
  'garbage collector': (_u, n) => n[0] === '(garbage collector)',
  'pipeline.call (inclusive)': (u, n) => n.includes('call') && u.some((x) => x.includes('rpc/pipeline.ts')),
};
const groupTime: Record<string, number> = Object.fromEntries(Object.keys(groups).map((k) => [k, 0]));

p.samples.forEach((id, i) => {
  const dt = p.timeDeltas[i] ?? 0;
  const leaf = byId.get(id)!;
  if (leaf.callFrame.functionName === '(idle)') {
    idle += dt;
    return;
  }
  total += dt;
  self.set(label(leaf), (self.get(label(leaf)) ?? 0) + dt);
  const seen = new Set<string>();
  const urls: string[] = [];
  const names: string[] = [];
  for (let n: Node | undefined = leaf; n; n = byId.get(parent.get(n.id)!)) {
    const l = label(n);
    names.push(n.callFrame.functionName);
    urls.push(short(n.callFrame.url));
    if (seen.has(l)) continue;
    seen.add(l);
    incl.set(l, (incl.get(l) ?? 0) + dt);
  }
  for (const [g, test] of Object.entries(groups)) if (test(urls, names)) groupTime[g] += dt;
  if (under) {
    // Walk from the root down; once inside `under`, count each distinct frame below it.
    const stack: Node[] = [];
    for (let n: Node | undefined = leaf; n; n = byId.get(parent.get(n.id)!)) stack.unshift(n);
    const at = stack.findIndex((n) => n.callFrame.functionName === under);
    if (at >= 0) {
      const seenBelow = new Set<string>();
      for (const n of stack.slice(at)) {
        const l = label(n);
        if (!seenBelow.has(l)) below.set(l, (below.get(l) ?? 0) + dt);
        seenBelow.add(l);
      }
    }
  }
});

const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
console.log(`busy ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s`);
console.log('\n== groups (share of busy time, inclusive)');
for (const [g, t] of Object.entries(groupTime)) console.log(`${pct(t)}  ${g}`);
console.log('\n== top self time');
for (const [l, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${l}`);
console.log('\n== top inclusive time');
for (const [l, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${l}`);
if (under) {
  console.log(`\n== inclusive time under ${under}`);
  for (const [l, t] of [...below].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${l}`);
}
