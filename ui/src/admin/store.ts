/**
 * What the administration screen shows: users, groups, roles, grants and the caller's API tokens,
 * each a signal fed by its list call and listed again when an `inventory` event says userservices
 * changed something (this console's own calls included, and another administrator's). The audit
 * log is read by its own filters (Audit.tsx), not kept here.
 */
import { signal } from '@preact/signals';
import type { OmsEvent } from '@oms/client/browser';
import { errorText, oms } from '../lib/client.ts';
import { lostSession } from '../lib/session.ts';

export interface Grant {
  path: string;
  subject_type: 'user' | 'group';
  subject: string;
  role: string;
  propagate: boolean;
}
export interface User {
  name: string;
  created_at: number;
  disabled: boolean;
  groups: string[];
  grants: Grant[];
}
export interface Group {
  name: string;
  comment: string;
  members: string[];
}
export interface Role {
  name: string;
  privileges: string[];
  builtin: boolean;
}
export interface Token {
  name: string;
  created_at: number;
  last_used: number | null;
}

/** A list as the screen shows it: the rows, or why they could not be read (e.g. PermissionDenied). */
export interface Listing<T> {
  rows?: T[];
  error?: string;
}

const kinds = {
  users: () => oms.userservices.list_users(),
  groups: () => oms.userservices.list_groups(),
  roles: () => oms.userservices.list_roles(),
  grants: () => oms.userservices.list_acl(),
  tokens: () => oms.userservices.list_api_tokens(),
};

type Kind = keyof typeof kinds;

export class AdminStore {
  readonly users = signal<Listing<User>>({});
  readonly groups = signal<Listing<Group>>({});
  readonly roles = signal<Listing<Role>>({});
  readonly grants = signal<Listing<Grant>>({});
  readonly tokens = signal<Listing<Token>>({});
  /** Bumped on every userservices change, so the audit view can read again. */
  readonly changes = signal(0);
  #timer: ReturnType<typeof setTimeout> | undefined;

  async #read(kind: Kind): Promise<void> {
    try {
      const rows = (await kinds[kind]()) as never[];
      this[kind].value = { rows };
    } catch (e) {
      if (!lostSession(e)) this[kind].value = { error: errorText(e) };
    }
  }

  relist(): void {
    for (const k of Object.keys(kinds) as Kind[]) void this.#read(k);
  }

  apply(ev: OmsEvent): void {
    if (ev.type !== 'inventory' || (ev.data as { service?: string } | undefined)?.service !== 'userservices') return;
    // One re-read for a burst of changes (set_roles, several grants).
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.changes.value++;
      this.relist();
    }, 150);
  }

  clear(): void {
    clearTimeout(this.#timer);
    for (const k of Object.keys(kinds) as Kind[]) this[k].value = {};
  }
}

export const admin = new AdminStore();
