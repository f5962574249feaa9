/**
 * get_vm_runtime: what a running guest is doing now, after CloudSigma's server `runtime` object:
 * since when it runs, per NIC its traffic and IP addresses (and where each address was learnt),
 * per disk its I/O. vm_runtime_info (manage.ts) stays the cheaper counters-only call.
 */
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import * as cmd from './commands.ts';
import { onVm, serverParam, vmParam } from './common.ts';
import { readDomain, type InterfaceInfo } from './domain.ts';
import { DEFAULT_LIBVIRT_URI, exec, kvmNode, virshRun, type KvmNode } from './node.ts';
import { diskStats, isActiveState, parseDomifaddr, parseDomstats, parseNeighbours, parseProcessStart, stateName, virshMessage } from './parse.ts';

/**
 * Where a guest's addresses are learnt, tried in this order for the NICs still without one:
 * - lease: libvirt's DHCP leases of its own networks (dnsmasq), `virsh domifaddr --source lease`;
 * - arp: the node's neighbour table (`ip -j neigh`), what `--source arp` reads too; read directly
 *   because libvirt 9.0's reader fails on newer kernels ("wrong nlmsg len", seen on the lab);
 * - agent: the QEMU guest agent inside the guest, `virsh domifaddr --source agent`.
 */
export const ADDRESS_SOURCES = ['lease', 'arp', 'agent'] as const;
export type AddressSource = (typeof ADDRESS_SOURCES)[number];

export interface FoundAddress {
  mac: string;
  family: 'ipv4' | 'ipv6';
  address: string;
  /** null when the source does not know it (the neighbour table has addresses only). */
  prefix: number | null;
}

async function addressesFrom(n: KvmNode, vm: string, source: AddressSource): Promise<FoundAddress[] | { error: string }> {
  if (source === 'arp') {
    const r = await exec(n, cmd.ipNeigh);
    if (r.code !== 0) return { error: r.stderr.trim().split('\n')[0] || `ip exited ${r.code}` };
    return parseNeighbours(r.stdout).map((x) => ({ mac: x.mac, family: x.address.includes(':') ? 'ipv6' : 'ipv4', address: x.address, prefix: null }));
  }
  const r = await exec(n, cmd.domifaddr(n.uri, vm, source));
  if (r.code !== 0) return { error: virshMessage(r.stderr) };
  return parseDomifaddr(r.stdout).map((x) => ({ mac: x.mac, family: x.family, address: x.address, prefix: x.prefix }));
}

export interface SourceReport {
  source: AddressSource;
  /** false: the source failed (its message in error); true: it answered, with `addresses` of ours. */
  answered: boolean;
  addresses?: number;
  error?: string;
}

/**
 * Addresses of the guest's NICs, by MAC: each source in ADDRESS_SOURCES order is asked for the
 * NICs no earlier source knew; every address says which source it came from. Pure over `ask`.
 */
export async function findAddresses(
  macs: readonly string[],
  ask: (s: AddressSource) => Promise<FoundAddress[] | { error: string }>,
): Promise<{ byMac: Map<string, (Omit<FoundAddress, 'mac'> & { source: AddressSource })[]>; tried: SourceReport[] }> {
  const byMac = new Map<string, (Omit<FoundAddress, 'mac'> & { source: AddressSource })[]>();
  const tried: SourceReport[] = [];
  for (const source of ADDRESS_SOURCES) {
    const pending = macs.filter((m) => !byMac.has(m));
    if (pending.length === 0) break;
    const r = await ask(source);
    if (!Array.isArray(r)) {
      tried.push({ source, answered: false, error: r.error });
      continue;
    }
    const mine = r.filter((a) => pending.includes(a.mac));
    tried.push({ source, answered: true, addresses: mine.length });
    for (const a of mine) byMac.set(a.mac, [...(byMac.get(a.mac) ?? []), { family: a.family, address: a.address, prefix: a.prefix, source }]);
  }
  return { byMac, tried };
}

