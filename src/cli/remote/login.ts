/**
 * `oms login URL` and `oms logout`. Login checks the gateway's certificate first (pinned: the
 * SHA-256 shown and confirmed on a terminal, or given with --cacert/--fingerprint, or accepted
 * with --yes), then authenticates with a password (which creates an API token and ends the
 * password session at once: only the token is stored) or with a token given as such. Logout
 * revokes the token on the gateway and removes the profile.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { OmsClient, peerCertificate } from '../../../clients/typescript/src/index.ts';
import { formatFingerprint, normaliseFingerprint } from '../../../clients/typescript/src/platform.ts';
import { isOmsError } from '../../../clients/typescript/src/errors.ts';
import { CliError, EXIT } from './exit-codes.ts';
import { ask, firstLine, stdinIsTty } from './prompt.ts';
import { profileName, readProfiles, removeProfile, saveProfile, type Profile } from './profiles.ts';
import { clientFor } from './session.ts';

export interface LoginOptions {
  user?: string;
  token?: boolean;
  profile?: string;
  cacert?: string;
  fingerprint?: string;
  yes?: boolean;
}

type Say = (s: string) => void;

/** A token name unique to this login: the host it was made on, for a person reading list_api_tokens. */
export const tokenNameFor = (host = hostname()): string => `oms-cli-${host.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 14) || 'host'}-${randomBytes(4).toString('hex')}`;

async function trust(url: URL, o: LoginOptions, previous: Profile | undefined, say: Say): Promise<Pick<Profile, 'ca' | 'fingerprint'>> {
  if (url.protocol !== 'https:') {
    if (o.cacert || o.fingerprint) throw new CliError('--cacert and --fingerprint need an https:// URL', EXIT.usage);
    say(`warning: ${url.origin} is plain HTTP: the token travels unencrypted\n`);
    return {};
  }
  if (o.cacert) return { ca: readFileSync(o.cacert, 'utf8') };
  if (o.fingerprint) {
    const pin = normaliseFingerprint(o.fingerprint);
    if (!/^[0-9a-f]{64}$/.test(pin)) throw new CliError('--fingerprint: expected a SHA-256 fingerprint (64 hex digits, colons allowed)', EXIT.usage);
    return { fingerprint: formatFingerprint(pin) };
  }
  const offered = await peerCertificate(url, 10_000);
  const fp = offered.fingerprint256;
  if (previous?.url === url.origin && previous.fingerprint && normaliseFingerprint(previous.fingerprint) === normaliseFingerprint(fp)) return { fingerprint: fp };
  say(`${previous?.fingerprint && previous.url === url.origin ? 'The certificate of this gateway CHANGED since the last login.\n  pinned:  ' + previous.fingerprint + '\n' : ''}The gateway ${url.host} offers a certificate:\n  subject: ${offered.subject}\n  expires: ${offered.validTo}\n  SHA-256: ${fp}\n`);
  if (o.yes) return { fingerprint: fp };
  if (!stdinIsTty())
    throw new CliError('not pinning a certificate without confirmation: compare the SHA-256 above and give --fingerprint, --cacert FILE or --yes', EXIT.certificate);
  const answer = await ask('Trust it and pin it for this profile? [y/N] ', false);
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('certificate not accepted; nothing stored', EXIT.certificate);
  return { fingerprint: fp };
}

async function secret(what: string): Promise<string> {
  const v = stdinIsTty() ? await ask(`${what}: `, true) : await firstLine();
  if (!v) throw new CliError(`no ${what} given${stdinIsTty() ? '' : ' on standard input'}`, EXIT.usage);
  return v;
}

export async function login(urlText: string, o: LoginOptions, say: Say): Promise<{ profile: string; user: string }> {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new CliError(`not a URL: ${JSON.stringify(urlText)} (e.g. https://oms.example:8000)`, EXIT.usage);
  }
  if (!/^https?:$/.test(url.protocol)) throw new CliError('the gateway URL must start with https:// (or http://)', EXIT.usage);
  if (o.token && o.user) throw new CliError('give --user or --token, not both', EXIT.usage);
  const file = readProfiles();
  const name = profileName(o.profile, file);
  const tls = await trust(url, o, file.profiles[name], say);
  const base: Omit<Profile, 'token'> = { url: url.origin, ...tls };

  if (o.token) {
    const token = await secret('API token');
    const probe = clientFor({ ...base, token });
    const me = await probe.userservices.whoami();
    const user = (me as { name?: string })?.name ?? '?';
    saveProfile(name, { ...base, token, user });
    return { profile: name, user };
  }
  const user = o.user ?? (stdinIsTty() ? (await ask('user: ', false)).trim() : undefined);
  if (!user) throw new CliError('give --user USER (the password is then read from standard input)', EXIT.usage);
  const password = await secret(`password for ${user}`);
  const c = new OmsClient({ url: url.origin, fingerprint: tls.fingerprint, ca: tls.ca });
  await c.login(user, password);
  try {
    const tokenName = tokenNameFor();
    const made = (await c.userservices.create_api_token(tokenName)) as { token: string };
    saveProfile(name, { ...base, token: made.token, tokenName, user });
  } finally {
    // The password session is not needed any more: only the token is kept.
    await c.logout().catch(() => undefined);
  }
  return { profile: name, user };
}

export async function logout(profileFlag: string | undefined, say: Say): Promise<string> {
  const file = readProfiles();
  const name = profileName(profileFlag, file);
  const p = file.profiles[name];
  if (!p) throw new CliError(`not logged in${name === 'default' ? '' : ` (profile ${name})`}`, EXIT.auth);
  if (p.tokenName) {
    try {
      await clientFor(p).userservices.revoke_api_token(p.tokenName);
    } catch (e) {
      // A token the gateway no longer knows needs no revoking; any other failure keeps the profile, so it can be tried again.
      if (!(isOmsError(e) && (e.omsName === 'AuthError' || e.omsName === 'UnknownUserError'))) throw e;
      say(`the gateway no longer accepted the token (already revoked or expired)\n`);
    }
  } else say(`this profile was logged in with a token you gave: it was not revoked (userservices.revoke_api_token NAME does that)\n`);
  removeProfile(name);
  return name;
}
