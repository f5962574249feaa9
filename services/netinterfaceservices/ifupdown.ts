/**
 * Reads back the Debian ifupdown files persist.ts writes (oms-<bridge>, oms-<interface>) into the
 * state they were rendered from, so a test can hold what a node would bring up at boot against
 * its live state. Pure and strict: it reads the forms OMS writes and refuses anything else
 * (another option, a command other than the ones OMS renders, an `up` line without its `down`),
 * rather than silently dropping what it does not understand.
 */
import { isIpv4 } from '../../src/rpc/ip.ts';
import { routesStanzaName, type BridgeState, type NetConfig, type PersistedRoute, type RoutedInterface } from './persist.ts';

const bad = (file: string, why: string) => new Error(`${file}: ${why}`);

/**
 * Splits one shell line as /bin/sh would for the lines shellLine makes: words separated by
 * blanks, '...' quoted (the only quoting quote() uses; '\'' for a quote inside). Anything else a
 * shell would treat specially ($, `, ", \, ;, &, |, <, >) is refused, except a final `|| true`,
 * returned as `tolerant`.
 */
export function shellWords(line: string): { words: string[]; tolerant: boolean } {
  let text = line.trim();
  let tolerant = false;
  if (/\s\|\|\s+true$/.test(text)) {
    tolerant = true;
    text = text.replace(/\s\|\|\s+true$/, '');
  }
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === ' ' || c === '\t') {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in: ${line}`);
      cur = (cur ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '\\' && text[i + 1] === "'") {
      cur = (cur ?? '') + "'";
      i++;
    } else if (/[$`"\\;&|<>(){}*?[\]#~]/.test(c)) {
      throw new Error(`shell syntax OMS does not write: ${line}`);
    } else {
      cur = (cur ?? '') + c;
    }
  }
  if (cur !== undefined) words.push(cur);
  return { words, tolerant };
}

function cidr(file: string, s: string): { address: string; prefix: number } {
  if (s === 'default') return { address: '0.0.0.0', prefix: 0 };
  const [address, len, more] = s.split('/');
  const prefix = len === undefined ? 32 : Number(len);
  if (more !== undefined || !isIpv4(address) || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw bad(file, `not an IPv4 address/prefix: ${s}`);
  return { address, prefix };
}

/** `ip route add|replace|del DEST [via GW] dev DEV [metric M] [proto static]` -> the route and the verb. */
export function routeCommand(file: string, words: string[]): { verb: string; route: PersistedRoute } {
  const [ip, obj, verb, dst, ...rest] = words;
  if (ip !== 'ip' || obj !== 'route' || !['add', 'replace', 'del'].includes(verb) || dst === undefined) throw bad(file, `not a route command: ${words.join(' ')}`);
  const { address, prefix } = cidr(file, dst);
  const opts = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) {
    const [k, v] = [rest[i], rest[i + 1]];
    if (!['via', 'dev', 'metric', 'proto'].includes(k) || v === undefined || opts.has(k)) throw bad(file, `unexpected route option ${k}: ${words.join(' ')}`);
    opts.set(k, v);
  }
  const dev = opts.get('dev');
  if (!dev) throw bad(file, `route without dev: ${words.join(' ')}`);
  if (opts.has('proto') && opts.get('proto') !== 'static') throw bad(file, `route proto ${opts.get('proto')}`);
  const gateway = opts.get('via');
  if (gateway !== undefined && !isIpv4(gateway)) throw bad(file, `gateway ${gateway}`);
  const metric = opts.has('metric') ? Number(opts.get('metric')) : 0;
  if (!Number.isInteger(metric) || metric < 0) throw bad(file, `metric ${opts.get('metric')}`);
  return { verb, route: { destination: address, prefix, ...(gateway ? { gateway } : {}), dev, metric } };
}

interface Stanza {
  name: string;
  method: string;
  options: [string, string][];
  auto: boolean;
}

/** The stanzas of one file: `auto X` lines and `iface X inet METHOD` blocks with their option lines. */
export function stanzas(file: string, text: string): Stanza[] {
  const out: Stanza[] = [];
  const autos = new Set<string>();
  let cur: Stanza | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'auto') {
      for (const n of rest) autos.add(n);
      cur = undefined;
    } else if (key === 'iface') {
      const [name, family, method, ...more] = rest;
      if (family !== 'inet' || !method || more.length) throw bad(file, `unexpected iface line: ${line}`);
      cur = { name, method, options: [], auto: false };
      out.push(cur);
    } else if (cur) {
      cur.options.push([key, line.slice(key.length).trim()]);
    } else {
      throw bad(file, `line outside a stanza: ${line}`);
    }
  }
  for (const s of out) s.auto = autos.has(s.name);
  return out;
}

const key = (r: PersistedRoute) => `${r.destination}/${r.prefix} ${r.gateway ?? '-'} ${r.dev} ${r.metric}`;

