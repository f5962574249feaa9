/** TagService on enrolled lab nodes: host types, freeform tags, renames, VM tags, filters. */
import { expect } from 'chai';
import { enroll, startEnv, type Env } from './fixture.ts';

describe('tagservices on the lab', function () {
  this.timeout(120_000);
  let e: Env;
  let n1: string;
  let n2: string;
  before(async () => {
    e = await startEnv();
    await enroll(e, e.lab.nodes.slice(0, 2));
    [n1, n2] = e.lab.nodes.slice(0, 2).map((n) => n.name);
  });
  after(() => e?.stop());

  it('list_tags starts with the host types', async () => {
    expect(await e.ok('tagservices', 'list_tags', [e.sid, 0])).to.deep.equal([
      { tag: 'OpenNode', level: 1 },
      { tag: 'physical', level: 1 },
      { tag: 'virtual', level: 1 },
    ]);
  });

  it('change_host_type replaces the level-1 tag; unknown types and hosts are refused, nothing half-done', async () => {
    expect(await e.ok('tagservices', 'change_host_type', [e.sid, 0, [{ name: n1, type: 'virtual' }]])).to.equal(0);
    expect(await e.ok('tagservices', 'list_node_tags', [e.sid, 0, n1])).to.deep.equal([{ tag: 'virtual', level: 1 }]);
    const bad = await e.call('tagservices', 'change_host_type', [e.sid, 0, [{ name: n2, type: 'virtual' }, { name: n1, type: 'mainframe' }]]);
    expect(bad.error).to.include({ origin: 2, code: 300 });
    expect(bad.error.message).to.equal('UnknownHostException: Unknown host type: mainframe');
    expect(await e.ok('tagservices', 'list_node_tags', [e.sid, 0, n2])).to.deep.equal([{ tag: 'OpenNode', level: 1 }]);
    const ghost = await e.call('tagservices', 'change_host_type', [e.sid, 0, [{ name: 'ghost', type: 'virtual' }]]);
    expect(ghost.error.message).to.equal('UnknownNodeError: Unknown node: ghost');
    expect((await e.ok('funcservices', 'list_signed', [e.sid, 0, 'virtual'])).map((s: any) => s.name)).to.deep.equal([n1]);
  });

  it('freeform tags on nodes filter list_signed and can be renamed everywhere', async () => {
    await e.ok('tagservices', 'add_node_tag', [e.sid, 0, n1, 'rack-7']);
    await e.ok('tagservices', 'add_node_tag', [e.sid, 0, n2, 'rack-7']);
    await e.ok('tagservices', 'add_node_tag', [e.sid, 0, n2, 'production', 2]);
    expect((await e.ok('funcservices', 'list_signed', [e.sid, 0, 'rack-7'])).map((s: any) => s.name)).to.deep.equal([n1, n2]);
    expect(await e.ok('tagservices', 'edit_freeform_tag_name', [e.sid, 0, 'rack-7', 'rack-8'])).to.equal(0);
    expect((await e.ok('funcservices', 'list_signed', [e.sid, 0, 'rack-8'])).map((s: any) => s.name)).to.deep.equal([n1, n2]);
    expect(await e.ok('funcservices', 'list_signed', [e.sid, 0, 'rack-7'])).to.deep.equal([]);
    const tags = await e.ok('tagservices', 'list_tags', [e.sid, 0]);
    expect(tags).to.deep.include({ tag: 'rack-8', level: 3 });
    expect(tags).to.deep.include({ tag: 'production', level: 2 });
  });

  it('only freeform tags can be renamed, never onto an existing name', async () => {
    expect((await e.call('tagservices', 'edit_freeform_tag_name', [e.sid, 0, 'OpenNode', 'x'])).error.code).to.equal(301);
    expect((await e.call('tagservices', 'edit_freeform_tag_name', [e.sid, 0, 'production', 'x'])).error.code).to.equal(301);
    expect((await e.call('tagservices', 'edit_freeform_tag_name', [e.sid, 0, 'nope', 'x'])).error.message).to.equal('UnknownTagError: Unknown tag: nope');
    expect((await e.call('tagservices', 'edit_freeform_tag_name', [e.sid, 0, 'rack-8', 'production'])).error.code).to.equal(302);
    expect((await e.call('tagservices', 'add_node_tag', [e.sid, 0, n1, 'OpenNode'])).error.code).to.equal(302);
  });

  it('VM tags, removal, and pruning of unused tags', async () => {
    await e.ok('tagservices', 'add_vm_tag', [e.sid, 0, n1, 'web1', 'frontend']);
    expect(await e.ok('tagservices', 'list_vm_tags', [e.sid, 0, n1, 'web1'])).to.deep.equal([{ tag: 'frontend', level: 3 }]);
    await e.ok('tagservices', 'remove_vm_tag', [e.sid, 0, n1, 'web1', 'frontend']);
    expect(await e.ok('tagservices', 'list_vm_tags', [e.sid, 0, n1, 'web1'])).to.deep.equal([]);
    expect((await e.ok('tagservices', 'list_tags', [e.sid, 0])).map((t: any) => t.tag)).to.not.include('frontend');
    await e.ok('tagservices', 'remove_node_tag', [e.sid, 0, n2, 'production']);
    expect((await e.call('tagservices', 'remove_node_tag', [e.sid, 0, n2, 'production'])).error.code).to.equal(301);
    expect((await e.call('tagservices', 'add_vm_tag', [e.sid, 0, n1, '../x', 'a'])).error.code).to.equal(5);
  });

  it('list_tags honours cache_timeout', async () => {
    const fresh = await e.call('tagservices', 'list_tags', [e.sid, 0]);
    const cached = await e.call('tagservices', 'list_tags', [e.sid, 60]);
    expect(fresh.result.type).to.equal('func');
    expect(cached.result).to.deep.equal({ type: 'tmp_cache', result: fresh.result.result });
  });
});
