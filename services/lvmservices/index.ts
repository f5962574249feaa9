/**
 * LVMService: volume groups and logical volumes of nodes (lvm2).
 *
 * list_vg and list_lv answer in the OMS document's shape (vgdisplay/lvdisplay lines split into
 * words); list_volume_groups and list_logical_volumes give the same facts structured, sizes in
 * bytes. create_lv, resize_lv and remove_lv are checked against the node first: the VG's free
 * extents, existing names, and (remove, shrink) the libvirt guests whose disks use the LV.
 *
 * Node setting (read loosely until src/fleet/nodes.ts declares it): `lvmDriverLoaded: false`
 * adds `--driverloaded n` to every LVM command, for hosts without device-mapper.
 */
import { z } from 'zod';
import type { NodeHandle } from '../../src/fleet/access.ts';
import type { Argv } from '../../src/nodes/command.ts';
import { method, service } from '../../src/rpc/declare.ts';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { lvmName, nodeName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import * as cmd from './commands.ts';
import { guestDisks, parseGuestDisks, userOf } from './guest-disks.ts';
import { allocated, lvPaths, parseDisplay, parseLvs, parseVgs, type LogicalVolume, type VolumeGroup } from './parse.ts';

const view = { privilege: 'node.view', path: (p: { server_hostname: string }) => paths.node(p.server_hostname) } as const;
const admin = { privilege: 'node.admin', path: (p: { server_hostname: string }) => paths.node(p.server_hostname) } as const;
const server = { name: 'server_hostname', schema: nodeName } as const;
const vgParam = { name: 'vg_name', schema: lvmName } as const;
const lvParam = { name: 'lv_name', schema: lvmName } as const;
/** MiB, up to 64 TiB. */
const sizeParam = { name: 'size_mb', schema: z.number().int().min(1).max(64 * 1024 * 1024), description: 'Size in MiB (rounded up to whole extents).' } as const;
const force = { name: 'force', schema: z.boolean(), optional: true } as const;

export const lvmOptions = (node: NodeHandle): cmd.LvmOptions => ({ driverLoaded: (node.settings as Record<string, unknown>).lvmDriverLoaded !== false });

/** LVM's last complaint, without its warnings about disabled activation and leaked descriptors. */
export function lvmReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('WARNING:') && !/^File descriptor \d+ .* leaked/.test(l));
  return lines.at(-1) ?? 'unknown error';
}

async function run(node: NodeHandle, argv: Argv): Promise<string> {
  try {
    return (await node.exec(argv)).stdout;
  } catch (e) {
    if (isOmsError(e) && e.omsName === 'NodeCommandError') throw oms('LvmCommandError', { node: node.name, reason: lvmReason(String(e.vars.stderr)) });
    throw e;
  }
}

async function inventory(node: NodeHandle, o: cmd.LvmOptions): Promise<{ vgs: VolumeGroup[]; lvs: LogicalVolume[] }> {
  const [v, l] = await Promise.all([run(node, cmd.vgs(o)), run(node, cmd.lvs(o))]);
  return { vgs: parseVgs(v), lvs: parseLvs(l) };
}

function requireVg(node: string, vgs: VolumeGroup[], vg: string): VolumeGroup {
  const found = vgs.find((v) => v.name === vg);
  if (!found) throw oms('UnknownVolumeGroupError', { node, vg });
  return found;
}

function requireLv(node: string, lvs: LogicalVolume[], vg: string, lv: string): LogicalVolume {
  const found = lvs.find((l) => l.vg === vg && l.name === lv);
  if (!found) throw oms('UnknownLogicalVolumeError', { node, vg, lv });
  return found;
}

async function guestUsing(node: NodeHandle, vg: string, lv: string): Promise<string | undefined> {
  const uri = node.settings.libvirtUri ?? 'qemu:///system';
  const out = await node.exec(guestDisks(uri));
  return userOf(parseGuestDisks(out.stdout), lvPaths(vg, lv));
}

