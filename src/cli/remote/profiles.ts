/**
 * Where `oms login` keeps what later commands need: per profile the gateway URL, the API token it
 * created (never the password), the token's name (for `oms logout` to revoke it) and the pinned
 * certificate fingerprint. One JSON file, $XDG_CONFIG_HOME/oms/config.json (else
 * ~/.config/oms/config.json), mode 0600 in a 0700 directory: the token is a password's equal.
 *
 * The profile used: --profile, else $OMS_PROFILE, else the file's default (the last one logged
 * into when no other default was set), else "default".
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, EXIT } from './exit-codes.ts';

export interface Profile {
  url: string;
  token: string;
  /** The name the token was created under (userservices.create_api_token), for revoking it. */
  tokenName?: string;
  user?: string;
  /** SHA-256 of the gateway's certificate, pinned at login (https only). */
  fingerprint?: string;
  /** Or the PEM of a CA given with --cacert at login. */
  ca?: string;
}

export interface ProfileFile {
  default?: string;
  profiles: Record<string, Profile>;
}

const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(base, 'oms');
}

export const configFile = (env: NodeJS.ProcessEnv = process.env): string => join(configDir(env), 'config.json');

export function readProfiles(env: NodeJS.ProcessEnv = process.env): ProfileFile {
  let text: string;
  try {
    text = readFileSync(configFile(env), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
    throw e;
  }
  try {
    const parsed = JSON.parse(text) as ProfileFile;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.profiles !== 'object') throw new Error('no profiles');
    return parsed;
  } catch {
    throw new CliError(`${configFile(env)} is not an oms profile file; remove it and log in again`);
  }
}

/** Writes the file through a temp name created 0600, so the token is never readable by others, not even for a moment. */
export function writeProfiles(file: ProfileFile, env: NodeJS.ProcessEnv = process.env): void {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const target = configFile(env);
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, target);
}

export function profileName(flag: string | undefined, file: ProfileFile, env: NodeJS.ProcessEnv = process.env): string {
  const name = flag ?? (env.OMS_PROFILE || undefined) ?? file.default ?? 'default';
  if (!PROFILE_NAME.test(name)) throw new CliError(`not a valid profile name: ${JSON.stringify(name)} (letters, digits, _ . -)`, EXIT.usage);
  return name;
}

/** The profile a remote command runs with; "not logged in" is an auth failure scripts can test. */
export function currentProfile(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { name: string; profile: Profile } {
  const file = readProfiles(env);
  const name = profileName(flag, file, env);
  const profile = file.profiles[name];
  if (!profile) throw new CliError(`not logged in${name === 'default' ? '' : ` (profile ${name})`}: run \`oms login URL${name === 'default' ? '' : ` --profile ${name}`}\` first`, EXIT.auth);
  return { name, profile };
}

export function saveProfile(name: string, profile: Profile, env: NodeJS.ProcessEnv = process.env): void {
  const file = readProfiles(env);
  file.profiles[name] = profile;
  file.default ??= name;
  writeProfiles(file, env);
}

export function removeProfile(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const file = readProfiles(env);
  if (!file.profiles[name]) return false;
  delete file.profiles[name];
  // Never fall over to another gateway silently: with its default gone, a command says "not logged in".
  if (file.default === name) delete file.default;
  writeProfiles(file, env);
  return true;
}
