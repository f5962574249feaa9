/**
 * Guest NICs: which MAC addresses the node's guests already use, a MAC for a new NIC, and which
 * libvirt network a new guest's NIC joins (the node's `defaultGuestNetwork` setting, or a call's
 * own choice).
 */
import { z } from 'zod';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import * as cmd from './commands.ts';
import { readDomain } from './domain.ts';
import { netName } from './fields.ts';
import { newMac } from './macs.ts';
import { virshRun, type KvmNode } from './node.ts';
import { parseNameList, parseNetList } from './parse.ts';

/** libvirt's own NAT network, which a fresh libvirt install defines: the automatic default. */
export const LIBVIRT_DEFAULT_NETWORK = 'default';

/** A call's choice of network for a new guest's NIC: a network name, or '' / null for no NIC. */
export const guestNetworkParam = z.union([netName, z.literal(''), z.null()]);

/**
 * MAC -> guest for every NIC of every guest on the node: each definition, and the live
 * configuration of running guests (a NIC hot-plugged without --config is only there).
 */
export async function macsInUse(n: KvmNode): Promise<Map<string, string>> {
  const [all, running] = await Promise.all([virshRun(n, cmd.listAllNames(n.uri)), virshRun(n, cmd.virsh(n.uri, 'list', '--name'))]);
  const dumps = [...parseNameList(all).map((vm) => ({ vm, inactive: true })), ...parseNameList(running).map((vm) => ({ vm, inactive: false }))];
  const used = new Map<string, string>();
  await Promise.all(
    dumps.map(async ({ vm, inactive }) => {
      try {
        for (const i of readDomain(await virshRun(n, cmd.dumpxml(n.uri, vm, inactive), { vm })).interfaces) if (i.mac) used.set(i.mac.toLowerCase(), vm);
      } catch (e) {
        // Undefined between the listing and the dump: it uses no MAC any more.
        if (!(isOmsError(e) && e.omsName === 'UnknownVmError')) throw e;
      }
    }),
  );
  return used;
}

/** The MAC for a new NIC: the caller's, refused when another guest has it, or a new one in 52:54:00. */
export async function macForNewNic(n: KvmNode, wanted?: string): Promise<string> {
  const used = await macsInUse(n);
  if (wanted === undefined) return newMac(new Set(used.keys()));
  const holder = used.get(wanted);
  if (holder !== undefined) throw oms('MacInUseError', { mac: wanted, vm: holder, node: n.name });
  return wanted;
}

export interface NetworkChoice {
  /** null: the guest gets no NIC. */
  network: string | null;
  /** Why, for the task log: which rule chose it. */
  reason: string;
  /** Chosen by name (the call or the node setting): it must exist, and is not skipped quietly. */
  named: boolean;
}

/**
 * Which network a new guest's NIC joins. In order: the call's own `network` param ('' or null:
 * none); the node's `defaultGuestNetwork` setting ('': none); unset, libvirt's `default` network
 * when it is defined and active, and no NIC otherwise, because a guest create must not fail
 * for a network nobody asked for. Pure.
 */
export function chooseGuestNetwork(asked: string | null | undefined, setting: string | null | undefined, nets: readonly { name: string; active: boolean }[]): NetworkChoice {
  if (asked !== undefined) return asked ? { network: asked, reason: 'the call\'s network param', named: true } : { network: null, reason: 'the call asked for no NIC', named: false };
  if (setting === '') return { network: null, reason: 'the node setting defaultGuestNetwork is empty (no NIC)', named: false };
  if (setting) return { network: setting, reason: 'the node setting defaultGuestNetwork', named: true };
  const d = nets.find((x) => x.name === LIBVIRT_DEFAULT_NETWORK);
  if (d?.active) return { network: d.name, reason: `libvirt's ${LIBVIRT_DEFAULT_NETWORK} network (defaultGuestNetwork unset)`, named: false };
  return { network: null, reason: d ? `libvirt's ${LIBVIRT_DEFAULT_NETWORK} network is not active (defaultGuestNetwork unset)` : `no libvirt network named ${LIBVIRT_DEFAULT_NETWORK} (defaultGuestNetwork unset)`, named: false };
}

/**
 * The network a new guest's NIC joins (null: no NIC), checked to exist (UnknownNetworkError) and
 * to be active when the guest is started at once (NetworkInactiveError).
 */
export async function guestNetwork(n: KvmNode, asked: string | null | undefined, startsNow: boolean): Promise<{ network: string | null; reason: string }> {
  const nets = parseNetList(await virshRun(n, cmd.netList(n.uri)));
  const c = chooseGuestNetwork(asked, n.handle.settings.defaultGuestNetwork, nets);
  if (c.network === null) return { network: null, reason: c.reason };
  const row = nets.find((x) => x.name === c.network);
  if (!row) throw oms('UnknownNetworkError', { network: c.network, node: n.name });
  if (startsNow && !row.active) throw oms('NetworkInactiveError', { network: c.network, node: n.name, reason: `chosen by ${c.reason}; the new guest starts at once, so start the network or choose another` });
  return { network: c.network, reason: c.reason };
}
