/**
 * The OMS_METRICS_ALLOW setting: addresses and CIDR ranges that may scrape /metrics without a
 * token. Parsed once at start-up; a malformed entry stops the gateway rather than silently
 * opening (or closing) the endpoint. Only the socket's own peer address is checked, never a
 * forwarded-for header, which any client could write.
 */
import { BlockList, isIP } from 'node:net';

export interface AllowList {
  /** Whether the socket peer `address` is covered; undefined (socket already gone) never is. */
  allows(address: string | undefined): boolean;
  readonly size: number;
  /** The entries as given, for a log line at start-up. */
  readonly entries: readonly string[];
}

export function parseAllowList(spec: string, setting = 'OMS_METRICS_ALLOW'): AllowList {
  // node's BlockList is a plain set of ranges; here it lists what is let in.
  const list = new BlockList();
  const entries = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(address);
    if (family === 0) throw new Error(`${setting}: ${JSON.stringify(entry)} is not an IP address or CIDR range`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) {
      list.addAddress(address, type);
      continue;
    }
    const bitsText = entry.slice(slash + 1);
    const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
    if (!(bits >= 0 && bits <= (family === 4 ? 32 : 128))) throw new Error(`${setting}: ${JSON.stringify(entry)} has a bad prefix length`);
    list.addSubnet(address, bits, type);
  }
  return {
    size: entries.length,
    entries,
    // BlockList matches an IPv4-mapped IPv6 peer (::ffff:a.b.c.d, as dual-stack sockets report) against IPv4 ranges.
    allows(peer) {
      if (!peer || entries.length === 0) return false;
      const family = isIP(peer);
      return family !== 0 && list.check(peer, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
