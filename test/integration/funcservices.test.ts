/**
 * Enrollment against real lab nodes through the real gateway process: requests carry the host
 * key the node's sshd really offers; signing pins it; a changed key is refused until re-signed;
 * removal takes the gateway key off the node.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { canary, rotateHostKey } from '../lab/index.ts';
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
});
