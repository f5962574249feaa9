import { expect } from 'chai';
import { openDatabase } from '../db/database.ts';
import { AuditLog } from './audit.ts';

describe('audit log filters', () => {
  const log = () => {
    const db = openDatabase(':memory:');
    const a = new AuditLog(db);
    const rows: [number, string, string, string][] = [
      [1000, 'alice', 'userservices', 'add_user'],
      [2000, 'bob', 'kvmservices', 'start_vm'],
      [3000, 'alice', 'userservices', 'delete_user'],
      [4000, 'alice', 'kvmservices', 'start_vm'],
    ];
    for (const [at, user, service, method] of rows) {
      a.record({ requestId: `r${at}`, user, service, method, outcome: 'ok' });
      db.prepare('UPDATE audit SET at = ? WHERE request_id = ?').run(at, `r${at}`);
    }
    return a;
  };
  const ids = (rows: unknown[]) => rows.map((r) => (r as { requestId: string }).requestId);

  it('by user, newest first', () => {
    expect(ids(log().list({ limit: 10, user: 'alice' }))).to.deep.equal(['r4000', 'r3000', 'r1000']);
  });
  it('by service.method or a bare method name', () => {
    expect(ids(log().list({ limit: 10, method: 'kvmservices.start_vm' }))).to.deep.equal(['r4000', 'r2000']);
    expect(ids(log().list({ limit: 10, method: 'userservices.start_vm' }))).to.deep.equal([]);
    expect(ids(log().list({ limit: 10, method: 'add_user' }))).to.deep.equal(['r1000']);
  });
  it('by time range, inclusive, combined with the others', () => {
    expect(ids(log().list({ limit: 10, since: 2000, until: 3000 }))).to.deep.equal(['r3000', 'r2000']);
    expect(ids(log().list({ limit: 10, user: 'alice', method: 'start_vm', since: 1500 }))).to.deep.equal(['r4000']);
    expect(ids(log().list({ limit: 1 }))).to.deep.equal(['r4000']);
  });
});
