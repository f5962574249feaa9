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
/** Remembered answers per subscriber; past this many (a fleet of many guests) they start over. */
const MAX_ANSWERS = 4096;

export function liveViewer(deps: ViewerDeps, principal: Principal, secret: string): LiveViewer {
  const every = Math.max(MIN_RECHECK_MS, deps.recheckMs);
  let grants: UserPermissions = deps.permissions.forUser(principal.userId, principal.userName);
  // Answers per (privilege, path) until the grants are read again: every event asks, and a
  // thousand subscribers must not each walk their grants for each one.
  let answers = new Map<string, boolean>();
  let readAt = Date.now();
  let dead = false;
  return {
    user: principal.userName,
    can(privilege: Privilege, path: string) {
      const key = `${privilege} ${path}`;
      let yes = answers.get(key);
      if (yes === undefined) {
        yes = grants.has(privilege, path);
        if (answers.size >= MAX_ANSWERS) answers = new Map();
        answers.set(key, yes);
      }
      return yes;
    },
    alive() {
      if (dead) return false;
      if (Date.now() - readAt < every) return true;
      try {
        const p = deps.sessions.resolve(secret);
        grants = deps.permissions.forUser(p.userId, p.userName);
        answers = new Map();
        readAt = Date.now();
        return true;
      } catch {
        dead = true;
        return false;
      }
    },
  };
}
