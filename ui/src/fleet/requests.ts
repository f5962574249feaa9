/**
 * Pending enrolment requests (funcservices.list_requests), re-read when a node event says a
 * request came or went or a node was signed or removed. Joined to the event stream while the
 * fleet screen is shown; needs node.admin (a user without it sees the error once, not a loop).
 */
import { signal } from '@preact/signals';
import type { OmsEvent } from '@oms/client/browser';
import { errorText, isOmsError, oms } from '../lib/client.ts';
import type { EventSink } from '../lib/live.ts';
import { lostSession } from '../lib/session.ts';

export interface Request {
  name: string;
  address: string;
  port: number;
  fingerprint: string;
  requested_at: number;
  requested_by: string;
  signed: boolean;
  /** A signed node whose key is to change: the key pinned now. */
  pinned_fingerprint?: string;
}

const RELISTING = new Set(['requested', 'request-removed', 'enrolled', 'removed']);

export class RequestsStore implements EventSink {
  readonly rows = signal<Request[]>([]);
  readonly error = signal<string | undefined>(undefined);
  /** The user may not enrol nodes (no node.admin on /nodes): the panel says so instead of failing. */
  readonly denied = signal(false);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #listing = 0;

  async relist(): Promise<void> {
    const mine = ++this.#listing;
    try {
      const rows = (await oms.funcservices.list_requests()) as Request[];
      if (mine !== this.#listing) return;
      this.rows.value = rows;
      this.error.value = undefined;
      this.denied.value = false;
    } catch (e) {
      if (lostSession(e)) return;
      if (isOmsError(e, 'PermissionDenied')) this.denied.value = true;
      else this.error.value = errorText(e);
    }
  }

  apply(ev: OmsEvent): void {
    if (ev.type !== 'node' || !RELISTING.has(ev.action)) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.relist(), 150);
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#listing++;
    this.rows.value = [];
  }
}

export const requests = new RequestsStore();

/**
 * The command that prints the node's own fingerprint of the key it offered, to compare with the
 * one the gateway saw: ssh-keygen -lf on the host key file of that algorithm.
 */
export function fingerprintCommand(algorithm: string | undefined): string {
  const kind = !algorithm ? 'ed25519' : algorithm.startsWith('ecdsa') ? 'ecdsa' : algorithm.includes('rsa') ? 'rsa' : algorithm.includes('ed25519') ? 'ed25519' : 'ed25519';
  return `ssh-keygen -lf /etc/ssh/ssh_host_${kind}_key.pub`;
}
