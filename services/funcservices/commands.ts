/** What FuncService runs on nodes: argv only; caller data never reaches these (names come from the database). */
import type { Argv } from '../../src/nodes/command.ts';

/** Which virtualization tools the node has; `which` exits 1 when any is missing, listing those found. */
export const identifyTools = (): Argv => ['which', 'virsh', 'lxc-start', 'vzctl'];

export const countLibvirtGuests = (uri: string): Argv => ['virsh', '-c', uri, 'list', '--all', '--name'];

export const countContainers = (): Argv => ['lxc-ls', '-1'];

/**
 * Removes the gateway's key line from an authorized_keys file, atomically (temp file + rename).
 * A fixed script; the file and the key arrive as positional parameters, never inside the text.
 * grep exits 1 when no line is left, which is still success here.
 */
export const revokeKeyScript = (file: string, keyBlob: string): Argv => [
  'sh',
  '-c',
  'f=$1; k=$2; [ -f "$f" ] || exit 3; grep -qF -- "$k" "$f" || exit 4; rm -f -- "$f.oms-tmp"; grep -vF -- "$k" "$f" > "$f.oms-tmp"; [ $? -le 1 ] || exit 2; chmod 600 "$f.oms-tmp" && mv -f -- "$f.oms-tmp" "$f"',
  'oms-revoke',
  file,
  keyBlob,
];

export const revokeExitReasons: Record<number, string> = {
  2: 'could not rewrite the authorized keys file',
  3: 'authorized keys file not found',
  4: 'the gateway key was not in the authorized keys file',
};
