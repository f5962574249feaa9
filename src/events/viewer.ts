/**
 * A subscriber as the bus sees it: its user, its grants and whether its session still holds.
 * Subscriptions live for hours, so the grants are read again (and the session or token checked)
 * at most every `recheckMs` when an event is to be delivered: a grant taken away, or a session
 * ended elsewhere (the CLI, another gateway), applies within that time.
 */
import type { Permissions, Privilege, UserPermissions } from '../auth/permissions.ts';
import type { Principal, Sessions } from '../auth/sessions.ts';
import type { LiveViewer } from './subscription.ts';

export interface ViewerDeps {
  readonly permissions: Permissions;
  readonly sessions: Sessions;
  readonly recheckMs: number;
}

/** Never re-read more often than this, whatever the session recheck setting says (0 = every call). */
const MIN_RECHECK_MS = 250;

export function liveViewer(deps: ViewerDeps, principal: Principal, secret: string): LiveViewer {
  const every = Math.max(MIN_RECHECK_MS, deps.recheckMs);
  let grants: UserPermissions = deps.permissions.forUser(principal.userId, principal.userName);
  let readAt = Date.now();
  let dead = false;
  return {
    user: principal.userName,
    can: (privilege: Privilege, path: string) => grants.has(privilege, path),
    alive() {
      if (dead) return false;
      if (Date.now() - readAt < every) return true;
      try {
        const p = deps.sessions.resolve(secret);
        grants = deps.permissions.forUser(p.userId, p.userName);
        readAt = Date.now();
        return true;
      } catch {
        dead = true;
        return false;
      }
    },
  };
}
