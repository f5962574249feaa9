import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { Argv } from '../../src/nodes/command.ts';
import { candidates, fetchKernel, installLocation, kernelCmdline, LAYOUTS, parseFetched, readTreeinfo, TREE_EXIT, treeinfoImages, withConsole, type TreeFetch } from './install-tree.ts';
import { domainXml, readDomain } from './domain.ts';
import { installDiskName, netInstallSpecs } from './netinstall.ts';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const run = promisify(execFile);

describe('kvmservices install trees (create_vm_from_location)', () => {
  it('location: http/https/ftp URLs and absolute node paths; the URL gets a trailing slash', () => {
    expect(installLocation.parse('http://10.213.7.1:8080/netinst')).to.deep.equal({ kind: 'url', url: 'http://10.213.7.1:8080/netinst/' });
    expect(installLocation.parse('https://mirror.example/debian/dists/bookworm/main/installer-amd64/')).to.deep.equal({ kind: 'url', url: 'https://mirror.example/debian/dists/bookworm/main/installer-amd64/' });
    expect(installLocation.parse('ftp://[fd00::1]/pub/os/')).to.deep.equal({ kind: 'url', url: 'ftp://[fd00::1]/pub/os/' });
    expect(installLocation.parse('/var/lib/oms-node/isos/debian-12/')).to.deep.equal({ kind: 'path', path: '/var/lib/oms-node/isos/debian-12' });
  });

  it('location: other schemes, credentials, queries, quotes, spaces, dot segments and relative paths are refused with the reason', () => {
    const reason = (s: unknown) => {
      const r = installLocation.safeParse(s);
      return r.success ? 'accepted' : r.error.issues[0].message;
    };
    expect(reason('file:///etc/passwd')).to.match(/scheme file is not allowed/);
    expect(reason('javascript:alert(1)')).to.match(/scheme javascript is not allowed/);
    expect(reason('gopher://x/')).to.match(/scheme gopher/);
    expect(reason('http://user:pw@host/tree/')).to.match(/no user or password/);
    expect(reason('http://host/tree/?x=1')).to.match(/no query/);
    expect(reason('http://host/a tree/')).to.match(/not a valid URL/);
    expect(reason("http://host/a'b/")).to.match(/not a valid URL/);
    expect(reason('http://host/a"b/')).to.match(/not a valid URL/);
    expect(reason('http://host/{a,b}/')).to.match(/not a valid URL/);
    expect(reason('http://host/a\nb/')).to.match(/not a valid URL/);
    expect(reason('http://host/../../etc/')).to.match(/no "\." or "\.\."/);
    expect(reason('http://host/a/%2e%2e/etc/')).to.match(/no "\." or "\.\."/);
    expect(reason('/var/lib/oms-node/isos/../../../etc')).to.match(/no "\." or "\.\."/);
    expect(reason('/var/lib/oms-node/isos/a b')).to.match(/not an absolute path/);
    expect(reason('/var/lib/oms-node/isos/-rf')).to.match(/not an absolute path/);
    expect(reason('isos/tree')).to.match(/an http, https or ftp URL, or an absolute path/);
    expect(reason('')).to.match(/an http, https or ftp URL/);
    expect(reason(`http://h/${'a'.repeat(3000)}`)).to.match(/longer than 2048/);
    expect(reason(1)).to.not.equal('accepted');
  });

  it('cmdline: printable ASCII only; console adds console=ttyS0 once, last', () => {
    expect(kernelCmdline.safeParse('auto=true priority=critical url="http://x/p.cfg" ;touch x').success).to.equal(true);
    for (const bad of ['a\nb', 'a\tb', 'a\u0000b', 'a\rb', 'nöde', 'x'.repeat(1025)]) expect(kernelCmdline.safeParse(bad).success, JSON.stringify(bad)).to.equal(false);
    expect(withConsole('quiet', true)).to.equal('quiet console=ttyS0');
    expect(withConsole('', true)).to.equal('console=ttyS0');
    expect(withConsole('console=ttyS0,115200n8 quiet', true)).to.equal('console=ttyS0,115200n8 quiet');
    expect(withConsole('console=ttyS0 console=tty0', true)).to.equal('console=ttyS0 console=tty0 console=ttyS0');
    expect(withConsole(' quiet ', false)).to.equal('quiet');
  });

  it('.treeinfo (the lab tree, captured): kernel and initrd of the node arch come first', () => {
    const t = treeinfoImages(fx('treeinfo-lab.ini'), 'x86_64');
    expect(t).to.deep.equal({ kernel: 'images/pxeboot/vmlinuz', initrd: 'images/pxeboot/initrd.img' });
    expect(treeinfoImages(fx('treeinfo-lab.ini'), 'aarch64')).to.equal(undefined);
    expect(candidates(t)[0]).to.deep.equal({ name: 'treeinfo', ...t });
    expect(candidates(undefined)).to.deep.equal(LAYOUTS);
    expect(candidates(undefined).map((c) => c.name)).to.include.members(['debian-installer', 'debian-cd', 'casper', 'pxeboot', 'suse']);
  });

  it('.treeinfo from a hostile server: paths out of the tree are refused', () => {
    for (const k of ['../../etc/shadow', '/etc/shadow', 'images/../../x', 'a b', '-rf', 'images/.hidden/x', '$(id)'])
      expect(() => treeinfoImages(`[images-x86_64]\nkernel = ${k}\ninitrd = images/initrd.img\n`, 'x86_64'), k).to.throw(/unsafe path/);
    expect(treeinfoImages('not ini at all [[[', 'x86_64')).to.equal(undefined);
  });

  it('the install boot and the final definition: one UUID; kernel only in the install boot; disks sda/sdb on virtio-scsi', () => {
    const p = { vm: 'ni-a', memoryMiB: 64, diskGb: [0.1, 0.2], networks: ['lab', 'lxcbr0'], location: { kind: 'url' as const, url: 'http://h/t/' }, cmdline: 'm=1', console: true, virtType: 'kvm' as const };
    const s = netInstallSpecs(p, 'x86_64', '8b0f3d55-4a55-4c4b-9a0f-7a3b8c1f0e11', ['/img/ni-a-sda.qcow2', '/img/ni-a-sdb.qcow2'], [{ type: 'network', source: 'lab' }, { type: 'bridge', source: 'lxcbr0' }], { kernel: '/img/.k', initrd: '/img/.i' });
    const final = readDomain(domainXml(s.final));
    const install = readDomain(domainXml(s.install));
    expect(final.uuid).to.equal(install.uuid).and.to.equal('8b0f3d55-4a55-4c4b-9a0f-7a3b8c1f0e11');
    expect(final).to.deep.include({ kernel: '', initrd: '', cmdline: '', bootDevs: ['hd'], onReboot: 'restart' });
    expect(install).to.deep.include({ kernel: '/img/.k', initrd: '/img/.i', cmdline: 'm=1 console=ttyS0', bootDevs: [], onReboot: 'destroy', onPoweroff: 'destroy' });
    for (const d of [final, install]) {
      expect(d.disks.map((k) => [k.targetDev, k.targetBus, k.source])).to.deep.equal([
        ['sda', 'scsi', '/img/ni-a-sda.qcow2'],
        ['sdb', 'scsi', '/img/ni-a-sdb.qcow2'],
      ]);
      expect(d.controllers).to.deep.equal([{ type: 'scsi', model: 'virtio-scsi' }]);
      expect(d.interfaces.map((i) => [i.type, i.source])).to.deep.equal([
        ['network', 'lab'],
        ['bridge', 'lxcbr0'],
      ]);
      expect(d).to.deep.include({ hasSerial: true, hasConsole: true });
    }
    // The cmdline is text in the XML: quotes and metacharacters are escaped by the writer.
    const odd = netInstallSpecs({ ...p, cmdline: `a='<x>' "&" ;touch /tmp/x` }, 'x86_64', 'u', [], [], { kernel: 'k', initrd: 'i' });
    expect(readDomain(domainXml(odd.install)).cmdline).to.equal(`a='<x>' "&" ;touch /tmp/x console=ttyS0`);
    expect(installDiskName('ni-a', 1)).to.equal('ni-a-sdb.qcow2');
    expect(readDomain(domainXml(s.install)).domainType).to.equal('kvm');
  });

  it('golden: a network install on a node with guestVirtType qemu (TCG): both forms are type=\'qemu\', nothing else changes', () => {
    const p = { vm: 'ni-a', memoryMiB: 128, diskGb: [0.1, 0.2], networks: ['lab', 'lxcbr0'], location: { kind: 'url' as const, url: 'http://h/t/' }, cmdline: 'm=1', console: true, virtType: 'qemu' as const };
    const boot = { kernel: '/img/.oms-netinst-0123456789abcdef.kernel', initrd: '/img/.oms-netinst-0123456789abcdef.initrd' };
    const s = netInstallSpecs(p, 'x86_64', '8b0f3d55-4a55-4c4b-9a0f-7a3b8c1f0e11', ['/img/ni-a-sda.qcow2', '/img/ni-a-sdb.qcow2'], [{ type: 'network', source: 'lab' }, { type: 'bridge', source: 'lxcbr0' }], boot);
    expect(domainXml(s.install)).to.equal(fx('netinstall-tcg-install.golden.xml'));
    expect(domainXml(s.final)).to.equal(fx('netinstall-tcg-final.golden.xml'));
    // The same install on a KVM node differs in the domain type only.
    const kvm = netInstallSpecs({ ...p, virtType: 'kvm' }, 'x86_64', '8b0f3d55-4a55-4c4b-9a0f-7a3b8c1f0e11', ['/img/ni-a-sda.qcow2', '/img/ni-a-sdb.qcow2'], [{ type: 'network', source: 'lab' }, { type: 'bridge', source: 'lxcbr0' }], boot);
    expect(domainXml(kvm.install)).to.equal(fx('netinstall-tcg-install.golden.xml').replace("<domain type='qemu'>", "<domain type='kvm'>"));
  });

  it('parseFetched reads the last line after the watchdog dots', () => {
    expect(parseFetched('.\n.\n3 1536 1028503\n')).to.deep.equal({ index: 3, kernelBytes: 1536, initrdBytes: 1028503 });
    expect(() => parseFetched('.\n')).to.throw(/no result line/);
  });

  describe('the node script on a local directory (node paths)', () => {
    let root: string;
    let f: (path: string) => TreeFetch;
    const sh = async (cmd: Argv) => {
      // The builders give plain strings only; the node's executor would quote them the same way.
      const argv = cmd.map(String);
      try {
        const r = await run(argv[0], argv.slice(1));
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (e) {
        const x = e as { code: number; stdout: string; stderr: string };
        return { code: x.code, stdout: x.stdout, stderr: x.stderr };
      }
    };
    before(() => {
      root = mkdtempSync(join(tmpdir(), 'ni-tree-'));
      for (const d of ['isos/tree/install.amd', 'isos/rh/images/pxeboot', 'images', 'outside/install.amd']) mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, 'isos/tree/install.amd/vmlinuz'), 'KERNEL');
      writeFileSync(join(root, 'isos/tree/install.amd/initrd.gz'), 'INITRD!');
      writeFileSync(join(root, 'isos/rh/.treeinfo'), fx('treeinfo-lab.ini'));
      writeFileSync(join(root, 'isos/rh/images/pxeboot/vmlinuz'), 'K2');
      writeFileSync(join(root, 'isos/rh/images/pxeboot/initrd.img'), 'I2');
      writeFileSync(join(root, 'outside/install.amd/vmlinuz'), 'SECRET');
      writeFileSync(join(root, 'outside/install.amd/initrd.gz'), 'SECRET');
      symlinkSync(join(root, 'outside'), join(root, 'isos/link-out'));
      mkdirSync(join(root, 'isos/tree2/install.amd'), { recursive: true });
      symlinkSync(join(root, 'outside/install.amd/vmlinuz'), join(root, 'isos/tree2/install.amd/vmlinuz'));
      writeFileSync(join(root, 'isos/tree2/install.amd/initrd.gz'), 'I');
      f = (path) => ({ location: { kind: 'path', path }, isoDir: join(root, 'isos'), imagesDir: join(root, 'images'), token: 'feedbeef' });
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    it('fetches the first layout present into the images directory', async () => {
      const r = await sh(fetchKernel(f(join(root, 'isos/tree')), candidates(undefined)));
      expect(r.code, r.stderr).to.equal(0);
      expect(parseFetched(r.stdout)).to.deep.equal({ index: LAYOUTS.findIndex((l) => l.name === 'debian-cd'), kernelBytes: 6, initrdBytes: 7 });
      expect(readFileSync(join(root, 'images/.oms-netinst-feedbeef.kernel'), 'utf8')).to.equal('KERNEL');
      rmSync(join(root, 'images/.oms-netinst-feedbeef.kernel'));
      rmSync(join(root, 'images/.oms-netinst-feedbeef.initrd'));
    });

    it('reads a .treeinfo; exit 4 when the tree has none', async () => {
      const r = await sh(readTreeinfo(f(join(root, 'isos/rh'))));
      expect(r.code).to.equal(0);
      expect(treeinfoImages(r.stdout, 'x86_64')).to.deep.equal({ kernel: 'images/pxeboot/vmlinuz', initrd: 'images/pxeboot/initrd.img' });
      expect((await sh(readTreeinfo(f(join(root, 'isos/tree'))))).code).to.equal(TREE_EXIT.notFound);
    });

    it('a tree outside the ISO directory, also through a symlink, or a file linking out, is refused (5); nothing is left behind', async () => {
      expect((await sh(fetchKernel(f(join(root, 'outside')), LAYOUTS))).code).to.equal(TREE_EXIT.outside);
      expect((await sh(fetchKernel(f(join(root, 'isos/link-out')), LAYOUTS))).code).to.equal(TREE_EXIT.outside);
      expect((await sh(fetchKernel(f(join(root, 'isos/tree2')), LAYOUTS))).code).to.equal(TREE_EXIT.outside);
      expect((await sh(fetchKernel(f(join(root, 'isos/nothing')), LAYOUTS))).code).to.equal(TREE_EXIT.noTree);
      expect((await sh(readTreeinfo(f(join(root, 'isos/nothing'))))).code).to.equal(TREE_EXIT.noTree);
      // The ISO directory itself may be a tree: it has no kernel here.
      expect((await sh(fetchKernel(f(join(root, 'isos')), LAYOUTS))).code).to.equal(TREE_EXIT.notFound);
      expect(readdirSync(join(root, 'images'))).to.deep.equal([]);
    });
  });
});
