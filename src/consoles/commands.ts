/** Pure argv builders for console set-up on a node. Names reach here already validated (fields.ts). */
import type { Argv } from '../nodes/command.ts';
import type { ResidentSpec } from '../nodes/resident.ts';

/** `HOST:DISPLAY` of a running guest's VNC server (display 0 = TCP 5900). */
export const vncDisplay = (uri: string, vm: string): Argv => ['virsh', '-c', uri, 'vncdisplay', '--', vm];

/**
 * A virsh kept running per node and URI for consoles (src/nodes/resident.ts): a VNC connect asks
 * it for the guest's display, which costs one libvirt call instead of a virsh start-up and
 * connect (about 2 ms instead of 60 on the lab). Its own, not the listings' resident virsh, so a
 * connect never queues behind a fleet listing; kept for 5 minutes so a console reopened a while
 * after set-up still finds it running.
 */
export const consoleVirsh = (uri: string): ResidentSpec => ({ key: JSON.stringify(['virsh', uri, 'consoles']), argv: ['virsh', '-q', '-c', uri], echo: (marker) => ['echo', marker], idleMs: 300_000 });

/**
 * The resident request for a guest's display. The name passed the VM name schema (fields.ts),
 * whose characters are all plain words for virsh's own reader; plainLine refuses anything else
 * before a byte is written.
 */
export const vncDisplayWords = (vm: string): string[] => ['vncdisplay', '--', vm];

/** The pty of a running guest's serial console; fails when the guest has none or is not running. */
export const ttyConsole = (uri: string, vm: string): Argv => ['virsh', '-c', uri, 'ttyconsole', '--', vm];

/**
 * The serial console itself, run in a pty shell channel. `--force` takes the console over from a
 * stale holder (a gateway that died, a virsh left on the node). `exec` makes virsh the session's
 * process, so closing the channel (SIGHUP) ends it.
 */
export const serialConsole = (uri: string, vm: string): Argv => ['exec', 'virsh', '-c', uri, 'console', '--force', '--', vm];

/** A harmless command proving the node gives the gateway a session at all. */
export const nodeAlive = (): Argv => ['true'];
