/** What KVMPlusOvzService runs: virsh listings. Domain names come from the node's own list and travel as argv elements. */
import type { Argv } from '../../src/nodes/command.ts';

export const virshListAll = (uri: string): Argv => ['virsh', '-c', uri, 'list', '--all'];

/** dominfo of several domains in one round trip, each after a `== name` line; a vanished domain is skipped. */
export const dominfoMany = (uri: string, names: readonly string[]): Argv => [
  'sh',
  '-c',
  'u=$1; shift; for d; do echo "== $d"; virsh -c "$u" dominfo --domain "$d" 2>/dev/null; done; exit 0',
  'oms-dominfo',
  uri,
  ...names,
];
