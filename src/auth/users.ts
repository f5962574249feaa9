/** Users of the gateway itself, their groups and grants. */
import type { Db } from '../db/database.ts';
import { nowSeconds } from '../db/database.ts';
import { oms } from '../rpc/errors.ts';
import { hashPassword, passwordProblem } from './passwords.ts';

export interface UserRow {
  id: number;
  name: string;
  password_hash: string;
  created_at: number;
  disabled: number;
}

export interface Grant {
  path: string;
  subject_type: 'user' | 'group';
  subject: string;
  role: string;
  propagate: boolean;
}

export class Users {
  constructor(private readonly db: Db) {}

  find(name: string): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
  }

  require(name: string): UserRow {
    const u = this.find(name);
    if (!u) throw oms('UnknownUserError', { user: name });
    return u;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  }

  list(): { name: string; created_at: number; disabled: boolean; groups: string[]; grants: Grant[] }[] {
    const users = this.db.prepare('SELECT id, name, created_at, disabled FROM users ORDER BY name').all() as UserRow[];
    return users.map((u) => ({
      name: u.name,
      created_at: u.created_at,
      disabled: !!u.disabled,
      groups: (this.db.prepare('SELECT group_name FROM group_members WHERE user_id = ? ORDER BY group_name').all(u.id) as { group_name: string }[]).map((g) => g.group_name),
      grants: this.grants({ subjectType: 'user', subject: u.name }),
    }));
  }

  async add(name: string, password: string, roles: { path: string; role: string }[] = []): Promise<void> {
    const problem = passwordProblem(name, password);
    if (problem) throw oms('WeakPasswordError', { reason: problem });
    if (this.find(name)) throw oms('UserExistsError', { user: name });
    const hash = await hashPassword(password);
    this.db.transaction(() => {
      // Re-checked inside the transaction: another call may have added the same name meanwhile.
      if (this.find(name)) throw oms('UserExistsError', { user: name });
      this.db.prepare('INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)').run(name, hash, nowSeconds());
      for (const r of roles) this.grant({ path: r.path, subject_type: 'user', subject: name, role: r.role, propagate: true });
    })();
  }

  async setPassword(name: string, password: string): Promise<void> {
    const problem = passwordProblem(name, password);
    if (problem) throw oms('WeakPasswordError', { reason: problem });
    const u = this.require(name);
    const hash = await hashPassword(password);
    this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(hash, u.id);
  }

  delete(name: string): void {
    const u = this.require(name);
    this.db.transaction(() => {
      if (this.isAdmin(u.name) && this.adminCount() <= 1) throw oms('LastAdminError');
      this.db.prepare("DELETE FROM acl WHERE subject_type = 'user' AND subject = ?").run(name);
      this.db.prepare('DELETE FROM users WHERE id = ?').run(u.id);
    })();
  }

  /** Users holding Administrator on `/`, directly (group grants count too). */
  private adminNames(): Set<string> {
    const direct = this.db.prepare("SELECT subject AS name FROM acl WHERE path = '/' AND role = 'Administrator' AND subject_type = 'user'").all() as { name: string }[];
    const viaGroup = this.db
      .prepare("SELECT u.name FROM acl a JOIN group_members m ON m.group_name = a.subject JOIN users u ON u.id = m.user_id WHERE a.path = '/' AND a.role = 'Administrator' AND a.subject_type = 'group'")
      .all() as { name: string }[];
    return new Set([...direct, ...viaGroup].map((r) => r.name));
  }

  isAdmin(name: string): boolean {
    return this.adminNames().has(name);
  }

  adminCount(): number {
    return this.adminNames().size;
  }

  roles(): { name: string; privileges: string[]; builtin: boolean }[] {
    return (this.db.prepare('SELECT name, privileges, builtin FROM roles ORDER BY name').all() as { name: string; privileges: string; builtin: number }[]).map((r) => ({
      name: r.name,
      privileges: JSON.parse(r.privileges) as string[],
      builtin: !!r.builtin,
    }));
  }

  requireRole(role: string): void {
    if (!this.db.prepare('SELECT 1 FROM roles WHERE name = ?').get(role)) throw oms('UnknownRoleError', { role });
  }

  grant(g: Grant): void {
    this.requireRole(g.role);
    if (g.subject_type === 'user') this.require(g.subject);
    else if (!this.db.prepare('SELECT 1 FROM groups WHERE name = ?').get(g.subject)) throw oms('UnknownUserError', { user: `group ${g.subject}` });
    this.db.prepare('INSERT OR REPLACE INTO acl (path, subject_type, subject, role, propagate) VALUES (?, ?, ?, ?, ?)').run(g.path, g.subject_type, g.subject, g.role, g.propagate ? 1 : 0);
  }

  revoke(g: Omit<Grant, 'propagate'>): boolean {
    return this.db.transaction(() => {
      const removed = this.db.prepare('DELETE FROM acl WHERE path = ? AND subject_type = ? AND subject = ? AND role = ?').run(g.path, g.subject_type, g.subject, g.role).changes > 0;
      if (removed && g.role === 'Administrator' && g.path === '/' && this.adminCount() === 0) throw oms('LastAdminError');
      return removed;
    })();
  }

  grants(filter: { subjectType?: 'user' | 'group'; subject?: string } = {}): Grant[] {
    return (
      this.db
        .prepare('SELECT path, subject_type, subject, role, propagate FROM acl WHERE (@t IS NULL OR subject_type = @t) AND (@s IS NULL OR subject = @s) ORDER BY path, subject_type, subject, role')
        .all({ t: filter.subjectType ?? null, s: filter.subject ?? null }) as (Omit<Grant, 'propagate'> & { propagate: number })[]
    ).map((g) => ({ ...g, propagate: !!g.propagate }));
  }

  groups(): { name: string; comment: string; members: string[] }[] {
    return (this.db.prepare('SELECT name, comment FROM groups ORDER BY name').all() as { name: string; comment: string }[]).map((g) => ({
      ...g,
      members: (this.db.prepare('SELECT u.name FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_name = ? ORDER BY u.name').all(g.name) as { name: string }[]).map((m) => m.name),
    }));
  }

  addGroup(name: string, comment = ''): void {
    if (this.db.prepare('SELECT 1 FROM groups WHERE name = ?').get(name)) throw oms('UserExistsError', { user: `group ${name}` });
    this.db.prepare('INSERT INTO groups (name, comment) VALUES (?, ?)').run(name, comment);
  }

  deleteGroup(name: string): void {
    this.db.transaction(() => {
      if (this.db.prepare("DELETE FROM groups WHERE name = ?").run(name).changes === 0) throw oms('UnknownUserError', { user: `group ${name}` });
      this.db.prepare("DELETE FROM acl WHERE subject_type = 'group' AND subject = ?").run(name);
      if (this.adminCount() === 0) throw oms('LastAdminError');
    })();
  }

  setGroupMembers(group: string, members: string[]): void {
    this.db.transaction(() => {
      if (!this.db.prepare('SELECT 1 FROM groups WHERE name = ?').get(group)) throw oms('UnknownUserError', { user: `group ${group}` });
      const ids = members.map((m) => this.require(m).id);
      this.db.prepare('DELETE FROM group_members WHERE group_name = ?').run(group);
      for (const id of ids) this.db.prepare('INSERT INTO group_members (group_name, user_id) VALUES (?, ?)').run(group, id);
      if (this.adminCount() === 0) throw oms('LastAdminError');
    })();
  }
}
