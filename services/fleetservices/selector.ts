/**
 * Fleet selectors: which nodes or guests a fleet call or bulk action is for, as one line of
 * terms (or a list of them), in the manner of `oms vm ls --filter`:
 *
 *   all | *            everything of the target kind
 *   NAME               nodes: a node name (glob * ?); guests: text in the guest's name (or a glob)
 *   node:NAME          on that node (glob; a,b lists)
 *   tag:T              nodes: tagged T; guests: the guest is tagged T
 *   pool:P             guests in pool P
 *   state:S            running, stopped (shutdown), paused
 *   type:T             kvm, ct (openvz, container, lxc)
 *   name:GLOB          the guest's (or node's) name
 *   -TERM              not that
 *
 * Terms of one key are alternatives (`omsnode1 omsnode2`: either), different keys all apply
 * (`tag:web state:running`: both), and a negated term excludes. Pure: no database, no node; the
 * targets' facts are gathered elsewhere (targets.ts) and matched here.
 */
import { oms } from '../../src/rpc/errors.ts';
import { poolName, tagName } from '../../src/rpc/fields.ts';

export type TermKey = 'node' | 'tag' | 'pool' | 'state' | 'type' | 'name' | 'text';
export type GuestState = 'running' | 'stopped' | 'paused';
export type GuestType = 'kvm' | 'ct';

export interface Term {
  readonly key: TermKey;
  readonly value: string;
  readonly negate: boolean;
}

export interface Selector {
  /** The selector as given, for messages. */
  readonly text: string;
  /** `all` was given: positive terms are not needed to match. */
  readonly all: boolean;
  readonly terms: readonly Term[];
}

export interface NodeFacts {
  readonly name: string;
  readonly tags: readonly string[];
}

export interface GuestFacts {
  readonly node: string;
  readonly type: GuestType;
  /** Domain name (KVM) or container id. */
  readonly id: string;
  /** Domain name (KVM) or the container's host name. */
  readonly name: string;
  readonly state: string;
  readonly tags: readonly string[];
  readonly pools: readonly string[];
}

const MAX_TERMS = 64;
const MAX_TERM = 128;
const STATES: Record<string, GuestState> = { running: 'running', stopped: 'stopped', shutdown: 'stopped', 'shut-off': 'stopped', paused: 'paused' };
const TYPES: Record<string, GuestType> = { kvm: 'kvm', ct: 'ct', openvz: 'ct', container: 'ct', lxc: 'ct' };
const GLOB = /^[A-Za-z0-9_.+*?-]{1,253}$/;
/** Keys that only make sense for guests. */
const GUEST_KEYS: readonly TermKey[] = ['pool', 'state', 'type'];

const bad = (text: string, reason: string) => oms('FleetSelectorError', { selector: JSON.stringify(text).slice(0, 300), reason });

function term(text: string, raw: string): Term | 'all' {
  const negate = raw.startsWith('-');
  const body = negate ? raw.slice(1) : raw;
  if (body === 'all' || body === '*') {
    if (negate) throw bad(text, `${raw}: "all" cannot be negated`);
    return 'all';
  }
  const colon = body.indexOf(':');
  const key = colon < 0 ? 'text' : body.slice(0, colon);
  const value = colon < 0 ? body : body.slice(colon + 1);
  if (value === '') throw bad(text, `${raw}: a value is missing`);
  switch (key) {
    case 'node':
    case 'name':
    case 'text':
      for (const v of value.split(',')) if (!GLOB.test(v)) throw bad(text, `${raw}: not a name or glob (letters, digits, _ . + - * ?)`);
      return { key, value, negate };
    case 'tag':
      if (!tagName.safeParse(value).success) throw bad(text, `${raw}: not a valid tag name`);
      return { key, value, negate };
    case 'pool':
      if (!poolName.safeParse(value).success) throw bad(text, `${raw}: not a valid pool name`);
      return { key, value, negate };
    case 'state': {
      const s = STATES[value.toLowerCase()];
      if (!s) throw bad(text, `${raw}: state is one of running, stopped, paused`);
      return { key, value: s, negate };
    }
    case 'type': {
      const t = TYPES[value.toLowerCase()];
      if (!t) throw bad(text, `${raw}: type is kvm or ct`);
      return { key, value: t, negate };
    }
    default:
      throw bad(text, `${raw}: unknown key ${JSON.stringify(key)} (node, tag, pool, state, type, name)`);
  }
}

