/** Readers of LVM output: `vgdisplay`/`lvdisplay` text for the OMS shapes, `--reportformat json` for the structured ones. Pure. */

/**
 * The OMS list_vg shape: one entry per volume group, each a list of its `vgdisplay` lines split
 * into words (`['VG', 'Name', 'VolGroup00']`, `['System', 'ID']` when empty). The `--- ... ---`
 * header and blank lines separate groups. Same for list_lv with `lvdisplay`.
 */
export function parseDisplay(stdout: string): string[][][] {
  const groups: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of stdout.split('\n')) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (/^\s*--- .* ---\s*$/.test(line)) {
      current = [];
      groups.push(current);
    } else if (words.length && current) current.push(words);
  }
  return groups;
}

export interface VolumeGroup {
  name: string;
  uuid: string;
  attr: string;
  size: number;
  free: number;
  extent_size: number;
  extent_count: number;
  free_extents: number;
  lv_count: number;
  pv_count: number;
}

export interface LogicalVolume {
  name: string;
  vg: string;
  uuid: string;
  attr: string;
  size: number;
  path: string;
  origin: string;
}

function report(stdout: string, key: 'vg' | 'lv'): Record<string, string>[] {
  let parsed: { report?: Record<string, Record<string, string>[]>[] };
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new Error(`unreadable LVM ${key} report`);
  }
  return (parsed.report ?? []).flatMap((r) => r[key] ?? []);
}

const num = (s: string | undefined): number => {
  const n = Number(s);
  if (s === undefined || s === '' || !Number.isFinite(n)) throw new Error('unreadable number in LVM report');
  return n;
};

export const parseVgs = (stdout: string): VolumeGroup[] =>
  report(stdout, 'vg').map((v) => ({
    name: v.vg_name,
    uuid: v.vg_uuid,
    attr: v.vg_attr,
    size: num(v.vg_size),
    free: num(v.vg_free),
    extent_size: num(v.vg_extent_size),
    extent_count: num(v.vg_extent_count),
    free_extents: num(v.vg_free_count),
    lv_count: num(v.lv_count),
    pv_count: num(v.pv_count),
  }));

export const parseLvs = (stdout: string): LogicalVolume[] =>
  report(stdout, 'lv').map((l) => ({
    name: l.lv_name,
    vg: l.vg_name,
    uuid: l.lv_uuid,
    attr: l.lv_attr,
    size: num(l.lv_size),
    path: l.lv_path,
    origin: l.origin ?? '',
  }));

/** Bytes an LV of `mib` MiB takes in a VG: LVM rounds up to whole extents. */
export const allocated = (mib: number, extentSize: number): number => Math.ceil((mib * 1024 * 1024) / extentSize) * extentSize;

/** The paths a guest may use for an LV: /dev/VG/LV and the device-mapper name (dashes doubled). */
export const lvPaths = (vg: string, lv: string): string[] => [`/dev/${vg}/${lv}`, `/dev/mapper/${vg.replaceAll('-', '--')}-${lv.replaceAll('-', '--')}`];
