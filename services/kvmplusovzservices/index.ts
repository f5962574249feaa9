/**
 * KVMPlusOvzService: a node's KVM guests (libvirt) and containers (OpenVZService's driver) in one
 * listing, each with its type, state and resources. The OMS document names the service without
 * methods; list_vms follows the KVMService/OpenVZService list_vms style.
 */
import { method, service } from '../../src/rpc/declare.ts';
import { nodeName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { isOmsError } from '../../src/rpc/errors.ts';
import { poolList } from '../../src/fleet/pools.ts';
import { driverFor } from '../ovzservices/ct.ts';
import { rows } from '../ovzservices/listing.ts';
import { dominfoMany, virshListAll } from './commands.ts';
import { parseDominfoMany, parseVirshList } from './parse.ts';

const DEFAULT_URI = 'qemu:///system';

/** libvirt's state words mapped to the OMS ones (list_vms_status uses running/shutdown/paused). */
const kvmState = (s: string): string => (s === 'shut off' ? 'shutdown' : s === 'in shutdown' ? 'running' : s);

/** A node's KVM guests the caller may see (also the fleet's guest listing, services/fleetservices). */
export async function kvmGuests(ctx: CallContext, node: string) {
  const n = ctx.node(node);
  const uri = n.settings.libvirtUri ?? DEFAULT_URI;
  const listed = await n.exec(virshListAll(uri), { okExitCodes: [0, 127] });
  // A node without libvirt's client has no KVM guests to list; its containers still are.
  if (listed.code === 127) return [];
  const names = parseVirshList(listed.stdout)
    .map((r) => r.name)
    .filter((name) => ctx.can('vm.view', paths.vm(node, name)));
  if (names.length === 0) return [];
  const infos = parseDominfoMany((await n.exec(dominfoMany(uri, names))).stdout);
  const pools = ctx.app.pools.ofNode(node);
  return infos.map((d) => ({
    id: d.name,
    name: d.name,
    type: 'kvm',
    state: kvmState(d.state),
    status: d.state === 'running' ? 1 : 0,
    vcpu: d.vcpu,
    memory: String(d.usedMemKiB),
    max_memory: String(d.maxMemKiB),
    cpu_time: String(Math.round(d.cpuTimeS * 1e9)),
    onboot: d.autostart ? 'yes' : 'no',
    tags: ctx.app.tags.ofVm(node, d.name),
    pools: poolList(pools, 'kvm', d.name),
  }));
}

/** A node's containers the caller may see; none on a node without LXC. */
export async function containers(ctx: CallContext, node: string) {
  let list: Awaited<ReturnType<typeof rows>>;
  try {
    list = await rows(ctx, driverFor(ctx, node), node);
  } catch (e) {
    // A node without LXC has no containers; its KVM guests still are listed.
    if (isOmsError(e) && e.omsName === 'OpenVZNotCapable') return [];
    throw e;
  }
  const pools = ctx.app.pools.ofNode(node);
  return list.map((r) => ({
    id: r.info.id,
    name: r.config.name,
    type: 'openvz',
    state: r.info.state === 'running' ? 'running' : r.info.state === 'stopped' ? 'shutdown' : r.info.state === 'frozen' ? 'paused' : r.info.state,
    status: r.info.state === 'running' ? 1 : 0,
    vcpu: r.config.vcpu,
    memory: String(Math.round(r.info.memoryBytes / 1024)),
    max_memory: String(r.config.memory * 1024),
    cpu_time: String(r.info.cpuTimeNs),
    onboot: r.config.onboot ? 'yes' : 'no',
    ip_address: r.config.ip_address ?? '',
    tags: ctx.app.tags.ofVm(node, r.info.id),
    pools: poolList(pools, 'ct', r.info.id),
  }));
}

export const kvmplusovzservices = service({
  name: 'kvmplusovzservices',
  aliases: ['kvmplusovz', 'KVMPlusOvzService'],
  description: 'KVMPlusOvzService: KVM guests and containers of a node in one listing.',
  envelope: 'oms',
  methods: [
    method({
      name: 'list_vms',
      description:
        "A node's KVM guests and containers: id, name, type (kvm, openvz), state (running, shutdown, paused), status (1 running), vcpu, memory in use and max_memory (KiB), cpu_time (ns), onboot, tags, pools (the resource pool it is in, as a list: [] or one); containers also ip_address.",
      auth: 'session',
      permission: { privilege: 'node.view', path: (p) => paths.node(p.server_hostname) },
      cacheable: true,
      node: 'server_hostname',
      params: [{ name: 'server_hostname', schema: nodeName }] as const,
      async run(ctx, { server_hostname }) {
        const [kvm, ct] = await Promise.all([kvmGuests(ctx, server_hostname), containers(ctx, server_hostname)]);
        return [...kvm, ...ct];
      },
    }),
  ],
});
