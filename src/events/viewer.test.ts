import { expect } from 'chai';
import { openDatabase, type Db } from '../db/database.ts';
import { Permissions } from '../auth/permissions.ts';
import { Sessions } from '../auth/sessions.ts';
import { Users } from '../auth/users.ts';
import { liveViewer } from './viewer.ts';

describe('events: a live viewer', () => {
  let db: Db;
  let users: Users;
  let sessions: Sessions;
  let permissions: Permissions;
  beforeEach(() => {
    db = openDatabase(':memory:');
    users = new Users(db);
    sessions = new Sessions(db, { idleSeconds: 3600, maxSeconds: 7200, recheckMs: 0 });
    permissions = new Permissions(db);
  });
  afterEach(() => db.close());

  it('follows grants taken away and a session ended, within the recheck time', async () => {
    await users.add('ev-u', 'a-Long-enough-pw-123', [{ path: '/nodes/n1', role: 'Auditor' }]);
    const { id } = db.prepare("SELECT id FROM users WHERE name = 'ev-u'").get() as { id: number };
    const secret = sessions.create(id, undefined);
    const principal = sessions.resolve(secret);
    const v = liveViewer({ permissions, sessions, recheckMs: 0 }, principal, secret);
    expect(v.can('node.view', '/nodes/n1')).to.equal(true);
    expect(v.can('node.view', '/nodes/n2')).to.equal(false);
    db.prepare("DELETE FROM acl WHERE subject = 'ev-u'").run();
    // Remembered until the grants are read again (at most every 250 ms).
    expect(v.alive()).to.equal(true);
    expect(v.can('node.view', '/nodes/n1')).to.equal(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(v.alive()).to.equal(true);
    expect(v.can('node.view', '/nodes/n1')).to.equal(false);
    db.prepare('DELETE FROM sessions').run();
    await new Promise((r) => setTimeout(r, 300));
    expect(v.alive()).to.equal(false);
  });
});