/**
 * When the guest's QEMU process started (ISO 8601, UTC), from libvirt's PID file and /proc on the
 * node; null when that cannot be read (a URI other than qemu:///system keeps its PID elsewhere).
 */
async function startedAt(n: KvmNode, vm: string): Promise<string | null> {
  if (n.uri !== DEFAULT_LIBVIRT_URI) return null;
  const pidFile = await exec(n, cmd.readFile(cmd.qemuPidFile(vm)));
  const pid = Number(pidFile.stdout.trim());
  if (pidFile.code !== 0 || !/^\d{1,9}$/.test(pidFile.stdout.trim())) return null;
  // The process may end between the two reads: then, as for a missing PID file, it is unknown.
  const r = await exec(n, cmd.procStart(pid));
  const at = r.stdout.lastIndexOf(`\n${pid} (`);
  if (r.code !== 0 || at < 0) return null;
  const s = parseProcessStart(r.stdout.slice(0, at), r.stdout.slice(at + 1));
  // A stale PID file could name another process by now.
  return s.comm.startsWith('qemu') ? new Date(Math.round(s.startedAt * 1000)).toISOString() : null;
}

const nicOf = (i: InterfaceInfo) => ({ mac: i.mac, type: i.type, source: i.source, model: i.model, target_dev: i.targetDev });

export const runtimeMethods: MethodDecl[] = [
  method({
    name: 'get_vm_runtime',
    description:
      'What a guest is doing now (after CloudSigma\'s server runtime): state; started_at (ISO 8601 UTC, when its QEMU process started; null when stopped or unknown); per NIC {mac, type, source, model, target_dev, io {rx_bytes, rx_packets, rx_errs, rx_drop, tx_bytes, tx_packets, tx_errs, tx_drop} as the guest sees them, ips [{address, family, prefix, source}]}, where each address\'s source is "lease" (libvirt\'s DHCP leases), "arp" (the node\'s neighbour table) or "agent" (the QEMU guest agent), asked in that order for the NICs still without one; ip_sources says what each source answered; per disk {dev, path, rd_reqs, rd_bytes, wr_reqs, wr_bytes, fl_reqs, capacity, allocation, physical}. A stopped guest has empty lists.',
    auth: 'session',
    permission: onVm('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, vmParam] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm }) {
      const n = kvmNode(ctx, server_hostname);
      const [stats, xml] = await Promise.all([virshRun(n, cmd.domstatsFull(n.uri, vm), { vm }), virshRun(n, cmd.dumpxml(n.uri, vm), { vm })]);
      const f = parseDomstats(stats).get(vm) ?? {};
      const state = stateName(f['state.state']);
      if (!isActiveState(f['state.state'])) return { state, started_at: null, nics: [], ip_sources: [], disks: [] };
      const num = (k: string) => (f[k] === undefined ? 0 : Number(f[k]));
      const nics = readDomain(xml).interfaces.filter((i) => i.mac);
      const [since, found] = await Promise.all([
        startedAt(n, vm),
        findAddresses(
          nics.map((i) => i.mac.toLowerCase()),
          (s) => addressesFrom(n, vm, s),
        ),
      ]);
      const counters = new Map(Array.from({ length: num('net.count') }, (_, i) => [f[`net.${i}.name`] ?? '', i]));
      return {
        state,
        started_at: since,
        nics: nics.map((i) => {
          const k = counters.get(i.targetDev);
          const c = (what: string) => (k === undefined ? 0 : num(`net.${k}.${what}`));
          return {
            ...nicOf(i),
            io: { rx_bytes: c('rx.bytes'), rx_packets: c('rx.pkts'), rx_errs: c('rx.errs'), rx_drop: c('rx.drop'), tx_bytes: c('tx.bytes'), tx_packets: c('tx.pkts'), tx_errs: c('tx.errs'), tx_drop: c('tx.drop') },
            ips: found.byMac.get(i.mac.toLowerCase()) ?? [],
          };
        }),
        ip_sources: found.tried,
        disks: diskStats(f),
      };
    },
  }),
];
