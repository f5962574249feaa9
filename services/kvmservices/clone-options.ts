/**
 * clone_vm's options after CloudSigma's clone action: a name chosen when none is given, and the
 * clone's console password. Pure but for newVncPassword (the system's CSPRNG) and
 * chooseCloneName (which reads the node).
 *
 * The password rule: a clone never holds its source's VNC/SPICE password. CloudSigma copies every
 * property of the source unless `random_vnc_password` is set; OMS copies the protection, not the
 * secret: a clone of a password-protected guest always gets a fresh password, returned once by
 * the call (never stored by the gateway: not in the task row, the log or the audit), so the clone
 * is neither open nor reachable with a password handed out for another guest.
 * `random_vnc_password` true gives a fresh password also when the source has none.
 */
import { randomInt } from 'node:crypto';
import { vmName } from '../../src/rpc/fields.ts';
import { oms } from '../../src/rpc/errors.ts';
import * as cmd from './commands.ts';
import { storageRun, virshRun, type KvmNode } from './node.ts';
import { parseFindListing } from './parse.ts';
import { attr, elements, child, parseXml, serializeXml } from './xml.ts';

/** The VNC authentication scheme (DES challenge) uses 8 bytes; libvirt refuses a longer password. */
export const VNC_PASSWORD_LENGTH = 8;
/** Letters and digits without the look-alikes (0/O, 1/l/I), for a password read off a screen. */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

export function newVncPassword(): string {
  let s = '';
  for (let i = 0; i < VNC_PASSWORD_LENGTH; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

/** Graphics devices that can carry a password. */
const PROTECTABLE = new Set(['vnc', 'spice']);

const graphicsOf = (xml: string) => elements(child(parseXml(xml), 'devices'), 'graphics').filter((g) => PROTECTABLE.has(attr(g, 'type') ?? ''));

/**
 * What the source's definition says (read with --security-info: without it libvirt leaves the
 * password out, and a source with one would look open): its protectable consoles and whether one
 * has a password. The password itself is not returned.
 */
export function consoleProtection(secureXml: string): { consoles: number; password: boolean } {
  const g = graphicsOf(secureXml);
  return { consoles: g.length, password: g.some((e) => (attr(e, 'passwd') ?? '') !== '') };
}

/** Whether the clone gets a fresh password: it has a console to protect, and the source had one or the caller asked. */
export const clonePassword = (source: { consoles: number; password: boolean }, random: boolean | undefined): boolean => source.consoles > 0 && (random === true || source.password);

/**
 * The clone's definition with its consoles' passwords replaced: whatever password (and expiry)
 * the document carries is dropped, so nothing of the source's can pass through, and `password`,
 * when given, is set on every VNC/SPICE console.
 */
export function withConsolePassword(xml: string, password: string | undefined): string {
  const d = parseXml(xml);
  for (const g of elements(child(d, 'devices'), 'graphics')) {
    if (!PROTECTABLE.has(attr(g, 'type') ?? '')) continue;
    g.removeAttribute('passwd');
    g.removeAttribute('passwdValidTo');
    if (password !== undefined) g.setAttribute('passwd', password);
  }
  return serializeXml(d);
}

export const CLONE_NAME_TRIES = 999;

/**
 * A name for a clone when the caller gives none: `<source>-clone-N`, the first N for which no
 * guest of that name is defined and no file of the images directory starts with `<name>-` (the
 * clone's disk files are named so: a leftover would make the copy fail). The source part is
 * shortened so the name stays a valid VM name (64 characters).
 */
export function freeCloneName(source: string, guests: ReadonlySet<string>, imageFiles: readonly string[]): string | undefined {
  for (let i = 1; i <= CLONE_NAME_TRIES; i++) {
    const suffix = `-clone-${i}`;
    const name = `${source.slice(0, 64 - suffix.length)}${suffix}`;
    if (!vmName.safeParse(name).success) continue;
    if (guests.has(name) || imageFiles.some((f) => f.startsWith(`${name}-`))) continue;
    return name;
  }
  return undefined;
}

/** `virsh list --all --name`: one name a line, a blank line at the end. */
export const parseNames = (stdout: string): Set<string> => new Set(stdout.split('\n').map((l) => l.trim()).filter(Boolean));

/** Reads the node's guests and image files and picks a free clone name (freeCloneName); VmExistsError when all are taken. */
export async function chooseCloneName(n: KvmNode, source: string): Promise<string> {
  const [guests, images] = await Promise.all([virshRun(n, cmd.listNames(n.uri)), storageRun(n, cmd.listDir(n.dirs.images))]);
  const name = freeCloneName(source, parseNames(guests), parseFindListing(images.stdout).map((e) => e.path));
  if (!name) throw oms('VmExistsError', { vm: `${source}-clone-1..${CLONE_NAME_TRIES}`, node: n.name });
  return name;
}