export const lvmservices = service({
  name: 'lvmservices',
  aliases: ['lvm', 'LVMService'],
  description: 'LVMService: volume groups and logical volumes of nodes.',
  envelope: 'oms',
  methods: [
    method({
      name: 'list_vg',
      description: "Volume groups as in the OMS document: per VG, its `vgdisplay` lines split into words (e.g. ['VG', 'Size', '1020.00', 'MiB']).",
      auth: 'session',
      permission: view,
      cacheable: true,
      node: 'server_hostname',
      params: [server] as const,
      async run(ctx, { server_hostname }) {
        const node = ctx.node(server_hostname);
        return parseDisplay(await run(node, cmd.vgdisplay(lvmOptions(node))));
      },
    }),
    method({
      name: 'list_lv',
      description: 'Logical volumes in the shape of list_vg: per LV, its `lvdisplay` lines split into words.',
      auth: 'session',
      permission: view,
      cacheable: true,
      node: 'server_hostname',
      params: [server] as const,
      async run(ctx, { server_hostname }) {
        const node = ctx.node(server_hostname);
        return parseDisplay(await run(node, cmd.lvdisplay(lvmOptions(node))));
      },
    }),
    method({
      name: 'list_volume_groups',
      description: 'Volume groups, structured: name, uuid, attr, size and free (bytes), extent_size (bytes), extent_count, free_extents, lv_count, pv_count.',
      auth: 'session',
      permission: view,
      cacheable: true,
      node: 'server_hostname',
      params: [server] as const,
      async run(ctx, { server_hostname }) {
        const node = ctx.node(server_hostname);
        return parseVgs(await run(node, cmd.vgs(lvmOptions(node))));
      },
    }),
    method({
      name: 'list_logical_volumes',
      description: 'Logical volumes, structured (optionally of one VG): name, vg, uuid, attr, size (bytes), path, origin.',
      auth: 'session',
      permission: view,
      cacheable: true,
      node: 'server_hostname',
      params: [server, { ...vgParam, optional: true }] as const,
      async run(ctx, { server_hostname, vg_name }) {
        const node = ctx.node(server_hostname);
        const o = lvmOptions(node);
        const { vgs, lvs } = await inventory(node, o);
        if (vg_name !== undefined) requireVg(node.name, vgs, vg_name);
        return lvs.filter((l) => vg_name === undefined || l.vg === vg_name);
      },
    }),
    method({
      name: 'create_lv',
      description: 'Creates a logical volume of size_mb MiB in a VG; refused when the name exists or the VG lacks free extents. Returns the new LV (structured).',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_hostname',
      params: [server, vgParam, lvParam, sizeParam] as const,
      async run(ctx, p) {
        const node = ctx.node(p.server_hostname);
        const o = lvmOptions(node);
        const { vgs, lvs } = await inventory(node, o);
        const vg = requireVg(node.name, vgs, p.vg_name);
        if (lvs.some((l) => l.vg === p.vg_name && l.name === p.lv_name)) throw oms('LogicalVolumeExistsError', { node: node.name, vg: p.vg_name, lv: p.lv_name });
        const needed = allocated(p.size_mb, vg.extent_size);
        if (needed > vg.free) throw oms('InsufficientSpaceError', { node: node.name, vg: p.vg_name, free: vg.free, needed });
        await run(node, cmd.lvcreate(o, p.vg_name, p.lv_name, p.size_mb));
        return requireLv(node.name, parseLvs(await run(node, cmd.lvs(o))), p.vg_name, p.lv_name);
      },
    }),
    method({
      name: 'resize_lv',
      description: 'Sets the size of a logical volume to size_mb MiB. Growing needs the free extents; shrinking destroys data at the end and is refused unless force is true, and always while a guest uses the LV. Returns the LV (structured).',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_hostname',
      params: [server, vgParam, lvParam, sizeParam, force] as const,
      async run(ctx, p) {
        const node = ctx.node(p.server_hostname);
        const o = lvmOptions(node);
        const { vgs, lvs } = await inventory(node, o);
        const vg = requireVg(node.name, vgs, p.vg_name);
        const lv = requireLv(node.name, lvs, p.vg_name, p.lv_name);
        const target = allocated(p.size_mb, vg.extent_size);
        if (target === lv.size) return lv;
        const shrink = target < lv.size;
        if (shrink) {
          if (!p.force) throw oms('VolumeShrinkError', { vg: p.vg_name, lv: p.lv_name, from: lv.size, to: target });
          const guest = await guestUsing(node, p.vg_name, p.lv_name);
          if (guest) throw oms('VolumeInUseError', { node: node.name, vg: p.vg_name, lv: p.lv_name, guest });
        } else if (target - lv.size > vg.free) {
          throw oms('InsufficientSpaceError', { node: node.name, vg: p.vg_name, free: vg.free, needed: target - lv.size });
        }
        await run(node, cmd.lvresize(o, p.vg_name, p.lv_name, p.size_mb, shrink));
        return requireLv(node.name, parseLvs(await run(node, cmd.lvs(o))), p.vg_name, p.lv_name);
      },
    }),
    method({
      name: 'remove_lv',
      description: 'Removes a logical volume; refused while a libvirt guest (running or defined) has it as a disk. Returns 0.',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_hostname',
      params: [server, vgParam, lvParam] as const,
      async run(ctx, p) {
        const node = ctx.node(p.server_hostname);
        const o = lvmOptions(node);
        const { vgs, lvs } = await inventory(node, o);
        requireVg(node.name, vgs, p.vg_name);
        requireLv(node.name, lvs, p.vg_name, p.lv_name);
        const guest = await guestUsing(node, p.vg_name, p.lv_name);
        if (guest) throw oms('VolumeInUseError', { node: node.name, vg: p.vg_name, lv: p.lv_name, guest });
        await run(node, cmd.lvremove(o, p.vg_name, p.lv_name));
        return 0;
      },
    }),
  ],
});
