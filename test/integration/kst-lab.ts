/**
 * Guests of the state and clone lab tests (kvm-state.test.ts, kvm-clone.test.ts): every name
 * carries the `kst-` prefix, files live in the node's images directory (kst-*) and in its
 * oms-node/kst/ directory, and cleanKst removes exactly those.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { acpiGuestImage } from '../lab/acpi-guest.ts';

export const IMAGES = '/var/lib/oms-node/images';
/** The node's own directory for these tests, as the node sees it and as this machine does. */
export const KST_DIR = '/var/lib/oms-node/kst';
export const hostDir = (node: LabNode): string => join(node.stateDir, 'node', 'kst');

export const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);
export const domstate = async (node: LabNode, vm: string): Promise<string> => (await virsh(node, 'domstate', vm)).stdout.trim();

/** Domain id and QEMU pid: unchanged means no new start (or destroy and start) happened. */
export const identity = async (node: LabNode, vm: string) => ({
  domid: (await virsh(node, 'domid', vm)).stdout.trim(),
  pid: (await nodeExec(node, ['cat', `/run/libvirt/qemu/${vm}.pid`])).stdout.trim(),
});

export async function cleanKst(node: LabNode): Promise<void> {
  const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('kst-'));
  for (const vm of names) {
    const pid = (await nodeExec(node, ['cat', `/run/libvirt/qemu/${vm}.pid`])).stdout.trim();
    // A test may end with the guest's QEMU stopped (SIGSTOP); it must run to be destroyed quickly.
    if (/^\d+$/.test(pid)) await nodeExec(node, ['kill', '-CONT', pid]);
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', '--managed-save', vm);
  }
  await nodeExec(node, ['find', IMAGES, '-maxdepth', '1', '-name', 'kst-*', '-exec', 'rm', '-f', '--', '{}', '+']);
  rmSync(hostDir(node), { recursive: true, force: true });
}

export async function define(node: LabNode, xml: string): Promise<void> {
  const r = await nodeExec(node, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml });
  if (r.code !== 0) throw new Error(`define: ${r.stderr}`);
}

/**
 * A guest with no OS (SeaBIOS finds nothing to boot and waits): it ignores the ACPI power
 * button, so a graceful stop of it waits for its whole window. Optionally a disk and a VNC password.
 */
export const plainXml = (name: string, opts: { disk?: string; vncPassword?: string } = {}): string => `<domain type='kvm'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
  <devices>${opts.disk ? `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${opts.disk}'/><target dev='vda' bus='virtio'/></disk>` : ''}
  <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'${opts.vncPassword ? ` passwd='${opts.vncPassword}'` : ''}/></devices></domain>`;

/**
 * test/lab/acpi-guest.S: prints a line on its serial port at boot, powers off on the ACPI button.
 * The port is a file QEMU appends to, so the lines of every start of the guest stay in it.
 */
export async function defineAcpiGuest(node: LabNode, name: string): Promise<{ serial: () => string }> {
  mkdirSync(hostDir(node), { recursive: true });
  writeFileSync(join(hostDir(node), `${name}.img`), acpiGuestImage());
  const log = `${name}-serial.log`;
  await define(
    node,
    `<domain type='kvm'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
      <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${KST_DIR}/${name}.img'/><target dev='hda' bus='ide'/></disk>
      <serial type='file'><source path='${KST_DIR}/${log}' append='on'/><target port='0'/></serial></devices></domain>`,
  );
  return {
    serial: () => {
      try {
        return readFileSync(join(hostDir(node), log), 'latin1');
      } catch {
        return '';
      }
    },
  };
}

export const count = (text: string, line: string): number => text.split('\r\n').filter((l) => l === line).length;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000, every = 300): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(every);
  }
}
