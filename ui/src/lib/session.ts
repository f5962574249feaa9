/**
 * Who is logged in. The session id lives in this tab's sessionStorage (gone with the tab, never a
 * cookie, so there is no CSRF surface) and in the client, which sends it as a bearer. An ended or
 * expired session shows the login screen in place of the current one: the address keeps the
 * route, so logging in again returns there.
 */
import { signal } from '@preact/signals';
import { errorText, isOmsError, oms } from './client.ts';

const KEY = 'oms.session';

export type Session = { phase: 'checking' } | { phase: 'out'; notice?: string } | { phase: 'in'; user: string };

export const session = signal<Session>({ phase: 'checking' });

/** The session id as the client sends it, for the few requests outside JSON-RPC (the ISO upload route). */
export const sessionToken = (): string | undefined => sessionStorage.getItem(KEY) ?? undefined;

/** At page load: a session kept by this tab (a reload) is checked with the gateway. */
export async function resume(): Promise<void> {
  const sid = sessionStorage.getItem(KEY);
  if (!sid) return void (session.value = { phase: 'out' });
  oms.setToken(sid);
  try {
    const me = await oms.userservices.whoami();
    session.value = { phase: 'in', user: me.name };
  } catch (e) {
    if (!lostSession(e)) session.value = { phase: 'out', notice: errorText(e) };
  }
}

export async function login(user: string, password: string): Promise<void> {
  const sid = await oms.login(user, password);
  sessionStorage.setItem(KEY, sid);
  session.value = { phase: 'in', user };
}

/** Ends the session at the gateway (authservices.deauthenticate), then forgets it here. */
export async function logout(): Promise<void> {
  const sid = sessionStorage.getItem(KEY);
  sessionStorage.removeItem(KEY);
  try {
    // Explicitly, not oms.logout(): after a reload the client holds the id as a plain token,
    // which its logout() would only forget.
    if (sid) await oms.authservices.deauthenticate(sid);
  } catch {
    // Already ended or unreachable: it is forgotten here either way, and the server drops it when it expires.
  } finally {
    oms.setToken(undefined);
    session.value = { phase: 'out', notice: 'You are logged out.' };
  }
}

/**
 * For every failed call: an AuthError means the session is gone (expired, ended elsewhere), so the
 * login screen comes back with the reason. True when that was it.
 */
export function lostSession(e: unknown): boolean {
  if (!isOmsError(e, 'AuthError')) return false;
  if (session.value.phase === 'out') return true;
  sessionStorage.removeItem(KEY);
  oms.setToken(undefined);
  session.value = { phase: 'out', notice: `Your session has ended (${errorText(e)}). Log in again to return to this page.` };
  return true;
}
