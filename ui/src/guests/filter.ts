/**
 * The guest list's filter box: `node:`, `tag:`, `state:`, `type:` and free text, each negated by a
 * leading `-`, values quoted with "..." when they hold spaces and listed with commas
 * (`state:running,paused`). Terms on different keys must all hold; positive terms on the same key
 * are alternatives (`node:a node:b` is either node); every negated term must hold. Free text is
 * a case-insensitive substring of the name, id or an IP address. Pure: parsed once per keystroke,
 * matched against every row.
 */

export type FilterKey = 'node' | 'tag' | 'state' | 'type' | 'text';

export interface Term {
  key: FilterKey;
  /** Lower-cased alternatives (for `state:` and `type:` already in the row's own words). */
  values: string[];
  negated: boolean;
}

export interface Filter {
  terms: Term[];
  /** What the operator typed that means nothing here, in words (an unknown key, an unknown state). */
  problems: string[];
}

/** What a row offers the filter. */
export interface Filterable {
  name: string;
  id: string;
  node: string;
  type: 'kvm' | 'container';
  state: string;
  tags: readonly string[];
  ips: readonly string[];
}

const KEYS = new Set<FilterKey>(['node', 'tag', 'state', 'type']);

/** The words an operator may type for a state, to the row's own word. */
const STATES: Record<string, string> = {
  running: 'running',
  run: 'running',
  up: 'running',
  stopped: 'stopped',
  stop: 'stopped',
  shutdown: 'stopped',
  shutoff: 'stopped',
  'shut off': 'stopped',
  off: 'stopped',
  down: 'stopped',
  paused: 'paused',
  pause: 'paused',
  suspended: 'paused',
  frozen: 'paused',
  crashed: 'crashed',
  starting: 'starting',
  stopping: 'stopping',
  pausing: 'pausing',
  resuming: 'resuming',
};

const TYPES: Record<string, 'kvm' | 'container'> = {
  kvm: 'kvm',
  vm: 'kvm',
  guest: 'kvm',
  container: 'container',
  ct: 'container',
  lxc: 'container',
  openvz: 'container',
};

/** Splits on white space, keeping "quoted parts" (quotes removed) inside one token. */
export function tokens(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let any = false;
  for (const ch of text) {
    if (ch === '"') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (any) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += ch;
      any = true;
    }
  }
  if (any) out.push(cur);
  return out;
}

export function parseFilter(text: string): Filter {
  const terms: Term[] = [];
  const problems: string[] = [];
  for (const raw of tokens(text)) {
    let t = raw;
    const negated = t.startsWith('-') && t.length > 1;
    if (negated) t = t.slice(1);
    const colon = t.indexOf(':');
    const key = colon > 0 ? t.slice(0, colon).toLowerCase() : '';
    if (colon > 0 && KEYS.has(key as FilterKey)) {
      const values = t
        .slice(colon + 1)
        .split(',')
        .map((v) => v.trim().toLowerCase())
        .filter(Boolean);
      if (values.length === 0) {
        problems.push(`${key}: needs a value`);
        continue;
      }
      if (key === 'state') {
        const bad = values.filter((v) => !(v in STATES));
        if (bad.length) problems.push(`unknown state ${bad.join(', ')} (running, stopped, paused, crashed)`);
        terms.push({ key, values: values.map((v) => STATES[v] ?? v), negated });
      } else if (key === 'type') {
        const bad = values.filter((v) => !(v in TYPES));
        if (bad.length) problems.push(`unknown type ${bad.join(', ')} (kvm, container)`);
        terms.push({ key, values: values.map((v) => TYPES[v] ?? v), negated });
      } else terms.push({ key: key as FilterKey, values, negated });
      continue;
    }
    if (colon > 0 && /^[a-z]+$/.test(key)) problems.push(`unknown filter ${key}: (node:, tag:, state:, type:)`);
    terms.push({ key: 'text', values: [t.toLowerCase()], negated });
  }
  return { terms, problems };
}

/** `*` in a node or tag value matches any run of characters; otherwise the whole value must match. */
function same(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value.toLowerCase();
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
  return re.test(value);
}

function holds(key: FilterKey, value: string, row: Filterable): boolean {
  switch (key) {
    case 'node':
      return same(value, row.node);
    case 'tag':
      return row.tags.some((t) => same(value, t));
    case 'state':
      return row.state === value;
    case 'type':
      return row.type === value;
    case 'text':
      return row.name.toLowerCase().includes(value) || row.id.toLowerCase().includes(value) || row.ips.some((ip) => ip.includes(value));
  }
}

export function matches(f: Filter, row: Filterable): boolean {
  // Positive terms grouped by key: any alternative of the group holds; text terms each hold.
  const groups = new Map<string, boolean>();
  for (const t of f.terms) {
    const hit = t.values.some((v) => holds(t.key, v, row));
    if (t.negated) {
      if (hit) return false;
      continue;
    }
    if (t.key === 'text') {
      if (!hit) return false;
      continue;
    }
    groups.set(t.key, (groups.get(t.key) ?? false) || hit);
  }
  for (const ok of groups.values()) if (!ok) return false;
  return true;
}
