/** Per-node directories: set_node_settings moves where a node's ISOs and disk images are read. */
import { expect } from 'chai';
import { nodeExec } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

describe('node directory settings', function () {
  this.timeout(120_000);
  let e: Env;
  const alt = '/var/lib/oms-node/dirs-test';
  before(async () => {
    e = await startEnv();
    await enroll(e, e.lab.nodes.slice(0, 1));
    const n = e.lab.nodes[0];
    await nodeExec(n, ['mkdir', '-p', `${alt}/isos`, `${alt}/images`]);
    await nodeExec(n, ['cp', '/var/lib/oms-node/isos/lab.iso', `${alt}/isos/other.iso`]);
  });
  after(async () => {
    await nodeExec(e.lab.nodes[0], ['rm', '-rf', '--', alt]);
    await e?.stop();
  });

  it('list_images and list_file_based_images follow isoDir and imagesDir', async () => {
    const node = e.lab.nodes[0].name;
    expect((await e.ok('isoservices', 'list_images', [e.sid, 0, node])).result).to.include('lab.iso');
    const settings = await e.ok('funcservices', 'set_node_settings', [e.sid, 0, node, { isoDir: `${alt}/isos`, imagesDir: `${alt}/images` }]);
    expect(settings.result).to.include({ isoDir: `${alt}/isos`, imagesDir: `${alt}/images` });
    expect((await e.ok('isoservices', 'list_images', [e.sid, 0, node])).result).to.deep.equal(['other.iso']);
    const images = await e.ok('kvmservices', 'list_file_based_images', [e.sid, 0, node]);
    expect(JSON.stringify(images.result)).to.not.include('lab-disk.qcow2');
    await e.ok('funcservices', 'set_node_settings', [e.sid, 0, node, { isoDir: '/var/lib/oms-node/isos', imagesDir: '/var/lib/oms-node/images' }]);
    expect((await e.ok('isoservices', 'list_images', [e.sid, 0, node])).result).to.include('lab.iso');
  });

  it('directories must be absolute paths without ..', async () => {
    const node = e.lab.nodes[0].name;
    for (const bad of ['relative/dir', '/var/../etc', '/tmp/$(id)', '/a b']) {
      expect((await e.call('funcservices', 'set_node_settings', [e.sid, 0, node, { isoDir: bad }])).error?.code, bad).to.equal(5);
    }
  });
});
