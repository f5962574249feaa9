/**
 * A guest that really does something on its network, for runtime-facts tests: Debian's kernel
 * (/boot/vmlinuz-*, package linux-image-amd64) with a busybox initramfs built here at test time.
 * Its /init loads the virtio drivers, asks for a DHCP lease with udhcpc, reads its first disk
 * (so block counters move) and then pings its gateway every second, printing `kn-ip <address>`
 * on the serial console each time (so the test can read what the guest itself configured).
 *
 * The lab's SeaBIOS/iPXE stops at "starting execution" on this machine, so a PXE-booting guest
 * never asks for a lease; a kernel of our own does. Building the initramfs takes well under a
 * second (busybox-static plus seven modules, about 1.5 MiB).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface GuestKernel {
  /** Path of the kernel, the same inside a lab node (nodes share /boot). */
  kernel: string;
  version: string;
}

/** The newest Debian kernel installed on the machine, or an error saying how to get one. */
export function findKernel(): GuestKernel {
  const found = existsSync('/boot') ? readdirSync('/boot').filter((f) => /^vmlinuz-.+/.test(f)).sort() : [];
  const file = found[found.length - 1];
  if (!file) throw new Error('no /boot/vmlinuz-*: install Debian\'s linux-image-amd64 (test/run.sh does)');
  const version = file.slice('vmlinuz-'.length);
  if (!existsSync(join('/lib/modules', version, 'modules.dep'))) throw new Error(`no modules for kernel ${version}`);
  return { kernel: join('/boot', file), version };
}

/** Module files (relative to /lib/modules/VERSION) a module needs, dependencies first. */
export function moduleOrder(modulesDep: string, wanted: string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of modulesDep.split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) deps.set(m[1], m[2].split(/\s+/).filter(Boolean));
  }
  const out: string[] = [];
  const visit = (mod: string) => {
    if (out.includes(mod)) return;
    // modules.dep lists every (transitive) dependency on the module's own line, nearest last.
    for (const d of [...(deps.get(mod) ?? [])].reverse()) visit(d);
    out.push(mod);
  };
  for (const w of wanted) {
    const key = [...deps.keys()].find((k) => k.endsWith(`/${w}.ko`) || k.endsWith(`/${w}.ko.xz`));
    if (!key) throw new Error(`module ${w} not found in modules.dep`);
    visit(key);
  }
  return out;
}

const INIT = (modules: string[]) => `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /usr/bin /sbin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
${modules.map((m) => `insmod /lib/${m.split('/').pop()}`).join('\n')}
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -s /udhcpc.sh -t 20 -T 1 -n -q
# kn_static=ADDRESS/PREFIX,GATEWAY on the kernel command line: eth1 gets it without DHCP, so the
# node learns it only from ARP.
static=""
for w in $(cat /proc/cmdline); do case "$w" in kn_static=*) static="\${w#kn_static=}" ;; esac; done
if [ -n "$static" ]; then ip link set eth1 up; ip addr add "\${static%,*}" dev eth1; fi
dd if=/dev/vda of=/dev/null bs=65536 count=16 2>/dev/null
while true; do
  echo "kn-ip $(cat /ip 2>/dev/null)"
  ping -c 1 -W 1 "$(cat /router 2>/dev/null)" >/dev/null 2>&1
  if [ -n "$static" ]; then ping -c 1 -W 1 "\${static#*,}" >/dev/null 2>&1; fi
  sleep 1
done
`;

/** udhcpc's hook: configures the leased address and remembers it for the loop above. */
const UDHCPC = `#!/bin/busybox sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    echo "$ip" > /ip
    echo "\${router%% *}" > /router
    ;;
esac
`;

/** Builds the initramfs (gzip'd newc cpio) into `dest`. */
export function buildInitramfs(k: GuestKernel, dest: string): void {
  const root = mkdtempSync(join(tmpdir(), 'kn-initramfs-'));
  try {
    for (const d of ['bin', 'lib']) mkdirSync(join(root, d));
    copyFileSync('/usr/bin/busybox', join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    const base = join('/lib/modules', k.version);
    const mods = moduleOrder(readFileSync(join(base, 'modules.dep'), 'utf8'), ['virtio_pci', 'virtio_net', 'virtio_blk']);
    for (const m of mods) copyFileSync(join(base, m), join(root, 'lib', m.split('/').pop()!));
    writeFileSync(join(root, 'init'), INIT(mods), { mode: 0o755 });
    writeFileSync(join(root, 'udhcpc.sh'), UDHCPC, { mode: 0o755 });
    const files = ['.', 'bin', 'bin/busybox', 'lib', ...mods.map((m) => `lib/${m.split('/').pop()}`), 'init', 'udhcpc.sh'].join('\n') + '\n';
    const cpio = execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: root, input: files, maxBuffer: 64 * 1024 * 1024 });
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, execFileSync('gzip', ['-1', '-c'], { input: cpio, maxBuffer: 64 * 1024 * 1024 }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * A guest's inactive XML changed to boot the kernel and initramfs, console on the serial port,
 * under TCG. Why not KVM: on this machine (itself a VM whose CPU lacks features QEMU's default
 * model claims) SeaBIOS hangs in its option ROMs (iPXE, linuxboot) and Linux stops right after
 * decompression under KVM with every firmware tried, while TCG boots it to a DHCP lease in about
 * 5 s. qboot loads the kernel; NIC option ROMs are switched off (they are what hangs).
 */
export function kernelBootDomain(xml: string, kernel: string, initrd: string, cmdline: string): string {
  const out = xml
    .replace("<domain type='kvm'>", "<domain type='qemu'>")
    .replace(/(<type arch='x86_64'[^>]*>hvm<\/type>)/, `$1\n    <loader type='rom'>/usr/share/qemu/qboot.rom</loader>\n    <kernel>${kernel}</kernel>\n    <initrd>${initrd}</initrd>\n    <cmdline>console=ttyS0 quiet panic=-1 ${cmdline}</cmdline>`)
    .replace(/<boot dev='[a-z]+'\/>\s*/g, '')
    .replace(/<model type='virtio'\/>/g, "<model type='virtio'/><rom enabled='no'/>");
  if (!out.includes('<kernel>') || !out.includes("<domain type='qemu'>")) throw new Error('kernelBootDomain: unexpected domain XML');
  return out;
}
