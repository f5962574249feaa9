/**
 * kvmservices.create_vm_from_location (network install, after DataCentred's create) on a real lab
 * node through the real gateway process: the lab's install trees (lab.sh netinst-tree: Debian's
 * kernel and a busybox initramfs whose /init prints /proc/cmdline on the serial port) are served
 * over HTTP on the lab host address by this test, the node fetches them, Debian's kernel boots
 * under TCG (the node setting guestVirtType 'qemu': this machine's nested KVM cannot run it) and
 * the guest's serial console, read through the gateway, shows the command line it was booted
 * with. Checked on the node with virsh, qemu-img and ls. Guests, files and trees of this test
 * are named `ni-`.
 */
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { readDomain } from '../../services/kvmservices/domain.ts';
import { openRaw } from '../browser/lab-guests.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const TREES = '/var/lib/oms-lab/netinst';
const HOST = '10.213.7.1';
const IMAGES = '/var/lib/oms-node/images';
const ISOS = '/var/lib/oms-node/isos';
const LAB_SH = new URL('../lab/lab.sh', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DEBIAN = join(TREES, 'debian/install.amd');

/** `uname -r` of a bzImage, from the version string its boot header points to (Linux x86 boot protocol). */
function bzImageRelease(file: string): string {
  const k = readFileSync(file);
  if (k.toString('latin1', 0x202, 0x206) !== 'HdrS') throw new Error(`${file} is not a bzImage`);
  const at = k.readUInt16LE(0x20e) + 0x200;
  return k.toString('latin1', at, k.indexOf(0, at)).split(' ')[0];
}

const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);
const state = async (node: LabNode, vm: string) => (await virsh(node, 'domstate', vm)).stdout.trim();

/** Removes this test's guests, disks, leftovers of fetches and trees on the node. */
async function cleanAll(node: LabNode): Promise<void> {
  const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('ni-'));
  for (const vm of names) {
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', '--managed-save', vm);
  }
  await nodeExec(node, ['find', IMAGES, ISOS, '-maxdepth', '1', '(', '-name', 'ni-*', '-o', '-name', '.oms-netinst-*', ')', '-exec', 'rm', '-rf', '--', '{}', '+']);
}

interface Hit {
  from: string;
  path: string;
  status: number;
  bytes: number;
}

/** A static file server for the install trees, bound to the lab host address; it records who asked. */
function serveTrees(): Promise<{ server: Server; base: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(TREES, path));
    const hit: Hit = { from: req.socket.remoteAddress ?? '', path, status: 404, bytes: 0 };
    hits.push(hit);
    if (!file.startsWith(`${TREES}/`) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    hit.status = 200;
    hit.bytes = statSync(file).size;
    res.writeHead(200, { 'content-length': String(hit.bytes) });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, HOST, () => resolve({ server, base: `http://${HOST}:${(server.address() as { port: number }).port}`, hits })));
}

