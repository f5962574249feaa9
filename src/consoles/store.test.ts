import { expect } from 'chai';
import { loadConfig } from '../config.ts';
import { openDatabase, type Db } from '../db/database.ts';
import { ConsoleStore } from './store.ts';
import { consoleSettings } from './settings.ts';

describe('consoles/store', () => {
  let db: Db;
  let store: ConsoleStore;
  const A = 'a'.repeat(64);
  const B = 'b'.repeat(64);
  beforeEach(() => {
    db = openDatabase(':memory:');
    db.prepare("INSERT INTO users (id, name, password_hash, created_at) VALUES (1, 'u', 'x', 0)").run();
    for (const k of [A, B]) db.prepare('INSERT INTO sessions (id_hash, user_id, created_at, last_seen) VALUES (?, 1, 0, 0)').run(k);
    store = new ConsoleStore(db, { poolSize: 2, ticketTtlMs: 1000, bases: { vnc: 6801, ssh: 6900, serial: 7000 } });
  });
  afterEach(() => db.close());

  it('allocates the lowest free spot from the kind\'s base, reuses freed spots, refuses when full', () => {
    const a = store.create('vnc', A, 'u', 'n1', 'g1');
    const b = store.create('vnc', A, 'u', 'n1', 'g2');
    expect(a).to.have.nested.property('row.handle', 6801);
    expect(b).to.have.nested.property('row.handle', 6802);
    expect(store.create('vnc', B, 'u', 'n1', 'g3')).to.deep.equal({ full: true });
    expect(store.create('ssh', A, 'u', 'n1', '')).to.have.nested.property('row.handle', 6900);
    expect(store.remove('vnc', 6801)).to.equal(true);
    expect(store.create('vnc', B, 'u', 'n1', 'g3')).to.have.nested.property('row.handle', 6801);
  });

  it('one tunnel per target: the second set-up sees the first (conflict), whoever owns it', () => {
    store.create('vnc', A, 'u', 'n1', 'g1');
    const c = store.create('vnc', B, 'u', 'n1', 'g1');
    expect(c).to.have.nested.property('conflict.sessionKey', A);
  });

  it('tickets: single use, expire, die with their tunnel and with their session', () => {
    const { row } = store.create('vnc', A, 'u', 'n1', 'g1') as { row: any };
    const t1 = store.issueTicket(row, 1000);
    expect(db.prepare('SELECT ticket_hash FROM console_tickets').all()).to.not.deep.include({ ticket_hash: t1.ticket });
    expect(store.redeem(t1.ticket, 1500)).to.deep.include({ kind: 'vnc', handle: 6801, node: 'n1', vm: 'g1', sessionKey: A });
    expect(store.redeem(t1.ticket, 1500), 'used').to.equal(undefined);
    const t2 = store.issueTicket(row, 1000);
    expect(store.redeem(t2.ticket, 2000), 'expired').to.equal(undefined);
    const t3 = store.issueTicket(row, 1000);
    db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(A);
    expect(store.redeem(t3.ticket, 1100), 'session gone').to.equal(undefined);
    const t4 = store.issueTicket(row, 1000);
    store.removeSession(A);
    expect(store.redeem(t4.ticket, 1100), 'tunnel gone').to.equal(undefined);
  });

  it('refuses malformed tickets without a lookup', () => {
    for (const bad of [undefined, '', 'x', "' OR 1=1 --", 'a'.repeat(44), 42]) expect(store.redeem(bad)).to.equal(undefined);
  });

  it('removeSession removes only that session\'s tunnels; clear() removes all', () => {
    store.create('vnc', A, 'u', 'n1', 'g1');
    store.create('vnc', B, 'u', 'n1', 'g2');
    store.create('ssh', A, 'u', 'n1', '');
    expect(store.removeSession(A, 'vnc').map((r) => r.handle)).to.deep.equal([6801]);
    expect(store.ofSession('ssh', A)).to.have.length(1);
    expect(store.clear()).to.equal(2);
  });

  it('settings from the environment, refusing nonsense', () => {
    expect(consoleSettings(loadConfig({}))).to.deep.equal({ poolSize: 100, ticketTtlMs: 30_000, bases: { vnc: 6801, ssh: 6900, serial: 7000 } });
    expect(consoleSettings(loadConfig({ OMS_CONSOLE_POOL: '5', OMS_CONSOLE_TICKET_TTL: '2', OMS_CONSOLE_VNC_BASE: '20000', OMS_CONSOLE_SSH_BASE: '20010', OMS_CONSOLE_SERIAL_BASE: '20020' }))).to.deep.equal({
      poolSize: 5,
      ticketTtlMs: 2000,
      bases: { vnc: 20000, ssh: 20010, serial: 20020 },
    });
    expect(() => loadConfig({ OMS_CONSOLE_POOL: 'x' })).to.throw(/OMS_CONSOLE_POOL/);
    expect(() => loadConfig({ OMS_CONSOLE_VNC_BASE: '65500' })).to.throw(/OMS_CONSOLE_VNC_BASE 65500 with OMS_CONSOLE_POOL 100 leaves the TCP port range/);
    expect(() => loadConfig({ OMS_CONSOLE_SSH_BASE: '0' })).to.throw(/OMS_CONSOLE_SSH_BASE/);
    expect(() => loadConfig({ OMS_CONSOLE_SERIAL_BASE: '70000' })).to.throw(/OMS_CONSOLE_SERIAL_BASE must be a TCP port/);
  });

  it('the page port and the spot ports: defaults as the OMS document, off, any free port', () => {
    expect(loadConfig({})).to.include({ consolePagePort: 8002, consoleSpotPorts: true });
    expect(loadConfig({ OMS_CONSOLE_PAGE_PORT: 'off', OMS_CONSOLE_SPOT_PORTS: 'off' })).to.include({ consolePagePort: null, consoleSpotPorts: false });
    expect(loadConfig({ OMS_CONSOLE_PAGE_PORT: '0' })).to.include({ consolePagePort: 0 });
    expect(loadConfig({ OMS_CONSOLE_PAGE_PORT: '18002' })).to.include({ consolePagePort: 18002 });
    expect(() => loadConfig({ OMS_CONSOLE_PAGE_PORT: 'maybe' })).to.throw(/OMS_CONSOLE_PAGE_PORT must be a non-negative integer or off/);
    expect(() => loadConfig({ OMS_CONSOLE_PAGE_PORT: '65536' })).to.throw(/OMS_CONSOLE_PAGE_PORT must be a TCP port/);
  });

  it('a spot number is never held by two kinds at once (the default VNC pool reaches 6900)', () => {
    const wide = new ConsoleStore(db, { poolSize: 100, ticketTtlMs: 1000, bases: { vnc: 6801, ssh: 6900, serial: 7000 } });
    for (let i = 0; i < 99; i++) wide.create('vnc', A, 'u', 'n1', `g${i}`);
    expect(wide.create('ssh', A, 'u', 'n1', '')).to.have.nested.property('row.handle', 6900);
    expect(wide.create('vnc', A, 'u', 'n1', 'g99'), 'the VNC pool skips the port SSH holds').to.deep.equal({ full: true });
  });

  it('create() skips spots whose port another program holds', () => {
    expect(store.create('vnc', A, 'u', 'n1', 'g1', new Set([6801]))).to.have.nested.property('row.handle', 6802);
    expect(store.create('vnc', A, 'u', 'n1', 'g2', new Set([6801]))).to.deep.equal({ full: true });
  });
});
