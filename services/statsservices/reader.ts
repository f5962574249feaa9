/**
 * The node's stats reader: a `sh` kept running on the node (a resident command, see
 * src/nodes/resident.ts) that runs the snapshot `head`s of get_stats, so a call costs one write
 * and one answer on an open channel instead of a new SSH session (channel open, exec request,
 * sshd forking a session and a login shell) for every read. Measured on the lab, one read of
 * memory, uptime, kernel and osrelease: ~4.6 ms as a one-off exec, ~1.5 ms through the reader.
 *
 * Its stderr goes to /dev/null: head reports a missing file there (a node without
 * /usr/lib/os-release), and merged into the answer it would land inside a file's text. The
 * one-off path leaves stderr aside too, so both give the same stdout. Its `-s oms-stats-reader`
 * only names it in the node's process list.
 */
import { isOmsError } from '../../src/rpc/errors.ts';
import type { NodeHandle } from '../../src/fleet/access.ts';
import type { ResidentSpec } from '../../src/nodes/resident.ts';
import { partialOkExitCodes, type Argv } from './commands.ts';

export const statsReader: ResidentSpec = {
  key: 'oms-stats-reader',
  argv: ['sh', '-c', 'exec sh -s oms-stats-reader 2>/dev/null'],
  echo: (marker) => ['echo', marker],
  // Longer than the usual monitoring interval, so a poller every minute finds it still running.
  idleMs: 300_000,
};

/**
 * stdout of a snapshot command (a fixed `head` over fixed paths), from the stats reader. When the
 * reader cannot answer (could not start, ended) the same command runs as a one-off exec. A
 * timeout is final: the node did not answer within the call's budget, and a one-off would wait on
 * the same node. The request holds a command slot, as the exec did, so the node's bounds
 * (NodeBusyError past its queue) stay what they were.
 */
export async function readSnapshot(node: Pick<NodeHandle, 'exec' | 'converse'>, argv: Argv): Promise<string> {
  try {
    return await node.converse(statsReader, argv, { commandSlot: true });
  } catch (e) {
    if (isOmsError(e) && (e.omsName === 'FuncMethodTimeoutError' || e.omsName === 'NodeBusyError')) throw e;
  }
  return (await node.exec(argv, { okExitCodes: [...partialOkExitCodes] })).stdout;
}
