/**
 * What the drive, metadata and live-edit methods run on a node: argv builders only, beside
 * commands.ts (same rules: names were validated before; XML goes on stdin or, for `virsh
 * metadata`, as one argv element built by the XML library). Pure: no I/O, no state.
 */
import type { Argv } from '../../src/nodes/command.ts';
import { virsh } from './commands.ts';

/** Which of a guest's two definitions a change goes to: the persistent one, the running one, both. */
export interface Where {
  config: boolean;
  live: boolean;
}

const flags = (w: Where): string[] => [...(w.config ? ['--config'] : []), ...(w.live ? ['--live'] : [])];

export const attachDevice = (uri: string, vm: string, w: Where): Argv => virsh(uri, 'attach-device', vm, '/dev/stdin', ...flags(w));
export const detachDevice = (uri: string, vm: string, w: Where): Argv => virsh(uri, 'detach-device', vm, '/dev/stdin', ...flags(w));

/** Replaces OMS's metadata element (namespace `ns`, written with prefix `key`) by `xml`. */
export const metadataSet = (uri: string, vm: string, ns: string, key: string, xml: string, w: Where): Argv =>
  virsh(uri, 'metadata', vm, '--uri', ns, '--key', key, '--set', xml, ...flags(w));
export const metadataRemove = (uri: string, vm: string, ns: string, w: Where): Argv => virsh(uri, 'metadata', vm, '--uri', ns, '--remove', ...flags(w));

/** vCPUs of a running guest, up to its maximum; the definition follows. */
export const setVcpusLive = (uri: string, vm: string, n: number): Argv => virsh(uri, 'setvcpus', vm, String(n), '--live', '--config');
/** Memory (balloon target) of a running guest, up to its maximum; the definition follows. */
export const setMemLive = (uri: string, vm: string, mib: number): Argv => virsh(uri, 'setmem', vm, `${mib}M`, '--live', '--config');
