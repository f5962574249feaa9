/**
 * lvmservices on a real lab node: each change checked with the node's own `lvs`; space, name and
 * guest-use refusals; hostile input refused before anything runs; the lvmDriverLoaded node setting.
 * Objects: LVs hostt-* and labt-*, a defined (never started) libvirt domain hostt-lvuser, and for
 * the setting's tests a wrapper in the node's /usr/local/sbin (see there); all removed after.
 */
import { expect } from 'chai';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const GUEST = 'hostt-lvuser';

describe('lvmservices on the lab', function () {
  this.timeout(120_000);
  let e: Env;
  let node: LabNode;
  let vg: string;
  let S: (method: string, params: unknown[]) => Promise<any>;
  let ok: (method: string, params: unknown[]) => Promise<any>;

  const lvsOnNode = async (): Promise<{ lv_name: string; lv_size: string }[]> => {
    const r = await nodeExec(node, ['lvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'lv_name,lv_size', vg]);
    return JSON.parse(r.stdout).report[0].lv;
  };
  const mine = async () => (await lvsOnNode()).filter((l) => l.lv_name.startsWith('hostt-'));
  const virsh = (...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);

  const cleanup = async () => {
    await virsh('undefine', GUEST).catch(() => undefined); // absent is fine: this is a sweep
    for (const l of await mine()) expect((await nodeExec(node, ['lvremove', '-y', `${vg}/${l.lv_name}`])).code).to.equal(0);
  };

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '20' });
    node = e.lab.nodes[2];
    vg = node.lvm!.vg;
    await enroll(e, [node]);
    S = (m, params) => e.call('lvmservices', m, [e.sid, 0, node.name, ...params]);
    ok = async (m, params) => (await e.ok('lvmservices', m, [e.sid, 0, node.name, ...params])).result;
    await cleanup();
  });
  after(async () => {
    if (node) await cleanup();
    await e?.stop();
  });

  it('list_vg and list_volume_groups describe the node VG as vgdisplay and vgs do', async () => {
    const r = await S('list_vg', []);
    expect(r.error).to.equal(null);
    expect(r.result.result.client).to.equal(node.name);
    const groups = r.result.result.result as string[][][];
    const ours = groups.find((g) => g[0][2] === vg)!;
    expect(ours[0]).to.deep.equal(['VG', 'Name', vg]);
    expect(ours).to.deep.include(['Format', 'lvm2']);
    const real = JSON.parse((await nodeExec(node, ['vgs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'vg_size,vg_free,vg_extent_count', vg])).stdout).report[0].vg[0];
    expect(ours).to.deep.include(['Total', 'PE', real.vg_extent_count]);
    const structured = (await ok('list_volume_groups', [])).find((v: any) => v.name === vg);
    expect(structured).to.include({ size: Number(real.vg_size), free: Number(real.vg_free), extent_count: Number(real.vg_extent_count) });
  });

  it('create, grow, shrink (forced), remove — each checked with lvs on the node', async () => {
    const created = await ok('create_lv', [vg, 'hostt-a', 12]);
    expect(created).to.include({ name: 'hostt-a', vg, size: 12 * 1048576, path: `/dev/${vg}/hostt-a` });
    expect(await mine()).to.deep.equal([{ lv_name: 'hostt-a', lv_size: String(12 * 1048576) }]);
    expect((await ok('list_logical_volumes', [vg])).map((l: any) => l.name)).to.include('hostt-a');
    const lvList = (await ok('list_lv', [])) as string[][][];
    expect(lvList.some((l) => l.some((w) => w[0] === 'LV' && w[1] === 'Name' && w[2] === 'hostt-a'))).to.equal(true);

    expect((await ok('resize_lv', [vg, 'hostt-a', 20])).size).to.equal(20 * 1048576);
    expect((await mine())[0].lv_size).to.equal(String(20 * 1048576));
    const shrink = await S('resize_lv', [vg, 'hostt-a', 8]);
    expect(shrink.error.message).to.match(/^VolumeShrinkError/);
    expect((await mine())[0].lv_size).to.equal(String(20 * 1048576));
    expect((await ok('resize_lv', [vg, 'hostt-a', 8, true])).size).to.equal(8 * 1048576);
    expect((await mine())[0].lv_size).to.equal(String(8 * 1048576));

    expect(await ok('remove_lv', [vg, 'hostt-a'])).to.equal(0);
    expect(await mine()).to.deep.equal([]);
    expect((await S('remove_lv', [vg, 'hostt-a'])).error.message).to.match(/^UnknownLogicalVolumeError/);
  });

  it('refuses what does not fit or already exists, leaving the VG unchanged', async () => {
    await ok('create_lv', [vg, 'hostt-b', 4]);
    const before = await lvsOnNode();
    const dup = await S('create_lv', [vg, 'hostt-b', 4]);
    expect(dup.error).to.include({ code: 822 });
    const big = await S('create_lv', [vg, 'hostt-c', 64 * 1024]);
    expect(big.error.message).to.match(/^InsufficientSpaceError: Volume group .* has \d+ bytes free; 68719476736 bytes needed/);
    expect((await S('resize_lv', [vg, 'hostt-b', 64 * 1024])).error.message).to.match(/^InsufficientSpaceError/);
    expect((await S('create_lv', ['vg_nosuch', 'hostt-c', 4])).error.message).to.match(/^UnknownVolumeGroupError/);
    expect((await S('resize_lv', [vg, 'hostt-nosuch', 4])).error.message).to.match(/^UnknownLogicalVolumeError/);
    expect(await lvsOnNode()).to.deep.equal(before);
    await ok('remove_lv', [vg, 'hostt-b']);
  });

  it('an LV a guest uses is neither removed nor shrunk', async () => {
    await ok('create_lv', [vg, 'hostt-used', 8]);
    const xml = `<domain type='kvm'><name>${GUEST}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
      <devices><disk type='block' device='disk'><source dev='/dev/${vg}/hostt-used'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
    const def = await nodeExec(node, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml });
    expect(def.code, def.stderr).to.equal(0);
    const r = await S('remove_lv', [vg, 'hostt-used']);
    expect(r.error).to.include({ code: 824 });
    expect(r.error.message).to.include(GUEST);
    expect((await S('resize_lv', [vg, 'hostt-used', 4, true])).error.message).to.match(/^VolumeInUseError/);
    expect((await mine()).map((l) => l.lv_name)).to.deep.equal(['hostt-used']);
    expect((await virsh('undefine', GUEST)).code).to.equal(0);
    expect(await ok('remove_lv', [vg, 'hostt-used'])).to.equal(0);
    expect(await mine()).to.deep.equal([]);
  });

  it('hostile or invalid input is refused before anything runs', async () => {
    const before = await canary(node);
    const lvs = await lvsOnNode();
    for (const bad of ['hostt;id', 'hostt$(id)', 'hostt`id`', '../hostt', '-hostt', 'hostt\nx', 'hosttх', 'h'.repeat(200), '', 'hostt x', "hostt'", '..', 'snapshot-x']) {
      expect((await S('create_lv', [vg, bad, 4])).error?.code, JSON.stringify(bad)).to.equal(5);
      expect((await S('remove_lv', [vg, bad])).error?.code, JSON.stringify(bad)).to.equal(5);
      expect((await S('create_lv', [bad, 'hostt-z', 4])).error?.code, JSON.stringify(bad)).to.equal(5);
    }
    for (const size of [0, -1, 1.5, '8', '8; id', 1e12, null]) expect((await S('create_lv', [vg, 'hostt-z', size])).error?.code, String(size)).to.equal(5);
    expect((await S('resize_lv', [vg, 'hostt-z', 4, 'yes'])).error?.code).to.equal(5);
    expect(await canary(node)).to.equal(before);
    expect(await lvsOnNode()).to.deep.equal(lvs);
  });

  describe('node setting lvmDriverLoaded, set with funcservices.set_node_settings', () => {
    // The lab's lvm.conf disables activation for every command, so on it --driverloaded n changes
    // nothing and a gateway that ignored the setting would pass. Here the node gets, for LVs named
    // labt-* only, what a stock host without device-mapper has: a wrapper early in root's PATH
    // (/usr/local/sbin, bind-mounted in this node's mount namespace only) runs the real tool with
    // LVM_SYSTEM_DIR pointing at a copy of the node's /etc/lvm with activation on, and notes the
    // argv it was given. There lvcreate and lvresize fail unless they carry --driverloaded n, as
    // on such a host. Other LVs (other tests on the shared node) pass straight through.
    const DIR = '/run/labt-lvm';
    const WRAPPER = `#!/bin/sh
tool=\${0##*/}
case " $* " in
  *" labt-"*|*"/labt-"*) printf '%s\\n' "$tool $*" >> ${DIR}/argv.log; LVM_SYSTEM_DIR=${DIR}/etc; export LVM_SYSTEM_DIR ;;
esac
exec /usr/sbin/"$tool" "$@"
`;
    const SETUP = `set -eu
rm -rf ${DIR}; mkdir -p ${DIR}/sbin
cp -a /etc/lvm ${DIR}/etc
sed -i 's/^\\([[:space:]]*\\)activation = 0$/\\1activation = 1/' ${DIR}/etc/lvmlocal.conf
grep -q '^[[:space:]]*activation = 1$' ${DIR}/etc/lvmlocal.conf
cat > ${DIR}/sbin/lvcreate
chmod 755 ${DIR}/sbin/lvcreate
for t in lvresize lvremove; do ln -s lvcreate ${DIR}/sbin/$t; done
mount --bind ${DIR}/sbin /usr/local/sbin`;
    const argvLog = async () => (await nodeExec(node, ['sh', '-c', `cat ${DIR}/argv.log 2>/dev/null; : > ${DIR}/argv.log`])).stdout.split('\n').filter(Boolean);
    const settings = async (s: { lvmDriverLoaded: boolean }) =>
      expect((await e.ok('funcservices', 'set_node_settings', [e.sid, 0, node.name, s])).result).to.include(s);

    before(async () => {
      const r = await nodeExec(node, ['sh', '-c', SETUP], { input: WRAPPER });
      expect(r.code, r.stderr).to.equal(0);
      // The wrapper is what an SSH session on this node runs for lvcreate now, and only there.
      const which = await nodeExec(node, ['sh', '-c', 'command -v lvcreate']);
      expect(which.stdout.trim()).to.equal('/usr/local/sbin/lvcreate');
    });
    after(async () => {
      await e.call('funcservices', 'set_node_settings', [e.sid, 0, node.name, { lvmDriverLoaded: true }]);
      for (const l of (await lvsOnNode()).filter((x) => x.lv_name.startsWith('labt-'))) await nodeExec(node, ['lvremove', '-y', `${vg}/${l.lv_name}`]);
      await nodeExec(node, ['sh', '-c', `umount /usr/local/sbin; rm -rf ${DIR}`]);
    });

    it('false: create and resize carry --driverloaded n and work where device-mapper is missing', async () => {
      await settings({ lvmDriverLoaded: false });
      await argvLog();
      expect(await ok('create_lv', [vg, 'labt-nodm', 4])).to.include({ name: 'labt-nodm', size: 4 * 1048576 });
      expect((await ok('resize_lv', [vg, 'labt-nodm', 8])).size).to.equal(8 * 1048576);
      expect((await lvsOnNode()).find((l) => l.lv_name === 'labt-nodm')?.lv_size).to.equal(String(8 * 1048576));
      expect(await ok('remove_lv', [vg, 'labt-nodm'])).to.equal(0);
      expect((await lvsOnNode()).map((l) => l.lv_name)).to.not.include('labt-nodm');
      const seen = await argvLog();
      expect(seen.map((l) => l.split(' ')[0])).to.deep.equal(['lvcreate', 'lvresize', 'lvremove']);
      for (const l of seen) expect(l, l).to.include(' --driverloaded n ');
    });

    it('true (the default): the same create runs without it, fails there with LvmCommandError and makes no LV', async () => {
      await settings({ lvmDriverLoaded: true });
      await argvLog();
      const r = await S('create_lv', [vg, 'labt-dm', 4]);
      expect(r.error?.message, JSON.stringify(r)).to.match(/^LvmCommandError: /);
      expect((await lvsOnNode()).map((l) => l.lv_name)).to.not.include('labt-dm');
      const seen = await argvLog();
      expect(seen).to.have.length(1);
      expect(seen[0]).to.match(/^lvcreate /);
      expect(seen[0]).to.not.include('--driverloaded');
    });
  });
});
