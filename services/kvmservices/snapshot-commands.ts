/**
 * virsh commands for internal (qcow2) snapshots: argv builders only. Pure: no I/O, no state.
 * The guest and snapshot names were checked by strict schemas (no leading '-'); a description is
 * one argv element after `--description`, which virsh takes as that option's value whatever it
 * holds (even text starting with `--`), and libvirt escapes it into the snapshot's XML itself.
 */
import type { Argv } from '../../src/nodes/command.ts';
import { virsh } from './commands.ts';

/** Names, parents before children. */
export const snapshotNames = (uri: string, vm: string): Argv => virsh(uri, 'snapshot-list', vm, '--name', '--topological');
export const snapshotXml = (uri: string, vm: string, snap: string): Argv => virsh(uri, 'snapshot-dumpxml', vm, snap);
/** Exit 1 with "has no current snapshot" when there is none. */
export const snapshotCurrent = (uri: string, vm: string): Argv => virsh(uri, 'snapshot-current', vm, '--name');

/**
 * An internal snapshot of every disk, and of the memory state too when the guest runs (libvirt
 * does that by itself for a running guest with qcow2 disks). `--atomic`: all or nothing.
 */
export const snapshotCreate = (uri: string, vm: string, snap: string, description?: string): Argv =>
  virsh(uri, 'snapshot-create-as', vm, snap, '--atomic', ...(description ? ['--description', description] : []));
/** Back to the snapshot's disks and state (a running snapshot resumes running, a shut-off one stops the guest). */
export const snapshotRevert = (uri: string, vm: string, snap: string): Argv => virsh(uri, 'snapshot-revert', vm, snap);
/** Only that snapshot: its children are kept and re-parented. */
export const snapshotDelete = (uri: string, vm: string, snap: string): Argv => virsh(uri, 'snapshot-delete', vm, snap);
