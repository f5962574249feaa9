/**
 * clone_vm after CloudSigma on a real lab node through the gateway process: a name chosen when
 * none is given, and the clone's console password, which is never the source's. Checked on the
 * node (virsh dumpxml --security-info, qemu-img compare) and through the clone's own VNC console
 * (the RFB handshake with VNC authentication, through the gateway's console tunnel). Guests are
 * kst-* on omsnode3.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { repoRoot } from '../helpers/process.ts';
import { openRaw } from '../browser/lab-guests.ts';
import { enroll, startEnv, type Env } from './fixture.ts';
import { cleanKst, define, IMAGES, plainXml, virsh, waitFor } from './kst-lab.ts';

const SRC = 'kst-src';
const OPEN = 'kst-open';
/** The source's password: a clone must never be opened with it. */
const SRC_PASSWORD = 'kstSrc12';

/** noVNC's DES (VNC authentication uses DES, which Node's OpenSSL 3 no longer offers). */
async function vncResponse(password: string, challenge: Buffer): Promise<Buffer> {
  const des = await import(pathToFileURL(join(repoRoot, 'node_modules/@novnc/novnc/core/crypto/des.js')).href);
  const key = des.DESECBCipher.importKey([...password].map((c) => c.charCodeAt(0)));
  return Buffer.from(key.encrypt({ name: 'DES-ECB' }, challenge));
}