/** Parses a selector: a line of terms separated by spaces, or a list of terms (a tag with spaces needs the list). */
export function parseSelector(input: string | readonly string[]): Selector {
  const text = typeof input === 'string' ? input : input.join(' ');
  const raws = typeof input === 'string' ? input.split(/\s+/).filter(Boolean) : input.map((s) => s.trim()).filter(Boolean);
  if (raws.length === 0) throw bad(text, 'empty; say "all" to mean every target');
  if (raws.length > MAX_TERMS) throw bad(text, `more than ${MAX_TERMS} terms`);
  let all = false;
  const terms: Term[] = [];
  for (const raw of raws) {
    if (raw.length > MAX_TERM) throw bad(text, `a term is longer than ${MAX_TERM} characters`);
    const t = term(text, raw);
    if (t === 'all') all = true;
    else terms.push(t);
  }
  return { text, all, terms };
}

/** Whether the selector names guests (pool, state or type terms); a node selector has none. */
export const selectsGuests = (s: Selector): boolean => s.terms.some((t) => GUEST_KEYS.includes(t.key));

function globMatch(pattern: string, value: string): boolean {
  return pattern.split(',').some((p) => new RegExp('^' + p.replace(/[.+-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$').test(value));
}

/** Name text: a glob when it has * or ?, else a substring. */
const textMatch = (pattern: string, value: string): boolean => (/[*?]/.test(pattern) ? globMatch(pattern, value) : value.includes(pattern));

/** Alternatives within a key, all keys, no negated term: see the module comment. Only negations: all but those. */
function matches(s: Selector, test: (t: Term) => boolean): boolean {
  const byKey = new Map<TermKey, Term[]>();
  for (const t of s.terms) if (!t.negate) byKey.set(t.key, [...(byKey.get(t.key) ?? []), t]);
  for (const alternatives of byKey.values()) if (!alternatives.some(test)) return false;
  return !s.terms.some((t) => t.negate && test(t));
}

/** Refuses guest terms in a selector of nodes (a fleet call of a node method). */
export function assertNodeSelector(s: Selector): void {
  const g = s.terms.find((t) => GUEST_KEYS.includes(t.key));
  if (g) throw bad(s.text, `${g.negate ? '-' : ''}${g.key}:${g.value} selects guests, and this runs on nodes`);
}

export function matchNode(s: Selector, n: NodeFacts): boolean {
  return matches(s, (t) => {
    switch (t.key) {
      case 'node':
      case 'name':
      case 'text':
        return globMatch(t.value, n.name);
      case 'tag':
        return n.tags.includes(t.value);
      default:
        return false;
    }
  });
}

/** The guest's state word as selectors use it. */
export function guestState(state: string): string {
  const s = state.toLowerCase();
  return s === 'shutdown' || s === 'shut off' || s === 'crashed' || s === 'stopped' ? 'stopped' : s === 'frozen' ? 'paused' : s;
}

export function matchGuest(s: Selector, g: GuestFacts): boolean {
  return matches(s, (t) => {
    switch (t.key) {
      case 'node':
        return globMatch(t.value, g.node);
      case 'name':
        return globMatch(t.value, g.name) || globMatch(t.value, g.id);
      case 'text':
        return textMatch(t.value, g.name) || textMatch(t.value, g.id);
      case 'tag':
        return g.tags.includes(t.value);
      case 'pool':
        return g.pools.includes(t.value);
      case 'state':
        return guestState(g.state) === t.value;
      case 'type':
        return g.type === t.value;
    }
  });
}

/** Node names a guest selector can only be on (node: terms), to list fewer nodes; undefined: any. */
export function nodeNarrowing(s: Selector): ((node: string) => boolean) | undefined {
  const pos = s.terms.filter((t) => t.key === 'node' && !t.negate);
  const neg = s.terms.filter((t) => t.key === 'node' && t.negate);
  if (!pos.length && !neg.length) return undefined;
  return (node) => (pos.length === 0 || pos.some((t) => globMatch(t.value, node))) && !neg.some((t) => globMatch(t.value, node));
}

/** Pools a guest selector can only be in (pool: terms, not negated); undefined: any. */
export function poolNarrowing(s: Selector): string[] | undefined {
  const pos = s.terms.filter((t) => t.key === 'pool' && !t.negate).map((t) => t.value);
  return pos.length ? pos : undefined;
}
