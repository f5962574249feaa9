/**
 * Permissions as data, in the manner of Proxmox VE: privileges are grouped into roles; a role is
 * granted on a path (`/`, `/nodes/{node}`, `/nodes/{node}/vms/{vm}`) to a user or a group, and
 * propagates to the path's descendants unless the grant says otherwise.
 *
 * Resolution: walk from the requested path up to `/`. The first (most specific) level that has
 * any grant for the user decides, user grants shadowing group grants at the same level. So
 * `NoAccess` on `/nodes/n1` takes away what `/` gave, and a grant on a VM works under a node
 * where the user has nothing.
 *
 * Resource pools (migration 0009): a guest in pool P is also reached by grants on `/pools/P`. For
 * a guest's path the pool is one level of its own, between the guest and its node: a grant on
 * the guest itself still decides first, and a pool grant decides before the node's or `/`'s (so a
 * user with VMUser on `/pools/web` and nothing else can see and start exactly that pool's guests).
 * Paths do not carry the guest's kind; a KVM guest and a container of the same name on one node
 * share a path, here as everywhere else.
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
  pools: '/pools',
  pool: (pool: string) => `/pools/${pool}`,
};

const GUEST_PATH = /^\/nodes\/([^/]+)\/vms\/([^/]+)$/;

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
  /** Whether any grant is on a pool: only then is a guest's pool looked up (most users have none). */
  private readonly poolGrants: boolean;

  constructor(
    private readonly grants: readonly Grant[],
    /** The pools holding the guest of a node (paths do not say the kind, so up to one per kind). */
    private readonly poolsOf: (node: string, guest: string) => readonly string[] = () => [],
  ) {
    this.poolGrants = grants.some((g) => g.path.startsWith('/pools/'));
  }

  /** The levels a path's privileges are looked for at, most specific first; see the module comment for pools. */
  private levels(path: string): string[][] {
    const levels = ancestors(path).map((p) => [p]);
    const m = this.poolGrants ? GUEST_PATH.exec(path) : null;
    if (m) {
      const pools = this.poolsOf(m[1], m[2]).map(paths.pool);
      if (pools.length) levels.splice(1, 0, pools);
    }
    return levels;
  }

  /** The privileges held on a path. */
  effective(path: string): Set<Privilege> {
    for (const level of this.levels(path)) {
      const here = this.grants.filter((g) => level.includes(g.path) && (g.propagate || g.path === path));
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
  private readonly poolsQuery;

  constructor(db: Db) {
    this.poolsQuery = db.prepare('SELECT DISTINCT pool FROM pool_members WHERE node = ? AND guest = ?').pluck();
    this.grantsQuery = db.prepare(
      `SELECT a.path, a.subject_type, r.privileges, a.propagate FROM acl a JOIN roles r ON r.name = a.role
       WHERE (a.subject_type = 'user' AND a.subject = ?)
          OR (a.subject_type = 'group' AND a.subject IN (SELECT group_name FROM group_members WHERE user_id = ?))`,
    );
  }

  /** A snapshot of the user's grants for the checks of one call. */
  forUser(userId: number, userName: string): UserPermissions {
    return new UserPermissions(this.grantsQuery.all(userName, userId) as Grant[], (node, guest) => this.poolsQuery.all(node, guest) as string[]);
  }

  effective(userId: number, userName: string, path: string): Set<Privilege> {
    return this.forUser(userId, userName).effective(path);
  }

  has(userId: number, userName: string, privilege: Privilege, path: string): boolean {
    return this.forUser(userId, userName).has(privilege, path);
  }
}
