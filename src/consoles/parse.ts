/** Pure readers of console-related command output. */
import { canonicalIpv6, IPv6, isIpv6 } from '../rpc/ip.ts';

/**
 * `virsh vncdisplay` prints `HOST:DISPLAY` (e.g. `127.0.0.1:0`, `[::1]:1`); the TCP port is
 * 5900 + DISPLAY. Returns undefined for anything else (no VNC graphics, unexpected text).
 */
export function vncPort(stdout: string): { host: string; port: number } | undefined {
  const line = stdout.split('\n').map((l) => l.trim()).find((l) => l !== '');
  const m = line ? /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):(\d{1,4})$/.exec(line) : null;
  if (!m) return undefined;
  const port = 5900 + Number(m[2]);
  if (port > 65535) return undefined;
  const bracketed = m[1].startsWith('[');
  const host = bracketed ? m[1].slice(1, -1) : m[1];
  // Brackets hold an IPv6 address and nothing else (virsh brackets only those).
  if (bracketed && !isIpv6(host)) return undefined;
  // A wildcard listen (none, 0.0.0.0, ::) is reached on the node's loopback of the same family.
  if (host === '' || host === '0.0.0.0') return { host: '127.0.0.1', port };
  if (bracketed && IPv6.parse(host).range() === 'unspecified') return { host: '::1', port };
  return { host: bracketed ? canonicalIpv6(host) : host, port };
}

/** `virsh ttyconsole` prints the pty path of the serial console. */
export function ttyPath(stdout: string): string | undefined {
  const line = stdout.trim();
  return /^\/dev\/pts\/\d+$/.test(line) ? line : undefined;
}

/** A node error's first line, short and without control characters, for an error's reason. */
export function reasonOf(stderr: string): string {
  const first = stderr.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? 'no reason given';
  return first.replace(/^error:\s*/, '').replace(/[^\x20-\x7e]/g, '?').slice(0, 160);
}
