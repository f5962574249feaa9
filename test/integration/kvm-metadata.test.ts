/**
 * A guest carrying what its owner put in its XML (title, description with markup characters and
 * non-ASCII text, another application's <metadata> with a comment and CDATA) on a real lab node:
 * the methods that read its XML work, and the ones that write it keep all of that unchanged, as
 * `virsh dumpxml` shows it afterwards. Guests and files of this test are named kmeta-*.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const IMAGES = '/var/lib/oms-node/images';
const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);

/** The captured guest (services/kvmservices/fixtures), renamed, without its uuid and MAC, on its own disk. */
const definition = (name: string): string =>
  readFileSync(new URL('../../services/kvmservices/fixtures/dumpxml-metadata.xml', import.meta.url), 'utf8')
    .replace('<name>xmlcli-meta</name>', `<name>${name}</name>`)
    .replace(/\n\s*<uuid>[^<]*<\/uuid>/, '')
    .replace(/\n\s*<mac address='[^']*'\/>/, '')
    .replace(`${IMAGES}/xmlcli-meta.qcow2`, `${IMAGES}/${name}.qcow2`);

/** The owner's parts of a domain as libvirt prints them, byte for byte. */
function ownerParts(xml: string): string[] {
  return ['title', 'description', 'metadata'].map((el) => {
    const m = new RegExp(`<${el}>[\\s\\S]*?</${el}>`).exec(xml);
    if (!m) throw new Error(`no <${el}> in ${xml}`);
    return m[0];
  });
}

async function cleanAll(node: LabNode): Promise<void> {
  const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('kmeta-'));
  for (const vm of names) {
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', '--managed-save', vm);
  }
  await nodeExec(node, ['find', IMAGES, '-maxdepth', '1', '-name', 'kmeta-*', '-exec', 'rm', '-f', '--', '{}', '+']);
}

describe('kvmservices on a guest with user metadata (lab)', function () {
  this.timeout(120_000);
  let e: Env;
  let node: LabNode;
  let original: string[];
  const ok = (method: string, params: unknown[]) => e.ok('kvmservices', method, [e.sid, 0, node.name, ...params]).then((r) => r.result);
  const dump = async (vm: string) => (await virsh(node, 'dumpxml', '--inactive', vm)).stdout;

  before(async () => {
    e = await startEnv();
    node = e.lab.nodes[2];
    await cleanAll(node);
    await enroll(e, [node]);
    expect((await nodeExec(node, ['qemu-img', 'create', '-q', '-f', 'qcow2', `${IMAGES}/kmeta-a.qcow2`, '8M'])).code).to.equal(0);
    const def = await nodeExec(node, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: definition('kmeta-a') });
    expect(def.code, def.stderr).to.equal(0);
    original = ownerParts(await dump('kmeta-a'));
    // What libvirt kept of the definition: the comment, the CDATA and the escaped markup.
    expect(original[2]).to.include('<!-- set by the inventory tool; do not edit -->').and.include('<![CDATA[<b>bold</b> & raw "text" ]]>');
    expect(original[1]).to.include('&lt;/description&gt;&lt;devices&gt;');
  });
  after(async () => {
    if (node) await cleanAll(node);
    await e?.stop();
  });

  it('parse_vm_for_template reads the guest', async () => {
    const s = await ok('parse_vm_for_template', ['kmeta-a', 'kmeta-tpl']);
    expect(s).to.deep.include({ vm_name: 'kmeta-a', memory: '64', vcpu: '1', arch: 'x86_64' });
    expect(s.disks.map((d: any) => d.disk_path)).to.deep.equal([`${IMAGES}/kmeta-a.qcow2`]);
  });

  it('edit_vm changes memory and cpus; title, description and metadata stay as they were', async () => {
    expect(await ok('edit_vm', ['kmeta-a', { memory: 96, cpus: 2 }])).to.equal(0);
    const xml = await dump('kmeta-a');
    expect(xml).to.include("<memory unit='KiB'>98304</memory>");
    expect(xml).to.match(/<vcpu placement='static'>2<\/vcpu>/);
    expect(ownerParts(xml)).to.deep.equal(original);
    // The escaped markup in the description did not become devices.
    expect((await virsh(node, 'domblklist', 'kmeta-a')).stdout).to.not.include('injected');
  });

  it('clone_vm writes the XML back: the copy has the same title, description and metadata', async () => {
    const { task_id } = await ok('clone_vm', ['kmeta-a', 'kmeta-b']);
    let t: any;
    for (let i = 0; i < 100; i++) {
      t = await e.ok('tasks', 'task_status', [e.sid, 0, task_id]);
      if (t.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(t.state, JSON.stringify(t.error)).to.equal('succeeded');
    const xml = await dump('kmeta-b');
    expect(ownerParts(xml)).to.deep.equal(original);
    expect(xml).to.include(`<source file='${IMAGES}/kmeta-b-vda.qcow2'/>`);
    expect((await virsh(node, 'domuuid', 'kmeta-b')).stdout.trim()).to.not.equal((await virsh(node, 'domuuid', 'kmeta-a')).stdout.trim());
    const disks = (await virsh(node, 'domblklist', 'kmeta-b')).stdout;
    expect(disks).to.include(`${IMAGES}/kmeta-b-vda.qcow2`).and.not.include('injected');
  });
});
