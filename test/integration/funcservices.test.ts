/**
 * Enrollment against real lab nodes through the real gateway process: requests carry the host
 * key the node's sshd really offers; signing pins it; a changed key is refused until re-signed;
 * removal takes the gateway key off the node, or names the node it could not take it off; the
 * guest count of list_signed is the node's own. Objects: guest labt-count, container 9470.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { canary, killSshd, nodeExec, rotateHostKey, startSshd, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

describe('funcservices on the lab', function () {
  this.timeout(120_000);
  let e: Env;
  before(async () => {
    e = await startEnv();
  });
  after(() => e?.stop());

  it('add_request reads the host key each node really offers', async () => {
    expect(await e.ok('funcservices', 'list_requests', [e.sid, 0])).to.deep.equal([]);
    for (const n of e.lab.nodes.slice(0, 3)) {
      const r = await e.ok('funcservices', 'add_request', [e.sid, 0, n.name, n.address, n.port]);
      expect(r.fingerprint).to.equal(n.hostKeyFingerprint);
    }
    const reqs = await e.ok('funcservices', 'list_requests', [e.sid, 0]);
    expect(reqs.map((r: any) => [r.name, r.fingerprint])).to.deep.equal(e.lab.nodes.slice(0, 3).map((n) => [n.name, n.hostKeyFingerprint]));
  });

  it('an unreachable address is a typed error naming it', async () => {
    const r = await e.call('funcservices', 'add_request', [e.sid, 0, 'ghost', '127.0.0.1', 1]);
    expect(r.error.message).to.match(/^NodeUnreachableError: Node 127\.0\.0\.1:1 is unreachable|^NodeUnreachableError/);
  });

  it('sign_requests refuses unknown names before signing any', async () => {
    const names = [e.lab.nodes[0].name, 'ghost-node'];
    const r = await e.call('funcservices', 'sign_requests', [e.sid, 0, names]);
    expect(r.error).to.include({ origin: 2, code: 210 });
    expect(r.error.message).to.equal('UnknownSignRequestsError: ghost-node');
    expect(await e.ok('funcservices', 'list_signed', [e.sid, 0])).to.deep.equal([]);
  });

  it('sign_requests pins the keys; nodes with virtualization tools are typed OpenNode', async () => {
    const names = e.lab.nodes.slice(0, 3).map((n) => n.name);
    expect(await e.ok('funcservices', 'sign_requests', [e.sid, 0, names])).to.deep.equal([]);
    expect(await e.ok('funcservices', 'list_requests', [e.sid, 0])).to.deep.equal([]);
    const signed = await e.ok('funcservices', 'list_signed', [e.sid, 0]);
    expect(signed.map((s: any) => s.name)).to.deep.equal(names);
    for (const s of signed) {
      expect(s.status).to.equal(1);
      expect(s.vmcount).to.be.a('number');
      expect(s.tags).to.deep.equal([{ tag: 'OpenNode', level: 1 }]);
    }
    expect((await e.ok('funcservices', 'list_signed', [e.sid, 0, 'OpenNode'])).length).to.equal(3);
    expect(await e.ok('funcservices', 'list_signed', [e.sid, 0, 'physical'])).to.deep.equal([]);
  });

  it('hostile names are refused before anything runs on a node', async () => {
    const node = e.lab.nodes[0];
    const before = await canary(node);
    for (const bad of [`${node.name}; touch /tmp/pwned`, '$(reboot)', '`id`', '-oProxyCommand=sh', '../../etc', 'a\nb']) {
      for (const [svc, m, params] of [
        ['funcservices', 'sign_requests', [[bad]]],
        ['funcservices', 'add_request', [bad, node.address]],
        ['funcservices', 'add_request', ['x', bad]],
        ['funcservices', 'remove_signed', [[bad]]],
        ['funcservices', 'list_signed', [bad]],
      ] as [string, string, unknown[]][]) {
        const r = await e.call(svc, m, [e.sid, 0, ...params]);
        expect(r.error?.code, `${m} ${JSON.stringify(bad)}`).to.equal(5);
      }
    }
    expect(await canary(node)).to.equal(before);
  });

  it('a changed host key is refused (status 0) until the new key is requested and signed', async () => {
    const node = e.lab.nodes[2];
    const rotated = await rotateHostKey(node);
    expect(rotated.hostKeyFingerprint).to.not.equal(node.hostKeyFingerprint);
    const listed = await e.ok('funcservices', 'list_signed', [e.sid, 0]);
    expect(listed.find((s: any) => s.name === node.name).status).to.equal(0);
    // Re-requesting shows both keys for review; the node stays pinned to the old one meanwhile.
    await e.ok('funcservices', 'add_request', [e.sid, 0, node.name, node.address, node.port]);
    const req = (await e.ok('funcservices', 'list_requests', [e.sid, 0]))[0];
    expect(req).to.include({ name: node.name, fingerprint: rotated.hostKeyFingerprint, pinned_fingerprint: node.hostKeyFingerprint, signed: true });
    expect((await e.ok('funcservices', 'list_signed', [e.sid, 0])).find((s: any) => s.name === node.name).status).to.equal(0);
    await e.ok('funcservices', 'sign_requests', [e.sid, 0, [node.name]]);
    const after = await e.ok('funcservices', 'list_signed', [e.sid, 0]);
    expect(after.find((s: any) => s.name === node.name)).to.include({ status: 1, fingerprint: rotated.hostKeyFingerprint });
    node.hostKeyFingerprint = rotated.hostKeyFingerprint;
  });

  it('remove_signed takes the gateway key off the node and forgets it; re-enrollment works', async () => {
    const node = e.lab.nodes[1];
    const keysFile = node.authorizedKeysFile!;
    const keysBefore = readFileSync(keysFile, 'utf8');
    const r = await e.ok('funcservices', 'remove_signed', [e.sid, 0, [node.name]]);
    expect(r).to.deep.equal({ failed_removals: [] });
    expect(readFileSync(keysFile, 'utf8').trim()).to.equal('');
    expect((await e.ok('funcservices', 'list_signed', [e.sid, 0])).map((s: any) => s.name)).to.not.include(node.name);
    const unknown = await e.call('funcservices', 'remove_signed', [e.sid, 0, [node.name]]);
    expect(unknown.error.message).to.equal(`UnknownRemoveSignedError: ${node.name}`);
    // The node's administrator authorizes the gateway again, then it is re-enrolled.
    writeFileSync(keysFile, keysBefore);
    await enroll(e, [node]);
    expect((await e.ok('funcservices', 'list_signed', [e.sid, 0])).find((s: any) => s.name === node.name).status).to.equal(1);
  });

  it('signing fails with SSHKeyAddError when the node does not accept the gateway key', async () => {
    const node = e.lab.nodes[1];
    const keysFile = node.authorizedKeysFile!;
    const keys = readFileSync(keysFile, 'utf8');
    await e.ok('funcservices', 'remove_signed', [e.sid, 0, [node.name]]);
    try {
      await e.ok('funcservices', 'add_request', [e.sid, 0, node.name, node.address, node.port]);
      const r = await e.call('funcservices', 'sign_requests', [e.sid, 0, [node.name]]);
      expect(r.error.message).to.match(/^SSHKeyAddError: Unable to log in to /);
      expect((await e.ok('funcservices', 'list_requests', [e.sid, 0])).map((x: any) => x.name)).to.include(node.name);
      expect(await e.ok('funcservices', 'remove_requests', [e.sid, 0, [node.name]])).to.equal(0);
      expect((await e.call('funcservices', 'remove_requests', [e.sid, 0, [node.name]])).error.message).to.equal(`UnknownRemoveRequestError: ${node.name}`);
    } finally {
      writeFileSync(keysFile, keys);
      await enroll(e, [node]);
    }
  });

  it('the gateway key is available to administrators only', async () => {
    const key = await e.ok('funcservices', 'get_gateway_key', [e.sid, 0]);
    expect(key).to.match(/^ssh-ed25519 AAAA/);
    await e.ok('userservices', 'add_user', [e.sid, 0, 'viewer', 'viewer-password', [{ path: '/', role: 'Auditor' }]]);
    const v = (await e.call('authservices', 'authenticate', ['viewer', 'viewer-password'])).result.result;
    expect((await e.call('funcservices', 'get_gateway_key', [v, 0])).error.code).to.equal(6);
    // An auditor sees nodes but not requests.
    expect((await e.ok('funcservices', 'list_signed', [v, 0])).length).to.equal(3);
    expect((await e.call('funcservices', 'list_requests', [v, 0])).error.code).to.equal(6);
  });
  it('list_signed vmcount is the number of libvirt guests and containers the node itself lists', async () => {
    // One guest (defined, not started) and one container of ours on the first node, so a count
    // that left out either kind would be wrong there; every node is compared.
    const node = e.lab.nodes[0];
    const xml = "<domain type='kvm'><name>labt-count</name><memory unit='MiB'>16</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";
    const def = await nodeExec(node, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml });
    expect(def.code, def.stderr).to.equal(0);
    const ct = await nodeExec(node, ['lxc-create', '-t', 'busybox', '-n', '9470']);
    try {
      expect(ct.code, ct.stderr).to.equal(0);
      const names = async (n: LabNode, argv: string[]) => (await nodeExec(n, argv)).stdout.split('\n').filter((l) => l.trim() !== '');
      const onNode = async (n: LabNode) => {
        const [vms, cts] = await Promise.all([names(n, ['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']), names(n, ['lxc-ls', '-1'])]);
        return { vms, cts };
      };
      const mine = await onNode(node);
      expect(mine.vms).to.include('labt-count');
      expect(mine.cts).to.include('9470');
      for (const n of e.lab.nodes.slice(0, 3)) {
        // Other tests make and remove guests on these nodes too: compare only when the node's own
        // count was the same just before and just after the gateway's.
        let compared = false;
        for (let i = 0; i < 10 && !compared; i++) {
          const before = await onNode(n);
          const listed = (await e.ok('funcservices', 'list_signed', [e.sid, 0])).find((s: any) => s.name === n.name);
          const after = await onNode(n);
          const count = before.vms.length + before.cts.length;
          if (count !== after.vms.length + after.cts.length) continue;
          expect(listed.vmcount, `${n.name}: ${JSON.stringify(before)}`).to.equal(count);
          compared = true;
        }
        expect(compared, `${n.name} held still long enough to compare`).to.equal(true);
      }
    } finally {
      await nodeExec(node, ['lxc-destroy', '-n', '9470']);
      await nodeExec(node, ['virsh', '-c', 'qemu:///system', 'undefine', 'labt-count']);
    }
  });

  describe('remove_signed where the key cannot be removed', () => {
    // As documented: the node is listed in failed_removals and forgotten all the same (its pinned
    // key too); the gateway key stays on the node, so the node's administrator must remove it.
    const forgotten = async (name: string) => {
      expect((await e.ok('funcservices', 'list_signed', [e.sid, 0])).map((s: any) => s.name)).to.not.include(name);
      expect((await e.ok('funcservices', 'list_requests', [e.sid, 0])).map((s: any) => s.name)).to.not.include(name);
      expect((await e.call('funcservices', 'remove_signed', [e.sid, 0, [name]])).error.message).to.equal(`UnknownRemoveSignedError: ${name}`);
      const r = await e.call('statsservices', 'get_stats', [e.sid, 0, name, 'uptime']);
      expect(r.error.message).to.equal(`UnknownNodeError: Unknown node: ${name}`);
    };

    it('the authorized keys file named in the node settings does not exist: failed, forgotten, key left', async () => {
      const node = e.lab.nodes[0];
      const keys = readFileSync(node.authorizedKeysFile!, 'utf8');
      const gatewayKey = (await e.ok('funcservices', 'get_gateway_key', [e.sid, 0])).split(/\s+/)[1];
      expect(keys).to.include(gatewayKey);
      await e.ok('funcservices', 'set_node_settings', [e.sid, 0, node.name, { authorizedKeysFile: '/root/.ssh/labt-no-such-file' }]);
      expect(await e.ok('funcservices', 'remove_signed', [e.sid, 0, [node.name]])).to.deep.equal({ failed_removals: [node.name] });
      await forgotten(node.name);
      expect(readFileSync(node.authorizedKeysFile!, 'utf8')).to.equal(keys);
      expect((await nodeExec(node, ['test', '-e', '/root/.ssh/labt-no-such-file'])).code).to.equal(1);
      // The key is still authorized there: the node enrolls again at once.
      await enroll(e, [node]);
      expect((await e.ok('funcservices', 'list_signed', [e.sid, 0])).find((s: any) => s.name === node.name).status).to.equal(1);
    });

    it('the node is unreachable (sshd killed): failed, forgotten, key left', async () => {
      const node = e.lab.nodes[2];
      const keys = readFileSync(node.authorizedKeysFile!, 'utf8');
      await killSshd(node);
      try {
        const started = Date.now();
        expect(await e.ok('funcservices', 'remove_signed', [e.sid, 0, [node.name]])).to.deep.equal({ failed_removals: [node.name] });
        expect(Date.now() - started).to.be.below(15_000);
      } finally {
        await startSshd(node);
      }
      await forgotten(node.name);
      expect(readFileSync(node.authorizedKeysFile!, 'utf8')).to.equal(keys);
      await enroll(e, [node]);
      expect((await e.ok('funcservices', 'list_signed', [e.sid, 0])).find((s: any) => s.name === node.name).status).to.equal(1);
    });
  });
});
