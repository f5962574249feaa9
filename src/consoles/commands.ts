/** Pure argv builders for console set-up on a node. Names reach here already validated (fields.ts). */
import type { Argv } from '../nodes/command.ts';

/** `HOST:DISPLAY` of a running guest's VNC server (display 0 = TCP 5900). */
export const vncDisplay = (uri: string, vm: string): Argv => ['virsh', '-c', uri, 'vncdisplay', '--', vm];

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
