/**
 * kvmservices.create_vm_from_location (network install, after DataCentred's create) on a real lab
 * node through the real gateway process: the lab's install trees (lab.sh netinst-tree) are served
 * over HTTP on the lab host address by this test, the node fetches them, and the guest's serial
 * console, read through the gateway, shows the command line it was booted with. Checked on the
 * node with virsh, qemu-img and ls. Guests, files and trees of this test are named `ni-`.
 */
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
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
  this.timeout(240_000);
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

  before(async () => {
    // Built by `lab.sh up`; on a lab brought up before the step existed, built here (cached, ~1 s).
    if (!existsSync(join(TREES, 'lab/install.amd/initrd.gz'))) await promisify(execFile)('bash', [LAB_SH, 'netinst-tree']);
    http = await serveTrees();
    e = await startEnv();
    node = e.lab.nodes[2];
    await cleanAll(node);
    await enroll(e, [node]);
  });
  after(async () => {
    if (node) await cleanAll(node);
    await e?.stop();
    http?.server.close();
  });

  it('installs from an HTTP tree: the node fetches it, the serial console shows the cmdline, the installer\'s reboot stops the guest, which then boots from its disks', async () => {
    const vm = 'ni-http';
    const marker = `ni-marker-${randomBytes(6).toString('hex')}`;
    http.hits.length = 0;
    const r = await ok([vm, 64, [0.05, '0.1'], ['lab', 'lxcbr0'], `${http.base}/lab`, `oms.marker=${marker} quiet`, true]);
    expect(r).to.deep.include({ name: vm, layout: 'debian-cd', kernel: 'install.amd/vmlinuz', initrd: 'install.amd/initrd.gz' });
    expect(r.disks).to.deep.equal([
      { target: 'sda', path: `${IMAGES}/${vm}-sda.qcow2`, size_gb: 0.05 },
      { target: 'sdb', path: `${IMAGES}/${vm}-sdb.qcow2`, size_gb: 0.1 },
    ]);

    // The node fetched the tree, not the gateway (which runs on this host, 127.0.0.1 / 10.213.7.1).
    const got = http.hits.filter((h) => h.status === 200);
    expect(got.map((h) => h.path).sort()).to.deep.equal(['/lab/install.amd/initrd.gz', '/lab/install.amd/vmlinuz']);
    expect([...new Set(http.hits.map((h) => h.from.replace(/^::ffff:/, '')))]).to.deep.equal([node.address]);

    // The install boot: the live definition boots the fetched kernel; its files are gone already.
    const live = readDomain((await virsh(node, 'dumpxml', vm)).stdout);
    expect(live).to.deep.include({ cmdline: `oms.marker=${marker} quiet console=ttyS0`, onReboot: 'destroy', onPoweroff: 'destroy' });
    expect(live.kernel).to.match(new RegExp(`^${IMAGES}/\\.oms-netinst-[0-9a-f]{16}\\.kernel$`));
    expect((await nodeExec(node, ['ls', '-a', IMAGES])).stdout).to.not.include('.oms-netinst-');

    // The guest's serial console, through the gateway: the kernel shows the command line and the
    // size of the initrd it was handed.
    const o = await e.ok('kvmservices', 'open_console', [e.sid, 0, node.name, vm]);
    const c = await openRaw(`${e.gw.url.replace(/^http/, 'ws')}/consoles/ws?ticket=${o.ticket}`);
    const initrdHex = statSync(join(TREES, 'lab/install.amd/initrd.gz')).size.toString(16).padStart(8, '0');
    const seen = (await c.waitFor((b) => b.toString('latin1').includes(`OMS-LAB-KERNEL initrd: ${initrdHex} bytes`) && b.toString('latin1').includes(marker), 60_000)).toString('latin1');
    expect(seen).to.include(`OMS-LAB-KERNEL cmdline: oms.marker=${marker} quiet console=ttyS0`);
    // A key on the console ends the "installer", which reboots: on_reboot destroy stops the guest.
    c.send('\r');
    await c.waitFor((b) => b.toString('latin1').includes('OMS-LAB-KERNEL done, rebooting'), 30_000);
    for (let i = 0; i < 60 && (await state(node, vm)) !== 'shut off'; i++) await sleep(500);
    expect(await state(node, vm)).to.equal('shut off');
    c.ws.close();
    await e.ok('kvmservices', 'close_console', [e.sid, 0, node.name, vm]).catch(() => undefined);

    // The persistent definition: boots from disk, disks sda/sdb on virtio-scsi, the two NICs.
    const d = readDomain((await virsh(node, 'dumpxml', '--inactive', vm)).stdout);
    expect(d).to.deep.include({ kernel: '', initrd: '', cmdline: '', bootDevs: ['hd'], onReboot: 'restart', hasSerial: true, hasConsole: true });
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
    expect(again).to.deep.include({ kernel: '', cmdline: '', bootDevs: ['hd'] });

    const del = (await e.ok('kvmservices', 'delete_vm_recursive', [e.sid, 0, node.name, vm, 'disks', true])).result;
    expect(del.deleted.sort()).to.deep.equal([`${IMAGES}/${vm}-sda.qcow2`, `${IMAGES}/${vm}-sdb.qcow2`]);
  });

  it('a tree in the node\'s ISO directory (node path) with a .treeinfo (RHEL layout); without console no console=ttyS0 is added', async () => {
    const vm = 'ni-path';
    await nodeExec(node, ['cp', '-r', join(TREES, 'treeinfo'), `${ISOS}/ni-tree`]);
    http.hits.length = 0;
    const r = await ok([vm, '64', [0.02], [], `${ISOS}/ni-tree/`]);
    expect(r).to.deep.include({ layout: 'treeinfo', kernel: 'images/pxeboot/vmlinuz', initrd: 'images/pxeboot/initrd.img', interfaces: [] });
    expect(http.hits).to.deep.equal([]);
    const live = readDomain((await virsh(node, 'dumpxml', vm)).stdout);
    expect(live).to.deep.include({ cmdline: '', onReboot: 'destroy' });
    expect(await state(node, vm)).to.equal('running');
    const o = await e.ok('kvmservices', 'open_console', [e.sid, 0, node.name, vm]);
    const c = await openRaw(`${e.gw.url.replace(/^http/, 'ws')}/consoles/ws?ticket=${o.ticket}`);
    await c.waitFor((b) => /OMS-LAB-KERNEL cmdline: \r\n/.test(b.toString('latin1')), 60_000);
    c.ws.close();
    await e.ok('kvmservices', 'close_console', [e.sid, 0, node.name, vm]).catch(() => undefined);
    await e.ok('kvmservices', 'delete_vm_recursive', [e.sid, 0, node.name, vm, 'disks', true]);
  });

  it('the Debian tree: Debian\'s own kernel is fetched by the node and booted', async () => {
    const vm = 'ni-debian';
    http.hits.length = 0;
    const r = await ok([vm, 128, [0.02], ['lab'], `${http.base}/debian/`, 'quiet', true]);
    expect(r).to.deep.include({ layout: 'debian-cd', kernel: 'install.amd/vmlinuz' });
    const kernel = http.hits.find((h) => h.path === '/debian/install.amd/vmlinuz');
    expect(kernel).to.deep.include({ status: 200, bytes: statSync(join(TREES, 'debian/install.amd/vmlinuz')).size, from: node.address });
    expect(await state(node, vm)).to.equal('running');
    // This machine's nested KVM does not get a Linux kernel far (see lab.sh): only the boot is checked.
    await e.ok('kvmservices', 'delete_vm_recursive', [e.sid, 0, node.name, vm, 'disks', true]);
  });

  it('refuses hostile input with clear errors; nothing is made on the node and the canary is unchanged', async () => {
    const before = await canary(node);
    const base = `${http.base}/lab/`;
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
      [['ni-bad', 64, [0.02], [], '/var/lib/oms-lab/netinst/lab'], /^InstallTreePathError: .*not inside the ISO directory/],
      [['ni-bad', 64, [0.02], [], `${ISOS}/ni-link-out`], /^InstallTreePathError/],
      [['ni-bad', 64, [0.02], [], `${http.base}/nothing-here/`], /^InstallTreeError: .*no kernel and initrd in any known layout/],
      [['ni-bad', 64, [0.02], [], `${ISOS}/ni-no-such-tree`], /^InstallTreeError: .*no such directory on the node/],
      [['ni-bad', 64, [0.02], [], `http://${HOST}:1/tree/`], /^InstallTreeError: .*curl: \(7\)/],
    ];
    await nodeExec(node, ['ln', '-sfn', '/var/lib/oms-lab/netinst/lab', `${ISOS}/ni-link-out`]);
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