describe('kvmservices.create_vm_from_location (network install) on the lab', function () {
  this.timeout(300_000);
  let e: Env;
  let node: LabNode;
  let http: Awaited<ReturnType<typeof serveTrees>>;
  const call = (params: unknown[]) => e.call('kvmservices', 'create_vm_from_location', [e.sid, 0, node.name, ...params]);
  const ok = async (params: unknown[]) => {
    const r = await call(params);
    if (r.error) throw new Error(`create_vm_from_location: ${JSON.stringify(r.error)}`);
    expect(r.result.result.client).to.equal(node.name);
    return r.result.result.result;
  };

  const virtType = (v: string | null) => e.call('funcservices', 'set_node_settings', [e.sid, 0, node.name, { guestVirtType: v }]);

  before(async () => {
    // Built by `lab.sh up`; idempotent, so a lab brought up by an older lab.sh gets the current
    // trees here (~1 s, the kernel is cached).
    await promisify(execFile)('bash', [LAB_SH, 'netinst-tree']);
    http = await serveTrees();
    e = await startEnv();
    node = e.lab.nodes[2];
    await cleanAll(node);
    await enroll(e, [node]);
    // This machine's nested KVM leaves Debian's kernel in its decompressor: the node runs its new
    // guests under QEMU's emulator, as an operator would set it for a node without VT-x.
    const r = await virtType('qemu');
    expect(r.result.result.result).to.deep.include({ guestVirtType: 'qemu' });
  });
  after(async () => {
    if (node) await cleanAll(node);
    await e?.stop();
    http?.server.close();
  });

  it('installs from an HTTP tree: the node fetches Debian\'s kernel, which boots under TCG and shows the marker of its cmdline on the serial console; the installer\'s reboot stops the guest, which then boots from its disks', async () => {
    const vm = 'ni-http';
    const marker = `ni-marker-${randomBytes(6).toString('hex')}`;
    http.hits.length = 0;
    const t0 = Date.now();
    const r = await ok([vm, 128, [0.05, '0.1'], ['lab', 'lxcbr0'], `${http.base}/debian`, `oms.marker=${marker} quiet`, true]);
    const created = Date.now();
    expect(r).to.deep.include({ name: vm, layout: 'debian-cd', kernel: 'install.amd/vmlinuz', initrd: 'install.amd/initrd.gz' });
    expect(r.disks).to.deep.equal([
      { target: 'sda', path: `${IMAGES}/${vm}-sda.qcow2`, size_gb: 0.05 },
      { target: 'sdb', path: `${IMAGES}/${vm}-sdb.qcow2`, size_gb: 0.1 },
    ]);

    // The node fetched the tree, whole, not the gateway (which runs on this host, 127.0.0.1 / 10.213.7.1).
    const got = http.hits.filter((h) => h.status === 200);
    expect(got.map((h) => [h.path, h.bytes]).sort()).to.deep.equal([
      ['/debian/install.amd/initrd.gz', statSync(join(DEBIAN, 'initrd.gz')).size],
      ['/debian/install.amd/vmlinuz', statSync(join(DEBIAN, 'vmlinuz')).size],
    ]);
    expect([...new Set(http.hits.map((h) => h.from.replace(/^::ffff:/, '')))]).to.deep.equal([node.address]);

    // The install boot: the live definition boots the fetched kernel under TCG; its files are gone already.
    const live = readDomain((await virsh(node, 'dumpxml', vm)).stdout);
    expect(live).to.deep.include({ domainType: 'qemu', cmdline: `oms.marker=${marker} quiet console=ttyS0`, onReboot: 'destroy', onPoweroff: 'destroy' });
    expect(live.kernel).to.match(new RegExp(`^${IMAGES}/\\.oms-netinst-[0-9a-f]{16}\\.kernel$`));
    expect((await nodeExec(node, ['ls', '-a', IMAGES])).stdout).to.not.include('.oms-netinst-');

    // The guest's serial console, through the gateway: Debian's kernel (its release, read from the
    // tree's bzImage) ran the initramfs, whose /init shows the command line it was given.
    const o = await e.ok('kvmservices', 'open_console', [e.sid, 0, node.name, vm]);
    const c = await openRaw(`${e.gw.url.replace(/^http/, 'ws')}/consoles/ws?ticket=${o.ticket}`);
    const release = bzImageRelease(join(DEBIAN, 'vmlinuz'));
    const line = `OMS-NETINST cmdline: oms.marker=${marker} quiet console=ttyS0\r\n`;
    const seen = (await c.waitFor((b) => b.toString('latin1').includes(line), 150_000)).toString('latin1');
    const booted = Date.now();
    expect(seen).to.include(`OMS-NETINST kernel: ${release}`);
    if (process.env.NI_SHOW || process.env.OMS_TIMINGS) console.log(`      create_vm_from_location ${created - t0} ms; Debian ${release} under TCG to /init's marker ${booted - created} ms more`);
    // A key on the console ends the "installer", which reboots: on_reboot destroy stops the guest.
    c.send('\r');
    await c.waitFor((b) => b.toString('latin1').includes('OMS-NETINST done, rebooting'), 30_000);
    for (let i = 0; i < 60 && (await state(node, vm)) !== 'shut off'; i++) await sleep(500);
    expect(await state(node, vm)).to.equal('shut off');
    c.ws.close();
    await e.ok('kvmservices', 'close_console', [e.sid, 0, node.name, vm]).catch(() => undefined);

    // The persistent definition: boots from disk, disks sda/sdb on virtio-scsi, the two NICs, TCG.
    const d = readDomain((await virsh(node, 'dumpxml', '--inactive', vm)).stdout);
    expect(d).to.deep.include({ domainType: 'qemu', kernel: '', initrd: '', cmdline: '', bootDevs: ['hd'], onReboot: 'restart', hasSerial: true, hasConsole: true });
    expect(d.disks.map((k) => [k.targetDev, k.targetBus, k.format, k.source])).to.deep.equal([
      ['sda', 'scsi', 'qcow2', `${IMAGES}/${vm}-sda.qcow2`],
      ['sdb', 'scsi', 'qcow2', `${IMAGES}/${vm}-sdb.qcow2`],
    ]);
    expect(d.controllers.filter((k) => k.type === 'scsi')).to.deep.equal([{ type: 'scsi', model: 'virtio-scsi' }]);
    expect(d.interfaces.map((i) => [i.type, i.source])).to.deep.equal([
      ['network', 'lab'],
      ['bridge', 'lxcbr0'],
    ]);
    for (const [disk, mib] of [['sda', 51], ['sdb', 102]] as const) {
      const info = JSON.parse((await nodeExec(node, ['qemu-img', 'info', '-U', '--output=json', `${IMAGES}/${vm}-${disk}.qcow2`])).stdout);
      expect([disk, info.format, info['virtual-size']]).to.deep.equal([disk, 'qcow2', mib * 1024 * 1024]);
    }

    // Its next start boots from disk: the running guest has no kernel of its own.
    await e.ok('kvmservices', 'start_vm', [e.sid, 0, node.name, vm]);
    expect(await state(node, vm)).to.equal('running');
    const again = readDomain((await virsh(node, 'dumpxml', vm)).stdout);
    expect(again).to.deep.include({ domainType: 'qemu', kernel: '', cmdline: '', bootDevs: ['hd'] });

    const del = (await e.ok('kvmservices', 'delete_vm_recursive', [e.sid, 0, node.name, vm, 'disks', true])).result;
    expect(del.deleted.sort()).to.deep.equal([`${IMAGES}/${vm}-sda.qcow2`, `${IMAGES}/${vm}-sdb.qcow2`]);
  });

  it('a tree in the node\'s ISO directory (node path) with a .treeinfo (RHEL layout); without console no console=ttyS0 is added, and /init still shows the (empty) cmdline on the serial port', async () => {
    const vm = 'ni-path';
    await nodeExec(node, ['cp', '-r', join(TREES, 'treeinfo'), `${ISOS}/ni-tree`]);
    http.hits.length = 0;
    const r = await ok([vm, '128', [0.02], [], `${ISOS}/ni-tree/`]);
    expect(r).to.deep.include({ layout: 'treeinfo', kernel: 'images/pxeboot/vmlinuz', initrd: 'images/pxeboot/initrd.img', interfaces: [] });
    expect(http.hits).to.deep.equal([]);
    const live = readDomain((await virsh(node, 'dumpxml', vm)).stdout);
    expect(live).to.deep.include({ domainType: 'qemu', cmdline: '', onReboot: 'destroy' });
    expect(await state(node, vm)).to.equal('running');
    const o = await e.ok('kvmservices', 'open_console', [e.sid, 0, node.name, vm]);
    const c = await openRaw(`${e.gw.url.replace(/^http/, 'ws')}/consoles/ws?ticket=${o.ticket}`);
    const seen = (await c.waitFor((b) => /OMS-NETINST cmdline: *\r\n/.test(b.toString('latin1')), 150_000)).toString('latin1');
    expect(seen).to.include(`OMS-NETINST kernel: ${bzImageRelease(join(DEBIAN, 'vmlinuz'))}`);
    expect(seen).to.not.include('console=ttyS0');
    c.ws.close();
    await e.ok('kvmservices', 'close_console', [e.sid, 0, node.name, vm]).catch(() => undefined);
    await e.ok('kvmservices', 'delete_vm_recursive', [e.sid, 0, node.name, vm, 'disks', true]);
  });

  it('guestVirtType decides the domain type: unset (null) is KVM again; a value other than kvm, qemu or null is refused', async () => {
    const vm = 'ni-kvm';
    expect((await virtType(null)).result.result.result.guestVirtType).to.equal(null);
    try {
      await ok([vm, 128, [0.02], [], `${http.base}/debian/`, 'quiet', true]);
      const live = readDomain((await virsh(node, 'dumpxml', vm)).stdout);
      const inactive = readDomain((await virsh(node, 'dumpxml', '--inactive', vm)).stdout);
      expect([live.domainType, inactive.domainType]).to.deep.equal(['kvm', 'kvm']);
      await e.ok('kvmservices', 'delete_vm_recursive', [e.sid, 0, node.name, vm, 'disks', true]);
      for (const bad of ['tcg', 'QEMU', 'qemu;id', 1]) {
        const res = await virtType(bad as string);
        expect(res.error?.message ?? 'accepted', String(bad)).to.match(/^Parameter mismatch: settings: .*guestVirtType.*'kvm', 'qemu' or null/);
      }
    } finally {
      expect((await virtType('qemu')).result.result.result.guestVirtType).to.equal('qemu');
    }
  });

  it('refuses hostile input with clear errors; nothing is made on the node and the canary is unchanged', async () => {
    const before = await canary(node);
    const base = `${http.base}/debian/`;
    const refusals: [unknown[], RegExp][] = [
      [['ni-bad', 64, [0.02], [], 'file:///etc/passwd'], /scheme file is not allowed/],
      [['ni-bad', 64, [0.02], [], 'javascript:alert(1)'], /scheme javascript is not allowed/],
      [['ni-bad', 64, [0.02], [], `${http.base}/a tree/`], /not a valid URL/],
      [['ni-bad', 64, [0.02], [], `${http.base}/lab'$(touch /tmp/ni-pwned)'/`], /not a valid URL/],
      [['ni-bad', 64, [0.02], [], `${http.base}/"lab"/`], /not a valid URL/],
      [['ni-bad', 64, [0.02], [], `${http.base}/../../etc/`], /no "\." or "\.\."/],
      [['ni-bad', 64, [0.02], [], `${ISOS}/../../../etc`], /no "\." or "\.\."/],
      [['ni-bad', 64, [0.02], [], 'ni-tree'], /an http, https or ftp URL, or an absolute path/],
      [['ni-bad', 64, [0.02], [], base, 'a\nb'], /printable ASCII only/],
      [['ni-bad', 64, [0.02], [], base, 'quiet\u0000init=/bin/sh'], /printable ASCII only/],
      [['ni-bad', 64, [0.02], [], base, 'a\tb'], /printable ASCII only/],
      [['ni-bad', 64, Array(9).fill(0.02), [], base], /at most 8 disks/],
      [['ni-bad', 64, [], [], base], /at least one disk/],
      [['ni-bad', 64, ['1; rm -rf /'], [], base], /^Parameter mismatch: disks: \[0\] a disk size in GB/],
      [['ni-bad', 64, [0.02], ['lab;touch /tmp/x'], base], /not a (valid )?network name/],
      [['ni-bad', 64, [0.02], Array(9).fill('lab'), base], /at most 8 networks/],
      [['../ni-bad', 64, [0.02], [], base], /not a valid VM name/],
      [['ni-bad', 64, [0.02], ['ni-nosuchnet'], base], /^UnknownNetworkError/],
      [['ni-bad', 1, [0.02], [], base], /outside|Memory size not correct|InvalidSettingsError|too small|>=|greater/],
      [['ni-bad', 64, [0.02], [], '/var/lib/oms-lab/netinst/debian'], /^InstallTreePathError: .*not inside the ISO directory/],
      [['ni-bad', 64, [0.02], [], `${ISOS}/ni-link-out`], /^InstallTreePathError/],
      [['ni-bad', 64, [0.02], [], `${http.base}/nothing-here/`], /^InstallTreeError: .*no kernel and initrd in any known layout/],
      [['ni-bad', 64, [0.02], [], `${ISOS}/ni-no-such-tree`], /^InstallTreeError: .*no such directory on the node/],
      [['ni-bad', 64, [0.02], [], `http://${HOST}:1/tree/`], /^InstallTreeError: .*curl: \(7\)/],
    ];
    await nodeExec(node, ['ln', '-sfn', '/var/lib/oms-lab/netinst/debian', `${ISOS}/ni-link-out`]);
    for (const [params, reason] of refusals) {
      const res = await call(params);
      expect(res.error?.message ?? `accepted: ${JSON.stringify(res.result)}`, JSON.stringify(params)).to.match(reason);
      if (process.env.NI_SHOW) console.log(JSON.stringify(params).slice(0, 90), '->', res.error?.message);
    }
    // An existing guest is not replaced.
    await nodeExec(node, ['tee', '/tmp/ni-exists.xml'], { input: "<domain type='kvm'><name>ni-exists</name><memory unit='MiB'>16</memory><os><type>hvm</type></os></domain>" });
    expect((await virsh(node, 'define', '/tmp/ni-exists.xml')).code).to.equal(0);
    expect((await call(['ni-exists', 64, [0.02], [], base])).error.message).to.match(/^VmExistsError/);

    const guests = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('ni-'));
    expect(guests).to.deep.equal(['ni-exists']);
    const files = (await nodeExec(node, ['ls', '-a', IMAGES])).stdout.split('\n').filter((f) => f.startsWith('ni-') || f.startsWith('.oms-netinst-'));
    expect(files).to.deep.equal([]);
    expect(existsSync('/tmp/ni-pwned')).to.equal(false);
    expect(await canary(node)).to.equal(before);
  });
});
