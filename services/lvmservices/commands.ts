/**
 * What LVMService runs on a node. VG and LV names were validated by fields.lvmName; sizes are
 * integers of MiB. Locale is pinned to C so vgdisplay/lvdisplay print the same words everywhere.
 *
 * `driverLoaded: false` adds `--driverloaded n` to every LVM command: the per-node switch for
 * hosts without device-mapper whose lvm.conf does not already disable activation (the lab's does).
 */
import type { Argv } from '../../src/nodes/command.ts';

export interface LvmOptions {
  driverLoaded: boolean;
}

const lvm = (o: LvmOptions, tool: string, ...args: string[]): Argv => ['env', 'LC_ALL=C', tool, ...(o.driverLoaded ? [] : ['--driverloaded', 'n']), ...args];

export const vgdisplay = (o: LvmOptions): Argv => lvm(o, 'vgdisplay');

export const lvdisplay = (o: LvmOptions): Argv => lvm(o, 'lvdisplay');

export const VG_FIELDS = 'vg_name,vg_uuid,vg_attr,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_free_count,lv_count,pv_count';
export const LV_FIELDS = 'lv_name,vg_name,lv_uuid,lv_attr,lv_size,lv_path,origin';

export const vgs = (o: LvmOptions): Argv => lvm(o, 'vgs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', VG_FIELDS);

export const lvs = (o: LvmOptions): Argv => lvm(o, 'lvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', LV_FIELDS);

export const lvcreate = (o: LvmOptions, vg: string, lv: string, mib: number): Argv => lvm(o, 'lvcreate', '--yes', '-n', lv, '-L', `${mib}m`, '--', vg);

/** `-f` only when shrinking was forced: lvresize asks before reducing otherwise. */
export const lvresize = (o: LvmOptions, vg: string, lv: string, mib: number, shrink: boolean): Argv =>
  lvm(o, 'lvresize', ...(shrink ? ['-f'] : []), '-L', `${mib}m`, '--', `${vg}/${lv}`);

export const lvremove = (o: LvmOptions, vg: string, lv: string): Argv => lvm(o, 'lvremove', '-y', '--', `${vg}/${lv}`);
