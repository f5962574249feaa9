/**
 * Readers of virsh's snapshot output, and the rule for which guests can take internal snapshots.
 * Pure: no I/O, no state.
 */
import type { DiskInfo } from './domain.ts';
import { attr, child, elements, parseXml, textOf } from './xml.ts';

export interface SnapshotInfo {
  name: string;
  description: string;
  /** The guest's state when it was taken: running, paused, shutoff, ... */
  state: string;
  /** Unix time in seconds, as libvirt records it. */
  creation_time: number;
  parent: string | null;
  /** Whether the guest's memory is in it (taken while the guest ran): a revert resumes it running. */
  memory: boolean;
  /** Per disk: internal (in the qcow2 file) or no (CD-ROMs, read-only disks). */
  disks: { name: string; snapshot: string }[];
}

/** `snapshot-list --name`: one name a line. */
export const parseSnapshotNames = (stdout: string): string[] =>
  stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** `snapshot-dumpxml`: the snapshot's own fields; the guest definition it also holds is left out. */
export function parseSnapshotXml(xml: string): SnapshotInfo {
  const root = parseXml(xml);
  if (root.tagName !== 'domainsnapshot') throw new Error('XML: not a domainsnapshot');
  const parent = textOf(child(root, 'parent', 'name'));
  return {
    name: textOf(child(root, 'name')),
    description: textOf(child(root, 'description')),
    state: textOf(child(root, 'state')),
    creation_time: Number(textOf(child(root, 'creationTime'))) || 0,
    parent: parent || null,
    memory: (attr(child(root, 'memory'), 'snapshot') ?? 'no') !== 'no',
    disks: elements(child(root, 'disks'), 'disk').map((d) => ({ name: attr(d, 'name') ?? '', snapshot: attr(d, 'snapshot') ?? '' })),
  };
}

/** virsh's stderr for a snapshot name the guest does not have. */
export const isNoSnapshot = (stderr: string): boolean => /Domain snapshot not found|no domain snapshot with matching name/i.test(stderr);
/** `snapshot-current` of a guest without a current snapshot. */
export const isNoCurrentSnapshot = (stderr: string): boolean => /has no current snapshot/i.test(stderr);

/**
 * Why the guest cannot take an internal snapshot, naming the first disk in the way; undefined
 * when it can. Internal snapshots live inside qcow2 files: a raw file or a block device has no
 * room for one (libvirt would refuse only after starting). CD-ROMs and empty drives are left out
 * of a snapshot by libvirt, so they do not count.
 */
export function snapshotBlocker(disks: readonly DiskInfo[]): { disk: string; path: string; reason: string } | undefined {
  for (const d of disks) {
    if (d.device !== 'disk' || !d.source) continue;
    if (d.type !== 'file') return { disk: d.targetDev, path: d.source, reason: `is a ${d.type === 'block' ? 'block device' : `${d.type} disk`}; internal snapshots live inside qcow2 files` };
    if (d.format !== 'qcow2') return { disk: d.targetDev, path: d.source, reason: `is ${d.format || 'raw'}; internal snapshots need qcow2` };
  }
  return undefined;
}
