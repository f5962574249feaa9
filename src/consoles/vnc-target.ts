/**
 * Where a guest's VNC server listens on its node, asked afresh for every set-up and every connect.
 *
 * Never remembered between connects: with libvirt's autoport a guest that restarts may get
 * another port, and its old one may go to another guest, whose screen a remembered port would
 * then show. The question goes to the node's resident console virsh (one libvirt call, ~2 ms);
 * whatever that cannot answer cleanly (not running, an error, a name it may not be sent) is asked
 * of a one-off virsh through the quoting executor, which also gives the typed error.
 */
import { isOmsError, oms } from '../rpc/errors.ts';
import { vmName } from '../rpc/fields.ts';
import type { NodeHandle } from '../fleet/access.ts';
import { consoleVirsh, vncDisplay, vncDisplayWords } from './commands.ts';
import { reasonOf, vncPort } from './parse.ts';

export interface VncTarget {
  readonly host: string;
  readonly port: number;
}

const DEFAULT_URI = 'qemu:///system';

/** The guest's VNC server; VNCRemoteSetUpError when it has none (not running, no such guest, no VNC). */
export async function vncTarget(node: NodeHandle, vm: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<VncTarget> {
  const uri = node.settings.libvirtUri ?? DEFAULT_URI;
  if (vmName.safeParse(vm).success) {
    try {
      const target = vncPort(await node.converse(consoleVirsh(uri), vncDisplayWords(vm), { timeoutMs: opts.timeoutMs }));
      if (target) return target;
    } catch (e) {
      // A libvirtd that does not answer in time would keep a one-off virsh waiting just the same.
      if (isOmsError(e) && e.omsName === 'FuncMethodTimeoutError') throw e;
    }
  }
  const r = await node.exec(vncDisplay(uri, vm), { okExitCodes: [0, 1], timeoutMs: opts.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
  const target = r.code === 0 ? vncPort(r.stdout) : undefined;
  if (!target) throw oms('VNCRemoteSetUpError', { node: node.name, vm, reason: r.code === 0 ? 'the guest has no VNC display' : reasonOf(r.stderr) });
  return target;
}
