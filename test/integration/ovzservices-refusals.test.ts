/**
 * ovzservices refusals on real lab nodes, each checked on the nodes themselves: a migration to an
 * enrolled node that cannot be reached, or that has no LXC tools, is refused before the source
 * container is touched; a deploy whose template needs more than the disk asked for is refused and
 * leaves nothing behind.
 *
 * Objects made here: containers 9471-9473, templates labt-small and labt-big in a template
 * directory of this test's own (node setting containerTemplatesDir), all removed in after().
 * The third node is the migration target; it is made unreachable (sshd killed) or made to lack
 * the LXC tools (hidden in its own mount namespace) for a second or two at a time.
 */
import { expect } from 'chai';
import { canary, killSshd, nodeExec, startSshd, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const OVZ = 'ovzservices';
const TEMPLATES = '/var/lib/oms-node/labt-ct-templates';
const IDS = ['9471', '9472', '9473'];
/** 80 MiB of zeros in the big template's root filesystem: more than the 64 MiB disk asked for. */
const BUILD_TEMPLATES = `set -eu
dir=$1
mkdir -p "$dir"
d=$(mktemp -d /tmp/labt-build.XXXXXX)
trap 'rm -rf "$d"' EXIT
lxc-create -P "$d" -t busybox -n 9999 >/dev/null
r="$d/9999/rootfs"
printf '#!/bin/sh\\n/bin/syslogd\\n/bin/mount -a\\n' >"$r/etc/init.d/rcS"
tar -C "$r" --numeric-owner -czf "$dir/labt-small.tar.gz" .
head -c 83886080 /dev/zero >"$r/pad"
tar -C "$r" --numeric-owner -czf "$dir/labt-big.tar.gz" .
for t in labt-small labt-big; do printf '{"memory":64,"min_memory":32,"vcpu":1,"vcpulimit":0,"disk":128,"halt_signal":"SIGUSR1"}\\n' >"$dir/$t.json"; done`;

async function lxcState(n: LabNode, id: string): Promise<string> {
  const r = await nodeExec(n, ['lxc-info', '-n', id, '-s', '-H']);
  return r.code === 0 ? r.stdout.trim() : 'MISSING';
}
const exists = async (n: LabNode, id: string) => (await nodeExec(n, ['test', '-e', `/var/lib/lxc/${id}`])).code === 0;

/** What must not change on the source when a migration is refused: state, init pid, config, files. */
async function fingerprint(n: LabNode, id: string): Promise<string> {
  const r = await nodeExec(n, ['sh', '-c', 'lxc-info -n "$1" -s -p -H && sha256sum "/var/lib/lxc/$1/config" && find "/var/lib/lxc/$1/rootfs" -xdev | sort | sha256sum', 'labt-fp', id]);
  expect(r.code, r.stderr).to.equal(0);
  return r.stdout;
}

describe('ovzservices refusals on the lab (LXC)', function () {
  this.timeout(180_000);
  let e: Env;
  let src: LabNode;
  let dst: LabNode;

  const cleanup = async () => {
    for (const n of [src, dst]) {
      for (const id of IDS) {
        if (!(await exists(n, id))) continue;
        await nodeExec(n, ['lxc-stop', '-n', id, '-k']);
        await nodeExec(n, ['lxc-destroy', '-n', id]);
      }
    }
    await nodeExec(src, ['rm', '-rf', '--', TEMPLATES]);
  };

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '10' });
    [src, , dst] = e.lab.nodes;
    await enroll(e, [src, dst]);
    await cleanup();
    const built = await nodeExec(src, ['sh', '-c', BUILD_TEMPLATES, 'labt-build', TEMPLATES]);
    expect(built.code, built.stderr).to.equal(0);
    await e.ok('funcservices', 'set_node_settings', [e.sid, 0, src.name, { containerTemplatesDir: TEMPLATES }]);
    expect((await e.ok(OVZ, 'list_templates', [e.sid, 0, src.name])).result).to.deep.equal(['labt-big', 'labt-small']);
  });
  after(async () => {
    if (src) await cleanup();
    await e?.stop();
  });

  describe('migrate_vm to a node that cannot take the container', () => {
    before(async () => {
      expect((await e.ok(OVZ, 'deploy_template_for_vm', [e.sid, 0, src.name, 'labt-small', 'ct9471.labt', { vm_id: '9471' }])).result).to.deep.equal({});
      expect((await e.ok(OVZ, 'start_vm', [e.sid, 0, src.name, '9471'])).result).to.equal(0);
      expect(await lxcState(src, '9471')).to.equal('RUNNING');
    });

    /** The refusal leaves the source exactly as it was (not even stopped) and the target empty. */
    const refusedCleanly = async (before: string, canaryBefore: string) => {
      expect(await fingerprint(src, '9471')).to.equal(before);
      expect((await nodeExec(src, ['lxc-attach', '-n', '9471', '--', 'hostname'])).stdout.trim()).to.equal('ct9471.labt');
      expect(await exists(dst, '9471')).to.equal(false);
      expect(await canary(dst)).to.equal(canaryBefore);
      const tasks = await e.ok('tasks', 'list_tasks', [e.sid, 0, src.name]);
      expect(tasks.filter((t: any) => t.kind === 'ovz.migrate').map((t: any) => t.state)).to.deep.equal([]);
    };

    it('an enrolled target whose sshd is down: a typed error naming it, the source untouched', async () => {
      const before = await fingerprint(src, '9471');
      const canaryBefore = await canary(dst);
      await killSshd(dst);
      let r: any;
      try {
        const started = Date.now();
        r = await e.call(OVZ, 'migrate_vm', [e.sid, 0, src.name, '9471', dst.name]);
        expect(Date.now() - started).to.be.below(25_000);
      } finally {
        await startSshd(dst);
      }
      expect(r.error?.message, JSON.stringify(r)).to.match(new RegExp(`^(NodeUnreachableError|FuncMethodTimeoutError): .*${dst.name}`));
      await refusedCleanly(before, canaryBefore);
    });

    it('a target without the LXC tools: OpenVZMigrationNotCapable naming it as target, the source untouched', async () => {
      // The lab's nodes share the installed packages, so the tools are hidden in the target's
      // own mount namespace (an empty, non-executable file over each /usr/bin/lxc-*), only for
      // the call: for the gateway's SSH sessions there, `which lxc-start` finds nothing.
      const hide = `set -e
: > /run/labt-no-tool
for f in /usr/bin/lxc-*; do mount --bind /run/labt-no-tool "$f"; done`;
      const unhide = 'for f in /usr/bin/lxc-*; do while mountpoint -q "$f"; do umount "$f"; done; done; rm -f /run/labt-no-tool';
      // The test before stopped this node's sshd: first the gateway reaches it again (its
      // reconnect backoff may still hold a refused attempt), so the refusal below is the tools'.
      for (let end = Date.now() + 60_000; (await e.call('statsservices', 'get_stats', [e.sid, 0, dst.name, 'uptime'])).error; ) {
        if (Date.now() > end) throw new Error(`${dst.name} not reachable again within 60 s`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const before = await fingerprint(src, '9471');
      const canaryBefore = await canary(dst);
      let r: any;
      try {
        const hidden = await nodeExec(dst, ['sh', '-c', hide]);
        expect(hidden.code, hidden.stderr).to.equal(0);
        expect((await nodeExec(dst, ['sh', '-c', 'command -v lxc-start && test -x /usr/bin/lxc-start'])).code).to.not.equal(0);
        r = await e.call(OVZ, 'migrate_vm', [e.sid, 0, src.name, '9471', dst.name]);
      } finally {
        const shown = await nodeExec(dst, ['sh', '-c', unhide]);
        expect(shown.code, shown.stderr).to.equal(0);
      }
      expect((await nodeExec(dst, ['test', '-x', '/usr/bin/lxc-start'])).code).to.equal(0);
      expect(r.error, JSON.stringify(r)).to.include({ origin: 2, code: 700 });
      expect(r.error.message).to.match(new RegExp(`^OpenVZMigrationNotCapable: Node ${dst.name} is not capable to be target of CT migration: .*LXC tools`));
      await refusedCleanly(before, canaryBefore);
    });
  });

  describe('deploy_template_for_vm and the disk setting', () => {
    it('a template that needs more than the disk asked for: OpenVZDeployError, nothing left on the node', async () => {
      const r = await e.call(OVZ, 'deploy_template_for_vm', [e.sid, 0, src.name, 'labt-big', 'ct9472.labt', { vm_id: '9472', disk: '64' }]);
      expect(r.error, JSON.stringify(r)).to.include({ origin: 2, code: 709 });
      expect(r.error.message).to.match(new RegExp(`^OpenVZDeployError: Deploying template labt-big as container 9472 on ${src.name} failed: the template needs (8[0-9]) MiB, more than disk 64 MiB$`));
      expect(await lxcState(src, '9472')).to.equal('MISSING');
      expect(await exists(src, '9472')).to.equal(false);
      expect(Object.keys((await e.ok(OVZ, 'list_vms_status', [e.sid, 0, src.name])).result)).to.not.include('9472');
      const failed = (await e.ok('tasks', 'list_tasks', [e.sid, 0, src.name, 'failed'])).find((t: any) => t.kind === 'ovz.deploy' && t.target === '9472');
      expect(failed?.error?.name).to.equal('OpenVZDeployError');
    });

    it('the same template with a disk it fits in deploys (the refusal was the size, nothing else)', async () => {
      expect((await e.ok(OVZ, 'deploy_template_for_vm', [e.sid, 0, src.name, 'labt-big', 'ct9473.labt', { vm_id: '9473', disk: '128' }])).result).to.deep.equal({});
      expect(await lxcState(src, '9473')).to.equal('STOPPED');
      const du = await nodeExec(src, ['du', '-sm', '/var/lib/lxc/9473/rootfs']);
      expect(Number(du.stdout.split('\t')[0])).to.be.within(81, 128);
      expect((await e.ok(OVZ, 'parse_vm_settings', [e.sid, 0, src.name, '9473'])).result).to.include({ disk: '128' });
      expect((await e.ok(OVZ, 'delete_vm', [e.sid, 0, src.name, '9473'])).result).to.equal(0);
      expect(await exists(src, '9473')).to.equal(false);
    });
  });
});
