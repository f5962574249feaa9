/**
 * Guests of the guest-list tests and bench (prefix `ugl-`): tiny KVM guests (32 MiB, no disk, no
 * OS, no display: SeaBIOS finds nothing to boot and waits), defined, started and removed over the
 * node's SSH (so what they start lands in the node's cgroup). Many at once go through one virsh
 * reading its commands from stdin, not one virsh per guest. Shared by
 * test/browser/ui-guests.test.ts and bench/ui.ts.
 */
import type { Lab, LabNode } from '../lab/index.ts';
import { ssh } from './lab-guests.ts';

export const PREFIX = 'ugl-';
const URI = 'qemu:///system';

export const uglXml = (name: string): string =>
  `<domain type='kvm'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>` +
  `<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><devices></devices></domain>`;

function mine(names: readonly string[]): void {
  for (const n of names) if (!/^ugl-[a-z0-9-]+$/.test(n)) throw new Error(`not a ugl- guest name: ${n}`);
}

async function run(lab: Lab, node: LabNode, argv: string[], what: string): Promise<string> {
  let r = await ssh(lab, node, argv);
  // 255: ssh itself failed (another engineer's test may stop a node's sshd for a moment).
  for (let i = 0; i < 10 && r.code === 255 && /connect to host|Connection (refused|reset|closed)/.test(r.stderr); i++) {
    await new Promise((res) => setTimeout(res, 1000));
    r = await ssh(lab, node, argv);
  }
  if (r.code !== 0) throw new Error(`${what} on ${node.name}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/** Defines the guests on the node (never starts them): one virsh for all. */
export async function defineMany(lab: Lab, node: LabNode, names: readonly string[]): Promise<void> {
  mine(names);
  if (names.length === 0) return;
  const script =
    'u=$1; t=$2; shift 2; d=$(mktemp -d) || exit 1; ' +
    'for n; do printf "%s" "$t" | sed "s/@NAME@/$n/" > "$d/$n.xml" && echo "define $d/$n.xml"; done | virsh -c "$u" >/dev/null; ' +
    'rc=$?; rm -rf "$d"; exit $rc';
  await run(lab, node, ['sh', '-c', script, 'ugl-define', URI, uglXml('@NAME@'), ...names], 'define');
}

export const virshOn = (lab: Lab, node: LabNode, ...args: string[]) => run(lab, node, ['virsh', '-c', URI, ...args], `virsh ${args[0]}`);

/** The node's guests carrying the prefix. */
export async function uglGuests(lab: Lab, node: LabNode, prefix = PREFIX): Promise<string[]> {
  const out = await virshOn(lab, node, 'list', '--all', '--name');
  return out.split('\n').map((s) => s.trim()).filter((s) => s.startsWith(prefix));
}

/** Powers off and undefines every guest of the node whose name starts with `prefix` (ugl-...). */
export async function removeUgl(lab: Lab, node: LabNode, prefix = PREFIX): Promise<void> {
  if (!prefix.startsWith(PREFIX)) throw new Error('only ugl- guests are removed here');
  const names = await uglGuests(lab, node, prefix);
  if (names.length === 0) return;
  mine(names);
  const script = 'u=$1; shift; for n; do echo "destroy $n"; echo "undefine $n"; done | virsh -c "$u" >/dev/null 2>&1; exit 0';
  await run(lab, node, ['sh', '-c', script, 'ugl-remove', URI, ...names], 'remove');
}

export const domstate = async (lab: Lab, node: LabNode, name: string): Promise<string> => (await virshOn(lab, node, 'domstate', name)).trim();