/** `up` route commands and their `down` counterparts must name the same routes (ifdown removes what ifup added). */
function pairRoutes(file: string, ups: PersistedRoute[], downs: PersistedRoute[]): PersistedRoute[] {
  const a = ups.map(key).sort();
  const b = downs.map(key).sort();
  if (a.join('\n') !== b.join('\n')) throw bad(file, `up and down route lines differ: [${a.join(', ')}] vs [${b.join(', ')}]`);
  return ups;
}

function readBridge(file: string, s: Stanza): BridgeState {
  const b: BridgeState = { name: s.name, addresses: [], members: [], routes: [] };
  const downs: PersistedRoute[] = [];
  let ports = false;
  for (const [k, v] of s.options) {
    if (k === 'address') b.addresses.push(cidr(file, v));
    else if (k === 'gateway') b.gateway = cidr(file, v).address;
    else if (k === 'bridge_ports') {
      ports = true;
      b.members = v === 'none' ? [] : v.split(/\s+/);
    } else if (k === 'bridge_stp' || k === 'bridge_fd') continue;
    else if (k === 'up' || k === 'down') {
      const { words, tolerant } = shellWords(v);
      if (tolerant) throw bad(file, `a bridge's ${k} line is never tolerant: ${v}`);
      if (k === 'up' && words[0] === 'ip' && words[1] === 'addr') {
        const [, , verb, addr, dev, name, ...more] = words;
        if (verb !== 'add' || dev !== 'dev' || name !== s.name || more.length) throw bad(file, `unexpected address line: ${v}`);
        b.addresses.push(cidr(file, addr));
        continue;
      }
      const { verb, route } = routeCommand(file, words);
      if (route.dev !== s.name) throw bad(file, `route on ${route.dev} in the stanza of ${s.name}`);
      if (k === 'up' && verb === 'add') b.routes.push(route);
      else if (k === 'down' && verb === 'del') downs.push(route);
      else throw bad(file, `unexpected ${k} line: ${v}`);
    } else throw bad(file, `unexpected option ${k} in bridge ${s.name}`);
  }
  if (!ports) throw bad(file, `stanza ${s.name} has no bridge_ports`);
  if ((s.method === 'static') !== (b.addresses.length > 0)) throw bad(file, `method ${s.method} with ${b.addresses.length} addresses`);
  if (b.addresses.length > 1 && s.options.findIndex(([k]) => k === 'address') < 0) throw bad(file, 'extra addresses without a first one');
  b.routes = pairRoutes(file, b.routes, downs);
  if (b.gateway === undefined) delete b.gateway;
  return b;
}

function readRouted(file: string, s: Stanza): RoutedInterface {
  const pre = s.options.filter(([k]) => k === 'pre-up').map(([, v]) => shellWords(v));
  if (pre.length !== 1 || pre[0].tolerant || pre[0].words.length !== 2 || pre[0].words[0] !== 'ifup') throw bad(file, `stanza ${s.name} must bring its interface up first (one pre-up ifup IFACE)`);
  const name = pre[0].words[1];
  if (s.name !== routesStanzaName(name)) throw bad(file, `stanza ${s.name} brings up ${name}`);
  if (!s.auto) throw bad(file, `stanza ${s.name} is not auto: nothing would bring it up at boot`);
  const ups: PersistedRoute[] = [];
  const downs: PersistedRoute[] = [];
  for (const [k, v] of s.options) {
    if (k === 'pre-up') continue;
    if (k !== 'up' && k !== 'down') throw bad(file, `unexpected option ${k} in ${s.name}`);
    const { words, tolerant } = shellWords(v);
    const { verb, route } = routeCommand(file, words);
    if (route.dev !== name) throw bad(file, `route on ${route.dev} in the routes of ${name}`);
    // up: replace (never clashes with the distribution's gateway); down: tolerant del.
    if (k === 'up' && verb === 'replace' && !tolerant) ups.push(route);
    else if (k === 'down' && verb === 'del' && tolerant) downs.push(route);
    else throw bad(file, `unexpected ${k} line: ${v}`);
  }
  return { name, routes: pairRoutes(file, ups, downs) };
}

/**
 * The NetConfig a set of OMS files (name -> content) describes. Each file holds one stanza named
 * as its file name says: oms-<bridge> a bridge (bridge_ports), oms-<interface> the routes stanza
 * of a non-bridge interface.
 */
export function readConfigFiles(files: Record<string, string>): NetConfig {
  const config: NetConfig = { bridges: [], routed: [] };
  for (const [file, text] of Object.entries(files)) {
    const iface = file.startsWith('oms-') ? file.slice(4) : '';
    const list = stanzas(file, text);
    if (!iface || list.length !== 1) throw bad(file, `expected one stanza in a file named oms-<interface>, found ${list.length}`);
    const [s] = list;
    if (s.name === iface) {
      if (!s.auto) throw bad(file, `bridge ${s.name} is not auto`);
      config.bridges.push(readBridge(file, s));
    } else if (s.name === routesStanzaName(iface) && s.method === 'manual') {
      config.routed.push(readRouted(file, s));
    } else throw bad(file, `stanza ${s.name} in a file for ${iface}`);
  }
  return config;
}
