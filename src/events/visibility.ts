/**
 * Who sees which event: the same paths and privileges as the methods that read the same things.
 * A guest's or container's events need `vm.view` on the guest (so a grant on one guest is
 * enough), a node's `node.view` on the node, a task's whatever tasks.task_status asks, an
 * inventory change the read privilege of the path the call changed (`user.admin` for users,
 * groups, grants and tokens under /access). Whoever made a change always sees its event.
 * A `resync` concerns the subscriber's own stream and is always delivered.
 */
import { paths, type Privilege } from '../auth/permissions.ts';
import type { OmsEvent } from './types.ts';

export interface Viewer {
  /** The subscriber's user name (tasks and changes of their own). */
  readonly user: string;
  can(privilege: Privilege, path: string): boolean;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The read privilege on a permission path a call acted on. */
function readOf(path: string, v: Viewer): boolean {
  if (path === paths.users || path.startsWith(`${paths.users}/`)) return v.can('user.admin', paths.users);
  if (/^\/nodes\/[^/]+\/vms\/[^/]+$/.test(path)) return v.can('vm.view', path);
  return v.can('node.view', path);
}

export function visibleTo(e: OmsEvent, v: Viewer): boolean {
  switch (e.type) {
    case 'resync':
      return true;
    case 'kvm':
    case 'container':
    case 'console':
      if (!e.node) return v.can('node.view', paths.root);
      return e.target ? v.can('vm.view', paths.vm(e.node, e.target)) : v.can('node.view', paths.node(e.node));
    case 'node':
      return e.node ? v.can('node.view', paths.node(e.node)) : v.can('node.view', paths.root);
    case 'task': {
      // As tasks.task_status: the starter, or whoever may view what the task acts on.
      if (str(e.data.user) === v.user) return true;
      const guest = str(e.data.guest);
      if (e.node && guest) return v.can('vm.view', paths.vm(e.node, guest));
      if (e.node) return v.can('node.view', paths.node(e.node));
      return v.can('audit.view', paths.root);
    }
    case 'inventory': {
      if (str(e.data.user) === v.user) return true;
      const path = str(e.data.path);
      if (path) return readOf(path, v);
      return e.node ? v.can('node.view', paths.node(e.node)) : v.can('audit.view', paths.root);
    }
    default:
      return false;
  }
}
