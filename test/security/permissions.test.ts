/**
 * Permissions on every method, generated from the declarations: a user without the privilege
 * gets PermissionDenied on each method that declares one, and nothing runs on any node.
 *
 * Methods that declare no privilege ('public', or 'authenticated' with the narrowing done in the
 * handler: own objects, per-item filtering, a privilege on a row found at run time) each have a
 * rule below, exercised both ways: the caller it must refuse is refused with nothing done, and the
 * caller it must serve is served. The set of such methods is read from the declarations, so a new
 * one fails this suite until it has its rule.
 */
import { expect } from 'chai';
import { allServices } from '../../services/index.ts';
import { canary, nodeExec } from '../lab/index.ts';
import { enroll, startEnv, type Env } from '../integration/fixture.ts';
import { figure } from './figures.ts';
import { sampleFor } from './samples.ts';
import { fetchCa } from '../helpers/https.ts';
import Database from 'better-sqlite3';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { digest } from '../../src/auth/tokens.ts';

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

  describe('methods whose rule is not a declared privilege', () => {
    interface Answer {
      name?: string;
      message?: string;
      result?: any;
    }
    const rpc = async (method: string, params: unknown[], bearer?: string): Promise<Answer> => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (bearer) headers.authorization = `Bearer ${bearer}`;
      const r = (await fetchCa(`${e.gw.url}/jsonrpc`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), headers })).json();
      return r.error ? { name: r.error.data?.name ?? String(r.error.code), message: r.error.message } : { result: r.result?.result ?? r.result };
    };
    const login = async (user: string, roles: { path: string; role: string }[] = []) => {
      await e.ok('userservices', 'add_user', [e.sid, 0, user, `${user}-password-1`, roles]);
      return (await rpc('authservices.authenticate', [user, `${user}-password-1`])).result as string;
    };
    /** The gateway's own database, for rows a rule needs and that no lab guest provides (a VNC tunnel). */
    const withDb = <T>(f: (db: Database.Database) => T): T => {
      const db = new Database(join(e.gw.dataDir, 'oms.db'));
      try {
        return f(db);
      } finally {
        db.close();
      }
    };

    const PERM_GUEST = 'permfleet-g1';
    let nobody: string; // no grant anywhere
    let auditor: string; // Auditor on /: node.view, vm.view, audit.view; no vm.state, vm.console, node.admin
    let nodeAdmin: string; // Administrator on one node only
    let node: string;
    let other: string;

    type Rule = () => Promise<void>;
    const rules: Record<string, Rule> = {
      'rpc.discover': async () => {
        // Public by design: the API description, identical for everyone.
        const anon = await rpc('rpc.discover', []);
        expect(anon.result?.methods?.length).to.be.greaterThan(100);
        expect((await rpc('rpc.discover', [], nobody)).result).to.deep.equal(anon.result);
      },
      'authservices.authenticate': async () => {
        expect((await rpc('authservices.authenticate', ['admin', 'not-the-password-1'])).name).to.equal('AuthError');
        expect((await rpc('authservices.authenticate', ['permnobody', 'permnobody-password-1'])).result).to.match(/^[0-9A-F]{40}$/);
      },
      'authservices.deauthenticate': async () => {
        // Public, but only the holder of a session id can end it.
        const victim = (await rpc('authservices.authenticate', ['permnobody', 'permnobody-password-1'])).result;
        expect((await rpc('authservices.deauthenticate', ['0'.repeat(40)])).name).to.equal('DeathError');
        expect((await rpc('authservices.checksessid', [victim])).name).to.equal(undefined);
        expect((await rpc('authservices.deauthenticate', [victim])).name).to.equal(undefined);
        expect((await rpc('authservices.checksessid', [victim])).name).to.equal('AuthError');
      },
      'authservices.checksessid': async () => {
        expect((await rpc('authservices.checksessid', ['F'.repeat(40)])).name).to.equal('AuthError');
        expect((await rpc('authservices.checksessid', [nobody])).name).to.equal(undefined);
      },
      'userservices.whoami': async () => {
        // Only ever about the caller.
        expect((await rpc('userservices.whoami', [nobody, 0, '/'])).result).to.include({ name: 'permnobody' }).and.to.have.property('privileges').that.deep.equals([]);
        expect((await rpc('userservices.whoami', [e.sid, 0, '/'])).result.privileges).to.include('user.admin');
        expect((await rpc('userservices.whoami', ['F'.repeat(40), 0])).name).to.equal('AuthError');
      },
      'userservices.list_roles': async () => {
        expect((await rpc('userservices.list_roles', ['F'.repeat(40), 0])).name).to.equal('AuthError');
        expect(JSON.stringify((await rpc('userservices.list_roles', [nobody, 0])).result)).to.include('Administrator');
      },
      'tagservices.list_tags': async () => {
        expect((await rpc('tagservices.list_tags', ['F'.repeat(40), 0])).name).to.equal('AuthError');
        expect(JSON.stringify((await rpc('tagservices.list_tags', [nobody, 0])).result)).to.include('OpenNode');
      },
      'userservices.create_api_token': async () => {
        // Own tokens only, and only from a password session: a token cannot mint tokens.
        const t = (await rpc('userservices.create_api_token', [nobody, 0, 'permtok'])).result;
        expect(t?.token, 'a password session creates a token').to.be.a('string');
        expect((await rpc('userservices.whoami', [0], t.token)).result).to.include({ name: 'permnobody' });
        expect((await rpc('userservices.list_users', [0], t.token)).name, 'the token holds only its user\'s rights').to.equal('PermissionDenied');
        expect((await rpc('userservices.create_api_token', [0, 'permtok2'], t.token)).name).to.equal('PermissionDenied');
        expect((await rpc('userservices.list_api_tokens', [nobody, 0])).result.map((x: any) => x.name)).to.deep.equal(['permtok']);
      },
      'userservices.list_api_tokens': async () => {
        await rpc('userservices.create_api_token', [e.sid, 0, 'permadmintok']);
        expect((await rpc('userservices.list_api_tokens', [nobody, 0])).result.map((x: any) => x.name)).to.not.include('permadmintok');
        expect((await rpc('userservices.list_api_tokens', [e.sid, 0])).result.map((x: any) => x.name)).to.include('permadmintok');
      },
      'userservices.revoke_api_token': async () => {
        const t = (await rpc('userservices.create_api_token', [e.sid, 0, 'permadmintok2'])).result.token;
        expect((await rpc('userservices.revoke_api_token', [nobody, 0, 'permadmintok2'])).name).to.equal('UnknownUserError');
        expect((await rpc('userservices.whoami', [0], t)).result, "another user's token still works").to.include({ name: 'admin' });
        expect((await rpc('userservices.revoke_api_token', [e.sid, 0, 'permadmintok2'])).name).to.equal(undefined);
        expect((await rpc('userservices.whoami', [0], t)).name).to.equal('AuthError');
      },
      'funcservices.list_signed': async () => {
        // Filtered per node by node.view: nobody sees none, a node's administrator that node only.
        expect((await rpc('funcservices.list_signed', [nobody, 0])).result).to.deep.equal([]);
        expect((await rpc('funcservices.list_signed', [nodeAdmin, 0])).result.map((n: any) => n.name)).to.deep.equal([node]);
        expect((await rpc('funcservices.list_signed', [auditor, 0])).result.map((n: any) => n.name)).to.include.members([node, other]);
      },
      'events.poll': async () => {
        // Filtered per event by the paths of the methods: the enrolment events of both nodes are in the journal.
        expect((await rpc('events.poll', ['F'.repeat(40), 0, 0, 0])).name).to.equal('AuthError');
        const nodesSeen = async (sid: string) => [...new Set(((await rpc('events.poll', [sid, 0, 0, 0, { types: ['node'] }])).result.events as any[]).map((x) => x.node))];
        expect(await nodesSeen(nobody)).to.deep.equal([]);
        expect(await nodesSeen(nodeAdmin)).to.deep.equal([node]);
        expect(await nodesSeen(auditor)).to.include.members([node, other]);
        expect((await rpc('events.poll', [nodeAdmin, 0, 0, 0, { nodes: [other] }])).name).to.equal('PermissionDenied');
      },
      'events.subscribe': async () => {
        // Only on /ws (the protocol tests subscribe there); elsewhere a typed refusal, after the session check.
        expect((await rpc('events.subscribe', ['F'.repeat(40), 0])).name).to.equal('AuthError');
        expect((await rpc('events.subscribe', [nobody, 0])).name).to.equal('EventTransportError');
      },
      'events.unsubscribe': async () => {
        expect((await rpc('events.unsubscribe', ['F'.repeat(40), 0])).name).to.equal('AuthError');
        expect((await rpc('events.unsubscribe', [nobody, 0])).name).to.equal('EventTransportError');
      },
      // Fleet calls run each target call as the caller: a node or guest the caller may not see is not
      // selected, one they see without the method's privilege is refused per target, nothing done.
      'fleetservices.call': async () => {
        const call = (sid: string) => rpc('fleetservices.call', [sid, 0, 'all', 'tagservices.add_node_tag', { tag: 'permfleet' }, { wait: true }]);
        expect((await call(nobody)).name).to.equal('FleetNoMatchError');
        const refused = (await call(auditor)).result;
        expect(refused.targets).to.include.members([node, other]);
        expect(refused.summary.ok).to.equal(0);
        expect(new Set(refused.summary.results.map((r: any) => r.error.name))).to.deep.equal(new Set(['PermissionDenied']));
        expect((await rpc('tagservices.list_node_tags', [e.sid, 0, other])).result.map((t: any) => t.tag)).to.not.include('permfleet');
        const served = (await call(nodeAdmin)).result;
        expect(served.targets).to.deep.equal([node]);
        expect(served.summary).to.include({ ok: 1, failed: 0 });
        expect((await rpc('tagservices.list_node_tags', [e.sid, 0, node])).result.map((t: any) => t.tag)).to.include('permfleet');
        expect((await rpc('tagservices.list_node_tags', [e.sid, 0, other])).result.map((t: any) => t.tag)).to.not.include('permfleet');
        await rpc('tagservices.remove_node_tag', [e.sid, 0, node, 'permfleet']);
      },
      'fleetservices.bulk': async () => {
        const bulk = (sid: string) => rpc('fleetservices.bulk', [sid, 0, `name:${PERM_GUEST}`, 'tag', 'permfleet', { wait: true }]);
        const tags = async () => (await rpc('tagservices.list_vm_tags', [e.sid, 0, node, PERM_GUEST])).result.map((t: any) => t.tag);
        expect((await bulk(nobody)).name).to.equal('FleetNoMatchError');
        const refused = (await bulk(auditor)).result.summary;
        expect(refused).to.include({ total: 1, ok: 0, failed: 1 });
        expect(refused.results[0].error.name).to.equal('PermissionDenied');
        expect(await tags()).to.deep.equal([]);
        expect((await bulk(nodeAdmin)).result.summary).to.include({ total: 1, ok: 1 });
        expect(await tags()).to.deep.equal(['permfleet']);
        await rpc('tagservices.remove_vm_tag', [e.sid, 0, node, PERM_GUEST, 'permfleet']);
      },
      'fleetservices.list_guests': async () => {
        expect((await rpc('fleetservices.list_guests', [nobody, 0, `name:${PERM_GUEST}`])).name).to.equal('FleetNoMatchError');
        expect((await rpc('fleetservices.list_guests', [auditor, 0, `name:${PERM_GUEST}`])).result.guests.map((g: any) => [g.node, g.id])).to.deep.equal([[node, PERM_GUEST]]);
      },
      'fleetservices.create': async () => {
        // Placed only among nodes where the caller may create: nobody and a viewer are refused by
        // placement (PlacementError), and nothing is made anywhere.
        for (const sid of [nobody, auditor]) {
          const r = await rpc('fleetservices.create', [sid, 0, 'kvmservices.create_vm', { kvm_vm_name: 'permplaced', spec: { memory_mib: 32 } }]);
          expect(r.name).to.equal('PlacementError');
        }
        // Nothing of that name on any node the administrator sees.
        expect((await rpc('fleetservices.list_guests', [e.sid, 0, 'name:permplaced'])).name).to.equal('FleetNoMatchError');
      },
      'fleetservices.placement': async () => {
        // Only nodes where the caller may create count: none for nobody, the one node for its administrator.
        const none = await rpc('fleetservices.placement', [nobody, 0, 'kvm']);
        expect(none.name).to.equal('PlacementError');
        expect(none.message).to.contain('no node the caller may create on');
        const mine = await rpc('fleetservices.placement', [nodeAdmin, 0, 'kvm']);
        if (mine.name) {
          expect(mine.name).to.equal('PlacementError');
          expect(mine.message).to.contain(node).and.not.contain(other);
        } else {
          expect(mine.result.node).to.equal(node);
          expect(mine.result.ranking.map((r: any) => r.node)).to.deep.equal([node]);
          expect(mine.result.excluded).to.deep.equal([]);
        }
      },
      'fleetservices.list_pools': async () => {
        await e.ok('fleetservices', 'create_pool', [e.sid, 0, 'permpool']);
        await e.ok('fleetservices', 'add_pool_members', [e.sid, 0, 'permpool', [{ kind: 'kvm', node, guest: PERM_GUEST }]]);
        expect((await rpc('fleetservices.list_pools', [nobody, 0])).result).to.deep.equal([]);
        const seen = (await rpc('fleetservices.list_pools', [auditor, 0])).result.find((p: any) => p.name === 'permpool');
        expect(seen.members).to.deep.equal([{ kind: 'kvm', node, guest: PERM_GUEST }]);
        await e.ok('fleetservices', 'remove_pool_members', [e.sid, 0, 'permpool', [{ kind: 'kvm', node, guest: PERM_GUEST }]]);
        await e.ok('fleetservices', 'delete_pool', [e.sid, 0, 'permpool']);
      },
      // tasks.* and the console session methods are exercised together below (they need a task, tunnels).
      'tasks.list_tasks': async () => {},
      'tasks.task_status': async () => {},
      'tasks.task_log': async () => {},
      'tasks.cancel_task': async () => {},
      'kvmservices.remove_session_vnc_connections': async () => {},
      'kvmservices.list_session_vnc_connections': async () => {},
      'kvmservices.check_session_vnc_connection': async () => {},
      'kvmservices.get_vnc_ticket': async () => {},
      'sshservices.remove_session_ssh_connections': async () => {},
      'sshservices.list_session_ssh_connections': async () => {},
      'sshservices.check_session_ssh_connection': async () => {},
      'sshservices.get_ssh_ticket': async () => {},
    };

    before(async () => {
      const nodes = e.lab.nodes.filter((n) => n.libvirt);
      node = nodes[0].name;
      other = nodes[1].name;
      // A defined (never started) guest for the fleet rules.
      await nodeExec(nodes[0], ['virsh', '-c', 'qemu:///system', 'undefine', PERM_GUEST]);
      const def = await nodeExec(nodes[0], ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], {
        input: `<domain type='kvm'><name>${PERM_GUEST}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>`,
      });
      expect(def.code, def.stderr).to.equal(0);
      nobody = await login('permnobody');
      auditor = await login('permauditor', [{ path: '/', role: 'Auditor' }]);
      nodeAdmin = await login('permnodeadmin', [{ path: `/nodes/${node}`, role: 'Administrator' }]);
    });

    after(async () => {
      const first = e?.lab.nodes.find((n) => n.libvirt);
      if (first) await nodeExec(first, ['virsh', '-c', 'qemu:///system', 'undefine', PERM_GUEST]);
    });

    it('every method without a declared privilege has a rule here (read from the declarations)', () => {
      const undeclared: string[] = [];
      for (const s of allServices({ qooxdooTestService: false })) for (const m of s.methods) if (typeof m.permission !== 'object') undeclared.push(`${s.name}.${m.name}`);
      figure('methods whose access rule is checked in the handler', undeclared.length);
      expect(undeclared.sort()).to.deep.equal(Object.keys(rules).sort());
    });

    it('each such rule refuses whom it must and serves whom it must', async () => {
      const nodes = e.lab.nodes.filter((n) => n.libvirt);
      const before = await Promise.all(nodes.map((n) => canary(n)));
      for (const [name, rule] of Object.entries(rules)) {
        try {
          await rule();
        } catch (err) {
          (err as Error).message = `${name}: ${(err as Error).message}`;
          throw err;
        }
      }
      expect(await Promise.all(nodes.map((n) => canary(n)))).to.deep.equal(before);
    });

    it("tasks: another user's task is unknown to those who may not see it; cancelling needs vm.state on its target", async () => {
      // A running task of admin's: an ISO fetch from a server that sends slowly.
      const nodes = e.lab.nodes.filter((n) => n.libvirt);
      const host = e.lab.hostAddress ?? '10.213.7.1';
      const slow = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const drip = setInterval(() => res.write(Buffer.alloc(1024)), 200);
        res.on('close', () => clearInterval(drip));
      });
      await new Promise<void>((r) => slow.listen(0, host, r));
      try {
        const url = `http://${host}:${(slow.address() as { port: number }).port}/permtest.iso`;
        const isoDir = async () => (await nodeExec(nodes[0], ['ls', '-A', '/var/lib/oms-node/isos'])).stdout.split('\n').filter(Boolean);
        const othersBefore = await isoDir();
        const started = rpc('isoservices.fetch_image', [e.sid, 0, node, url, 'permtest-fetch.iso']);
        let task: any;
        for (let i = 0; i < 50 && !task; i++) {
          task = ((await rpc('tasks.list_tasks', [e.sid, 0, node, 'running'])).result ?? []).find((t: any) => t.target === 'iso:permtest-fetch.iso');
          if (!task) await new Promise((r) => setTimeout(r, 100));
        }
        expect(task, 'the fetch runs as a task').to.not.equal(undefined);
        // Refused: nobody neither sees it nor can probe or cancel it by id.
        expect((await rpc('tasks.list_tasks', [nobody, 0])).result.map((t: any) => t.id)).to.not.include(task.id);
        for (const m of ['tasks.task_status', 'tasks.task_log', 'tasks.cancel_task']) expect((await rpc(m, [nobody, 0, task.id])).name, m).to.equal('UnknownTaskError');
        // The auditor may see it, but not stop it.
        expect((await rpc('tasks.list_tasks', [auditor, 0])).result.map((t: any) => t.id)).to.include(task.id);
        expect((await rpc('tasks.task_status', [auditor, 0, task.id])).result).to.include({ id: task.id, state: 'running' });
        expect((await rpc('tasks.task_log', [auditor, 0, task.id])).result).to.be.an('array');
        expect((await rpc('tasks.cancel_task', [auditor, 0, task.id])).name).to.equal('PermissionDenied');
        expect((await rpc('tasks.task_status', [e.sid, 0, task.id])).result.state, 'still running after the refusals').to.equal('running');
        // Its owner cancels it.
        expect((await rpc('tasks.cancel_task', [e.sid, 0, task.id])).result).to.equal(1);
        // Cancelling stops the fetch itself: its call ends, and nothing of it stays on the node.
        const answer = await Promise.race([started, new Promise<Answer>((r) => setTimeout(() => r({ name: 'still running 20 s after cancel_task' }), 20_000))]);
        expect(answer.name).to.equal('TaskCancelledError');
        expect((await rpc('tasks.task_status', [e.sid, 0, task.id])).result.state).to.equal('cancelled');
        // The node cleans up as its download is killed; others' fetches may have temp files of their own.
        let left: string[] = [];
        for (let i = 0; i < 50; i++) {
          left = (await isoDir()).filter((f) => f === 'permtest-fetch.iso' || (f.startsWith('.oms-fetch-') && !othersBefore.includes(f)));
          if (!left.length) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(left, 'left on the node after the cancelled fetch').to.deep.equal([]);
      } finally {
        slow.closeAllConnections();
        slow.close();
      }
    });

    it("consoles: a session's tunnels are its own, and a ticket needs the console privilege on the tunnel's target", async () => {
      // SSH: a real tunnel of the node administrator's session.
      const sshPort = Number((await rpc('sshservices.set_up_ssh_connection', [nodeAdmin, 0, node])).result);
      expect(sshPort).to.be.greaterThan(0);
      expect((await rpc('sshservices.list_session_ssh_connections', [nobody, 0])).result).to.deep.equal([]);
      const probe = await rpc('sshservices.check_session_ssh_connection', [nobody, 0, sshPort]);
      expect(probe.name).to.equal('SSHConnectionCheckError');
      expect(probe.message).to.match(/no such connection in this session/);
      expect((await rpc('sshservices.get_ssh_ticket', [nobody, 0, sshPort])).name).to.equal('SSHConnectionCheckError');
      expect((await rpc('sshservices.remove_session_ssh_connections', [nobody, 0])).result).to.equal(0);
      expect((await rpc('sshservices.list_session_ssh_connections', [nodeAdmin, 0])).result, "nobody's removal left it").to.deep.equal([{ host: node, port: sshPort }]);
      expect((await rpc('sshservices.check_session_ssh_connection', [nodeAdmin, 0, sshPort])).result).to.equal('0');
      expect((await rpc('sshservices.get_ssh_ticket', [nodeAdmin, 0, sshPort])).result?.ticket).to.be.a('string');
      // The owner who lost node.admin on the node gets no ticket for the tunnel any more.
      await e.ok('userservices', 'set_roles', [e.sid, 0, 'permnodeadmin', [{ path: `/nodes/${node}`, role: 'Auditor' }]]);
      expect((await rpc('sshservices.get_ssh_ticket', [nodeAdmin, 0, sshPort])).name).to.equal('SSHConnectionCheckError');
      expect((await rpc('sshservices.remove_session_ssh_connections', [nodeAdmin, 0])).result).to.equal(0);
      expect((await rpc('sshservices.list_session_ssh_connections', [nodeAdmin, 0])).result).to.deep.equal([]);

      // VNC: tunnel rows of the auditor's and admin's sessions (no lab guest serves VNC here).
      const now = Math.floor(Date.now() / 1000);
      withDb((db) => {
        const put = db.prepare('INSERT INTO consoles (kind, handle, session_key, user_name, node, vm, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
        put.run('vnc', 6890, digest(auditor), 'permauditor', node, 'permtest-vm1', now);
        put.run('vnc', 6891, digest(e.sid), 'admin', node, 'permtest-vm2', now);
      });
      try {
        expect((await rpc('kvmservices.list_session_vnc_connections', [nobody, 0])).result).to.deep.equal([]);
        expect((await rpc('kvmservices.list_session_vnc_connections', [auditor, 0])).result).to.deep.equal([{ host: node, port: 6890, vm: 'permtest-vm1' }]);
        // Another session's tunnel: as if it did not exist, and nothing is asked of the node.
        const probe = await rpc('kvmservices.check_session_vnc_connection', [auditor, 0, 6891]);
        expect(probe.name).to.equal('VNCConnectionCheckError');
        expect(probe.message).to.match(/no such connection in this session/);
        // Its own: the check goes on to the node (whose guest does not exist here).
        const own = await rpc('kvmservices.check_session_vnc_connection', [auditor, 0, 6890]);
        expect(own.name).to.equal('VNCConnectionCheckError');
        expect(own.message).to.not.match(/no such connection in this session/);
        // A ticket needs vm.console on the guest: refused to the auditor for their own tunnel, given to admin.
        expect((await rpc('kvmservices.get_vnc_ticket', [auditor, 0, 6890])).name).to.equal('VNCConnectionCheckError');
        expect((await rpc('kvmservices.get_vnc_ticket', [auditor, 0, 6891])).name).to.equal('VNCConnectionCheckError');
        expect((await rpc('kvmservices.get_vnc_ticket', [e.sid, 0, 6891])).result?.ticket).to.be.a('string');
        expect((await rpc('kvmservices.remove_session_vnc_connections', [auditor, 0])).result).to.equal(0);
        expect((await rpc('kvmservices.list_session_vnc_connections', [auditor, 0])).result).to.deep.equal([]);
        expect((await rpc('kvmservices.list_session_vnc_connections', [e.sid, 0])).result, "the auditor's removal left admin's").to.deep.equal([{ host: node, port: 6891, vm: 'permtest-vm2' }]);
      } finally {
        withDb((db) => db.prepare("DELETE FROM consoles WHERE kind = 'vnc' AND vm LIKE 'permtest-%'").run());
      }
    });
  });
});
