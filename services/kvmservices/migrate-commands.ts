/**
 * What a guest's move between nodes runs on the two nodes: argv builders only. Pure: no I/O, no
 * state. Paths are disk sources read from the guest's own libvirt definition (absolute, checked
 * by isMovablePath before they get here), never a caller's string.
 */
import type { Argv } from '../../src/nodes/command.ts';
import { virsh } from './commands.ts';

/** A disk's size in bytes (what streams through the gateway). */
export const fileSize = (path: string): Argv => ['stat', '-L', '-c', '%s', '--', path];

/** Free bytes of the filesystem holding `dir` (the line after df's header). */
export const freeBytes = (dir: string): Argv => ['df', '-B1', '--output=avail', '--', dir];

/** The disk's bytes on stdout, relayed by the gateway to writeFrom on the target. */
export const readTo = (path: string): Argv => ['cat', '--', path];

/**
 * Writes stdin to a new file: `excl` fails if the path exists (a move never overwrites), `sparse`
 * leaves runs of zeros as holes as they were on the source, `fullblock` because a pipe hands dd
 * short reads.
 */
export const writeFrom = (path: string): Argv => ['dd', `of=${path}`, 'bs=1M', 'iflag=fullblock', 'conv=sparse,excl', 'status=none'];

export const sha256 = (path: string): Argv => ['sha256sum', '--', path];

/** Whether the path exists (exit 0) or not (exit 1). */
export const exists = (path: string): Argv => ['test', '-e', path];

/** Whether the directory exists. */
export const isDir = (path: string): Argv => ['test', '-d', path];

/** Snapshot names the guest's libvirt knows (metadata a move would not carry). */
export const snapshotNames = (uri: string, vm: string): Argv => virsh(uri, 'snapshot-list', '--name', vm);


/** An empty image of the source's format and virtual size, for libvirt's live disk copy to fill (it needs the file there). */
export const createLike = (path: string, format: string, bytes: number): Argv => ['qemu-img', 'create', '-q', '-f', format, path, String(bytes)];

/**
 * Whether the source reaches the target's address at all (a TCP connect to its sshd, within 5 s):
 * live migration's data goes node to node. The script is fixed; address and port are arguments.
 */
export const probeTcp = (address: string, port: number): Argv => ['timeout', '5', 'bash', '-c', 'exec 3<>"/dev/tcp/$1/$2"', 'oms-probe', address, String(port)];

/** The Unix socket the target's system libvirtd listens on (qemu:///system). */
export const LIBVIRT_SOCKET = '/run/libvirt/libvirt-sock';

/**
 * libvirt's live migration, run on the source: peer to peer (the source's libvirtd drives it,
 * connecting to `socket`, which the gateway relays to the target's libvirtd), the disks copied
 * while the guest runs (NBD), defined on the target and undefined on the source when it
 * succeeds. Memory and disks go straight to the target's `address`: libvirt 9.0 refuses a disk
 * copy through its tunnel. `--verbose` prints `Migration: [ NN %]` steps (read by migrate-parse.ts).
 */
export const migrateLive = (uri: string, vm: string, socket: string, address: string): Argv =>
  virsh(uri, 'migrate', '--live', '--p2p', '--persistent', '--undefinesource', '--copy-storage-all', '--verbose', '--migrateuri', `tcp://${address}`, '--disks-uri', `tcp://${address}`, vm, `qemu+unix:///system?socket=${socket}`);

/** Stops a migration job under way (libvirt then keeps the guest on the source). */
export const domjobabort = (uri: string, vm: string): Argv => virsh(uri, 'domjobabort', vm);

/** Statistics of the last finished job (a migration's bytes), on the node it ended on. */
export const completedJob = (uri: string, vm: string): Argv => virsh(uri, 'domjobinfo', '--completed', vm);