describe('clone_vm: name and console password, on the lab', function () {
  this.timeout(240_000);
  let e: Env;
  let node: LabNode;
  const call = (method: string, params: unknown[]) => e.call('kvmservices', method, [e.sid, 0, node.name, ...params]);
  const ok = (method: string, params: unknown[]) => e.ok('kvmservices', method, [e.sid, 0, node.name, ...params]).then((r) => r.result);
  const passwd = async (vm: string): Promise<string | null> => {
    const xml = (await virsh(node, 'dumpxml', '--inactive', '--security-info', vm)).stdout;
    expect(xml, vm).to.match(/<graphics type='vnc'/);
    return /<graphics type='vnc'[^>]*\spasswd='([^']*)'/.exec(xml)?.[1] ?? null;
  };
  const finished = async (task: string) => {
    const t = await waitFor('clone task', () => e.ok('tasks', 'task_status', [e.sid, 0, task]), (r: any) => r.state !== 'running', 120_000);
    expect(t.state, JSON.stringify(t.error)).to.equal('succeeded');
    return t;
  };

  /**
   * The RFB handshake on the guest's console through the gateway (set_up_vnc_connection, a
   * ticket, the console websocket): the security types the server offers, and, given a
   * password, the server's verdict on it (SecurityResult 0 = accepted).
   */
  async function vncLogin(vm: string, password?: string): Promise<{ types: number[]; accepted?: boolean }> {
    // The console methods answer without the {client, result} wrapping (they name no node param).
    const port = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, node.name, vm]));
    try {
      const t = await e.ok('kvmservices', 'get_vnc_ticket', [e.sid, 0, port]);
      const c = await openRaw(`${e.gw.url.replace(/^http/, 'ws')}/consoles/ws?ticket=${t.ticket}`);
      try {
        await c.waitFor((b) => b.length >= 12);
        c.send('RFB 003.008\n');
        const sec = await c.waitFor((b) => b.length >= 13 && b.length >= 13 + b[12]);
        const types = [...sec.subarray(13, 13 + sec[12])];
        if (password === undefined) return { types };
        const at = 13 + sec[12];
        c.send(Buffer.from([2]));
        const challenge = (await c.waitFor((b) => b.length >= at + 16)).subarray(at, at + 16);
        c.send(await vncResponse(password, challenge));
        const result = (await c.waitFor((b) => b.length >= at + 20)).readUInt32BE(at + 16);
        return { types, accepted: result === 0 };
      } finally {
        c.ws.close();
      }
    } finally {
      await e.ok('kvmservices', 'remove_vnc_connection', [e.sid, 0, node.name, vm]);
    }
  }

  before(async () => {
    e = await startEnv();
    node = e.lab.nodes[2];
    await cleanKst(node);
    await enroll(e, [node]);
    const img = await nodeExec(node, ['qemu-img', 'create', '-q', '-f', 'qcow2', `${IMAGES}/${SRC}.qcow2`, '4M']);
    expect(img.code, img.stderr).to.equal(0);
    // Some data in the disk, so the copy is compared on content, not only size.
    const io = await nodeExec(node, ['qemu-io', '-c', 'write -P 0x5a 0 1M', `${IMAGES}/${SRC}.qcow2`]);
    expect(io.code, io.stderr).to.equal(0);
    await define(node, plainXml(SRC, { disk: `${IMAGES}/${SRC}.qcow2`, vncPassword: SRC_PASSWORD }));
    await define(node, plainXml(OPEN));
  });
  after(async () => {
    if (node) await cleanKst(node);
    await e?.stop();
  });

  it('without new_name the first free <source>-clone-N is taken and returned; a leftover disk file skips its number', async () => {
    const first = await ok('clone_vm', [SRC]);
    expect(first.name).to.equal(`${SRC}-clone-1`);
    expect(first.task_id).to.match(/^[0-9a-f-]{36}$/);
    const t = await finished(first.task_id);
    expect(t.result).to.deep.equal({ name: `${SRC}-clone-1`, disks: [`${IMAGES}/${SRC}-clone-1-vda.qcow2`] });
    expect((await virsh(node, 'domblklist', `${SRC}-clone-1`)).stdout).to.include(`${IMAGES}/${SRC}-clone-1-vda.qcow2`);
    const cmp = await nodeExec(node, ['qemu-img', 'compare', `${IMAGES}/${SRC}.qcow2`, `${IMAGES}/${SRC}-clone-1-vda.qcow2`]);
    expect(cmp.stdout.trim(), cmp.stderr).to.equal('Images are identical.');

    // A file another run left behind under the next name: that name is not free.
    await nodeExec(node, ['touch', `${IMAGES}/${SRC}-clone-2-vda.qcow2`]);
    const third = await ok('clone_vm', [SRC, null]);
    expect(third.name).to.equal(`${SRC}-clone-3`);
    await finished(third.task_id);
    expect((await virsh(node, 'dominfo', `${SRC}-clone-3`)).code).to.equal(0);
    expect((await virsh(node, 'dominfo', `${SRC}-clone-2`)).code).to.not.equal(0);
    // The OMS form with a name still works and answers with that name.
    const named = await ok('clone_vm', [SRC, 'kst-named']);
    expect(named.name).to.equal('kst-named');
    await finished(named.task_id);
    expect((await call('clone_vm', [SRC, 'kst-named'])).error.message).to.equal(`VmExistsError: VM kst-named already exists on ${node.name}`);
  });

  it("a protected source: every clone gets a fresh password, returned once; the source's never opens a clone", async () => {
    expect(await passwd(SRC)).to.equal(SRC_PASSWORD);
    const clones: { name: string; password: string }[] = [];
    for (const c of ['kst-named', `${SRC}-clone-1`, `${SRC}-clone-3`]) {
      // Those were made in the test above without asking for a password: the default.
      const p = await passwd(c);
      expect(p, c).to.be.a('string').and.not.equal(SRC_PASSWORD);
      clones.push({ name: c, password: p! });
    }
    const asked = await ok('clone_vm', [SRC, 'kst-asked', true]);
    expect(asked.vnc_password).to.match(/^[A-HJ-NP-Za-km-z2-9]{8}$/);
    const t = await finished(asked.task_id);
    expect(await passwd('kst-asked')).to.equal(asked.vnc_password);
    const all = [...clones.map((c) => c.password), asked.vnc_password, SRC_PASSWORD];
    expect(new Set(all).size, 'all different').to.equal(all.length);

    // Returned once: not in the task, its log, the audit log or the gateway's log.
    const log = await e.ok('tasks', 'task_log', [e.sid, 0, asked.task_id]);
    const audit = await e.ok('userservices', 'list_audit', [e.sid, 0]);
    for (const [what, text] of [
      ['task', JSON.stringify(t)],
      ['task log', JSON.stringify(log)],
      ['audit', JSON.stringify(audit)],
      ['gateway log', e.gw.logs.join('\n')],
    ] as const)
      expect(text, what).to.not.include(asked.vnc_password);
    expect(JSON.stringify(audit)).to.include('clone_vm');

    // On the console: the clone asks for VNC authentication, takes its own password, refuses the source's.
    await ok('start_vm', ['kst-asked']);
    const good = await vncLogin('kst-asked', asked.vnc_password);
    expect(good).to.deep.equal({ types: [2], accepted: true });
    expect(await vncLogin('kst-asked', SRC_PASSWORD)).to.deep.equal({ types: [2], accepted: false });
    await ok('stop_vm', ['kst-asked']);
  });

  it('an open source gives an open clone unless random_vnc_password asks for one', async () => {
    expect(await passwd(OPEN)).to.equal(null);
    const plain = await ok('clone_vm', [OPEN, 'kst-open-c1']);
    expect(plain).to.deep.include({ name: 'kst-open-c1', vnc_password: null });
    await finished(plain.task_id);
    expect(await passwd('kst-open-c1')).to.equal(null);
    const no = await ok('clone_vm', [OPEN, 'kst-open-c2', 'no']);
    expect(no.vnc_password).to.equal(null);
    await finished(no.task_id);
    expect(await passwd('kst-open-c2')).to.equal(null);

    const asked = await ok('clone_vm', [OPEN, null, 'yes']);
    expect(asked.name).to.equal(`${OPEN}-clone-1`);
    expect(asked.vnc_password).to.match(/^[A-HJ-NP-Za-km-z2-9]{8}$/);
    await finished(asked.task_id);
    expect(await passwd(asked.name)).to.equal(asked.vnc_password);
    await ok('start_vm', [asked.name]);
    expect((await vncLogin(asked.name, asked.vnc_password)).accepted).to.equal(true);
    await ok('stop_vm', [asked.name]);
    // The source's own console stays open (no VNC authentication offered: type 1, None).
    await ok('start_vm', [OPEN]);
    expect((await vncLogin(OPEN)).types).to.deep.equal([1]);
    await ok('stop_vm', [OPEN]);
  });

  it('hostile and invalid input is refused before anything runs; the canary and the guests are unchanged', async () => {
    // Other engineers' guests and files may come and go on the node: only kst-* ones are compared.
    const mine = async () => ({
      guests: (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').filter((l) => l.startsWith('kst-')),
      images: (await nodeExec(node, ['ls', IMAGES])).stdout.split('\n').filter((l) => l.startsWith('kst-')),
    });
    const before = { canary: await canary(node), ...(await mine()) };
    const bad = ['x; touch /tmp/kst-pwn', '$(id)', '`id`', '../../etc/passwd', '-rf', 'vm\n', 'a b', 'vmа', 'x'.repeat(65), "a'b", 'a/b', '', 7];
    const tries: [string, unknown[]][] = [
      ...bad.flatMap((b): [string, unknown[]][] => [
        ['clone_vm', [b]],
        ['clone_vm', [SRC, b]],
      ]),
      ['clone_vm', [SRC, 'kst-x', 'maybe']],
      ['clone_vm', [SRC, 'kst-x', 2]],
      ['clone_vm', [SRC, 'kst-x', true, 'extra']],
    ];
    for (const [m, p] of tries) expect((await call(m, p)).error?.code, `${m} ${JSON.stringify(p)}`).to.equal(5);
    expect(await canary(node)).to.equal(before.canary);
    expect({ canary: before.canary, ...(await mine()) }).to.deep.equal(before);
    expect((await nodeExec(node, ['test', '-e', '/tmp/kst-pwn'])).code).to.equal(1);
  });
});
