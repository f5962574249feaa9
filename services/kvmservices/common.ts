/** Pieces every kvmservices method file shares: params, permissions, guest state lookups. */
import { paths, type Privilege } from '../../src/auth/permissions.ts';
import { nodeName, vmName } from '../../src/rpc/fields.ts';
import { oms } from '../../src/rpc/errors.ts';
import { kvmGuest } from '../../src/locks/guest-locks.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import * as cmd from './commands.ts';
import { readDomain, type DomainInfo } from './domain.ts';
import { virshRun, type KvmNode } from './node.ts';
import { parseDomstate, parseDomstateReason, parseNodeinfo, type NodeInfo } from './parse.ts';

export const serverParam = { name: 'server_hostname', schema: nodeName } as const;
export const vmParam = { name: 'kvm_vm_name', schema: vmName } as const;

export const onVm = (privilege: Privilege) => ({ privilege, path: (p: { server_hostname: string; kvm_vm_name: string }) => paths.vm(p.server_hostname, p.kvm_vm_name) });
export const onNode = (privilege: Privilege) => ({ privilege, path: (p: { server_hostname: string }) => paths.node(p.server_hostname) });

/** What most kvmservices changes hold while they run: the guest kvm_vm_name (src/locks). */
export const lockVm = {
  summary: 'the KVM guest kvm_vm_name on server_hostname',
  guests: (p: { server_hostname: string; kvm_vm_name: string }) => [kvmGuest(p.server_hostname, p.kvm_vm_name)],
} as const;

/** The same, for a method whose task keeps the guest held after the call answered. */
export const lockVmUntil = (task: string) => ({ summary: `the KVM guest kvm_vm_name on server_hostname, until the ${task} task ends`, guests: lockVm.guests }) as const;

export const canSeeVm = (ctx: CallContext, node: string, vm: string): boolean => ctx.can('vm.view', paths.vm(node, vm));

/** `virsh domstate`: `running`, `shut off`, `paused`, ...; UnknownVmError when there is no such guest. */
export async function domState(n: KvmNode, vm: string): Promise<string> {
  return parseDomstate(await virshRun(n, cmd.domstate(n.uri, vm), { vm }));
}

/** `virsh domstate --reason`: the state and, for most states, libvirt's reason for it. */
export async function domStateReason(n: KvmNode, vm: string): Promise<{ state: string; reason?: string }> {
  return parseDomstateReason(await virshRun(n, cmd.domstateReason(n.uri, vm), { vm }));
}

export const isStopped = (state: string): boolean => state === 'shut off' || state === 'crashed';

export async function nodeInfo(n: KvmNode): Promise<NodeInfo> {
  return parseNodeinfo(await virshRun(n, cmd.nodeinfo(n.uri)));
}

/** The persistent definition: what the guest boots with next, which is what settings edit. */
export async function inactiveDomain(n: KvmNode, vm: string): Promise<DomainInfo> {
  return readDomain(await virshRun(n, cmd.dumpxml(n.uri, vm, true), { vm }));
}

/** Refuses (VmExistsError) when a guest of that name is defined on the node. */
export async function mustNotExist(n: KvmNode, vm: string): Promise<void> {
  try {
    await domState(n, vm);
  } catch (e) {
    if ((e as { omsName?: string }).omsName === 'UnknownVmError') return;
    throw e;
  }
  throw oms('VmExistsError', { vm, node: n.name });
}

export async function mustBeStopped(n: KvmNode, vm: string, reason: string): Promise<void> {
  const state = await domState(n, vm);
  if (!isStopped(state)) throw oms('VmStateError', { vm, node: n.name, state, reason });
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
