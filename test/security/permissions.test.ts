/**
 * Permissions on every method, generated from the declarations: a user without the privilege
 * gets PermissionDenied on each method that declares one, and nothing runs on any node.
 */
import { expect } from 'chai';
import { allServices } from '../../services/index.ts';
import { canary } from '../lab/index.ts';
import { enroll, startEnv, type Env } from '../integration/fixture.ts';
import { figure } from './figures.ts';
import { sampleFor } from './samples.ts';
import { fetchCa } from '../helpers/https.ts';

describe('permissions on every method', function () {
  this.timeout(300_000);
  let e: Env;
  before(async () => {
    e = await startEnv();
    await enroll(e, e.lab.nodes.filter((n) => n.libvirt));
  });
  after(() => e?.stop());

  it('a user without privileges is refused everywhere a privilege is declared, before anything runs', async () => {
    const nodes = e.lab.nodes.filter((n) => n.libvirt);
    const before = await Promise.all(nodes.map((n) => canary(n)));
    await e.ok('userservices', 'add_user', [e.sid, 0, 'nobody', 'nobody-password-1']);
    const sid = (await e.call('authservices', 'authenticate', ['nobody', 'nobody-password-1'])).result.result;
    let checked = 0;
    const wrong: string[] = [];
    const untestable: string[] = [];
    for (const s of allServices({ qooxdooTestService: false })) {
      for (const m of s.methods) {
        if (typeof m.permission !== 'object') continue;
        const params = m.params.map((p) => sampleFor(p, nodes[0].name));
        if (params.some((v, i) => v === undefined && !m.params[i].optional)) {
          untestable.push(`${s.name}.${m.name}`);
          continue;
        }
        const flat = params.flatMap((v, i) => (m.params[i].rest ? ((v as unknown[]) ?? []) : [v]));
        while (flat.length && flat[flat.length - 1] === undefined) flat.pop();
        const r = (await fetchCa(`${e.gw.url}/jsonrpc`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `${s.name}.${m.name}`, params: [sid, 0, ...flat] }), headers: { 'content-type': 'application/json' } })).json();
        checked++;
        if (r.error?.data?.name !== 'PermissionDenied') wrong.push(`${s.name}.${m.name}: ${JSON.stringify(r.error ?? r.result).slice(0, 120)}`);
      }
    }
    const after = await Promise.all(nodes.map((n) => canary(n)));
    figure('methods checked for permission denial', checked);
    if (untestable.length) figure('methods without a valid sample (not checked)', untestable.join(', '));
    expect(wrong, wrong.join('\n')).to.deep.equal([]);
    expect(after).to.deep.equal(before);
  });
});
