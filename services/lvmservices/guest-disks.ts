/**
 * Which guests use which files or block devices: every libvirt domain's disk and cdrom sources,
 * live and inactive configuration both (a running guest's next boot may differ from now). Used to
 * refuse removing a logical volume or an ISO image a guest still uses. Shared by lvmservices and
 * isoservices.
 */
import type { Argv } from '../../src/nodes/command.ts';

/**
 * A fixed script; the libvirt URI arrives as $1. Prints `domain<TAB>source` per disk. Exit 0 with
 * no output when virsh is not installed (no guests can use anything); exit 2 when a listing fails,
 * so an unreadable answer is never taken for "unused".
 */
export const guestDisks = (uri: string): Argv => [
  'sh',
  '-c',
  [
    'command -v virsh >/dev/null 2>&1 || exit 0',
    'names=$(virsh -c "$1" list --all --name) || exit 2',
    'printf "%s\\n" "$names" | while IFS= read -r d; do',
    '  [ -n "$d" ] || continue',
    '  for mode in --details "--details --inactive"; do',
    '    disks=$(virsh -c "$1" domblklist --domain "$d" $mode) || exit 2',
    '    printf "%s\\n" "$disks" | while read -r t dev tgt src; do',
    '      case "$dev" in disk|cdrom|floppy|lun) [ -n "$src" ] && [ "$src" != - ] && printf "%s\\t%s\\n" "$d" "$src";; esac',
    '    done',
    '  done',
    'done',
    'exit 0',
  ].join('\n'),
  'oms-guest-disks',
  uri,
];

/** `domain<TAB>source` lines into pairs; duplicates (live + inactive) folded. */
export function parseGuestDisks(stdout: string): { guest: string; source: string }[] {
  const seen = new Set<string>();
  const out: { guest: string; source: string }[] = [];
  for (const line of stdout.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab <= 0 || seen.has(line)) continue;
    seen.add(line);
    out.push({ guest: line.slice(0, tab), source: line.slice(tab + 1) });
  }
  return out;
}

/** The guest using any of `paths`, if one does. */
export const userOf = (disks: { guest: string; source: string }[], paths: readonly string[]): string | undefined =>
  disks.find((d) => paths.includes(d.source))?.guest;
