/**
 * Permissions as data, in the manner of Proxmox VE: privileges are grouped into roles; a role is
 * granted on a path (`/`, `/nodes/{node}`, `/nodes/{node}/vms/{vm}`) to a user or a group, and
 * propagates to the path's descendants unless the grant says otherwise.
 *
 * Resolution: walk from the requested path up to `/`. The first (most specific) level that has
 * any grant for the user decides, user grants shadowing group grants at the same level. So
 * `NoAccess` on `/nodes/n1` takes away what `/` gave, and a grant on a VM works under a node
 * where the user has nothing.
 */
import type { Db } from '../db/database.ts';

export const privileges = [
  'node.view', // see nodes, their stats and listings
  'node.admin', // enroll/remove nodes, change host networking, storage, ISO images
  'vm.view', // list guests and read their settings
  'vm.state', // start, stop, pause, resume, reboot
  'vm.create', // create, clone, deploy templates
  'vm.config', // change settings, attach/detach devices
  'vm.delete', // delete guests
  'vm.console', // open VNC, serial, SSH consoles
  'user.admin', // manage users, groups, roles and grants
  'audit.view', // read the audit log
  'metrics.view', // scrape /metrics (granted on /)
] as const;

export type Privilege = (typeof privileges)[number];

export const isPrivilege = (p: string): p is Privilege => (privileges as readonly string[]).includes(p);

/** Canonical paths; names in them were validated by their field types before this is called. */
export const paths = {
  root: '/',
  node: (node: string) => `/nodes/${node}`,
  vm: (node: string, vm: string) => `/nodes/${node}/vms/${vm}`,
  users: '/access',
};

export function ancestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = parts.length; i > 0; i--) out.push('/' + parts.slice(0, i).join('/'));
  out.push('/');
  return out;
}

interface Grant {
  path: string;
  subject_type: 'user' | 'group';
  privileges: string;
  propagate: number;
}

/** A user's grants, fetched once; answers any number of checks (e.g. one per listed guest). */
export class UserPermissions {
  constructor(private readonly grants: readonly Grant[]) {}

  /** The privileges held on a path. */
  effective(path: string): Set<Privilege> {
    for (const level of ancestors(path)) {
      const here = this.grants.filter((g) => g.path === level && (g.propagate || level === path));
      if (here.length === 0) continue;
      const users = here.filter((g) => g.subject_type === 'user');
      const deciding = users.length ? users : here;
      const out = new Set<Privilege>();
      for (const g of deciding) for (const p of JSON.parse(g.privileges) as string[]) if (isPrivilege(p)) out.add(p);
      return out;
    }
    return new Set();
  }

  has(privilege: Privilege, path: string): boolean {
    return this.effective(path).has(privilege);
  }
}

export class Permissions {
  private readonly grantsQuery;

  constructor(db: Db) {
    this.grantsQuery = db.prepare(
      `SELECT a.path, a.subject_type, r.privileges, a.propagate FROM acl a JOIN roles r ON r.name = a.role
       WHERE (a.subject_type = 'user' AND a.subject = ?)
          OR (a.subject_type = 'group' AND a.subject IN (SELECT group_name FROM group_members WHERE user_id = ?))`,
    );
  }

  /** A snapshot of the user's grants for the checks of one call. */
  forUser(userId: number, userName: string): UserPermissions {
    return new UserPermissions(this.grantsQuery.all(userName, userId) as Grant[]);
  }

  effective(userId: number, userName: string, path: string): Set<Privilege> {
    return this.forUser(userId, userName).effective(path);
  }

  has(userId: number, userName: string, privilege: Privilege, path: string): boolean {
    return this.forUser(userId, userName).has(privilege, path);
  }
}
