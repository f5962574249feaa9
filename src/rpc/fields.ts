/**
 * Shared parameter types with strict patterns. Every caller-supplied name that can reach a node
 * (as an argv element or a path component) is one of these, so the refusal of hostile input
 * happens in the RPC pipeline, before any handler or command runs.
 *
 * Patterns are deliberately narrow: ASCII only (no look-alikes), no leading '-' (option
 * injection), no '/' or '..' (path escape), bounded length. Widening one is a security decision.
 */
import { z } from 'zod';
import { IPv4, isIpv4 } from './ip.ts';

const named = (re: RegExp, max: number, what: string) =>
  z
    .string()
    .max(max, `${what} longer than ${max} characters`)
    .regex(re, `not a valid ${what}`);

/** Host names as in RFC 1123 labels, dotted; what `hostname` can hold. */
export const nodeName = named(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 253, 'node name');

/**
 * libvirt domain names: libvirt allows more, but we refuse what a shell or path could misread,
 * and what virsh would take for another guest: it looks a word up as a domain id when it is all
 * digits and as a UUID when it reads as one, before it tries the name, so a guest named `5` would
 * reach whichever guest runs with id 5.
 */
// libvirt's UUID parser skips dashes wherever they stand.
const uuidShaped = (s: string) => /^[0-9a-f]{32}$/i.test(s.replace(/-/g, ''));
export const vmName = named(/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/, 64, 'VM name')
  .refine((s) => !s.includes('..'), 'not a valid VM name')
  .refine((s) => !/^[0-9]+$/.test(s) && !uuidShaped(s), 'not a valid VM name: virsh would read it as a domain id or UUID');

/** OpenVZ/LXC container ids are numeric in the OMS API. */
export const containerId = z.union([z.number().int().min(100).max(2147483647), named(/^[1-9][0-9]{2,9}$/, 10, 'container id')]).transform(String);

/** File names inside a configured directory (ISO, disk image, template). */
export const fileName = named(/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/, 128, 'file name').refine((s) => !s.includes('..'), 'not a valid file name');

/** Linux interface and bridge names (IFNAMSIZ 16 incl. NUL). */
export const ifName = named(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, 15, 'interface name').refine((s) => !s.includes('..'), 'not a valid interface name');

/** libvirt network names (kvmservices networks, a node's defaultGuestNetwork setting). */
export const libvirtNetName = named(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 64, 'network name').refine((s) => !s.includes('..'), 'not a valid network name');

/** LVM VG/LV names (lvm(8): letters, digits, + _ . -, not starting with '-'). */
export const lvmName = named(/^[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,127}$/, 128, 'LVM name').refine((s) => s !== '.' && s !== '..' && !s.startsWith('snapshot') && !s.startsWith('pvmove'), 'not a valid LVM name');

/** User names of the gateway itself. */
export const userName = named(/^[a-z_][a-z0-9_.-]{0,31}$/, 32, 'user name');

/** Tag names: printable words, no control characters. */
export const tagName = named(/^[A-Za-z0-9][A-Za-z0-9 _.:+-]{0,63}$/, 64, 'tag name');

/** Resource pool names (fleetservices): one path segment of `/pools/{pool}`, no spaces or colons (selectors read `pool:NAME`). */
export const poolName = named(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 64, 'pool name').refine((s) => !s.includes('..'), 'not a valid pool name');

/** The OMS `cache_timeout` positional parameter: seconds, 0 = fresh. Strings from query URLs are accepted. */
export const cacheTimeout = z.coerce.number().int().min(0).max(86400);

/** Session ids: 40 hex characters (160 bits) as issued by authservices.authenticate. */
export const sessid = named(/^[0-9A-Fa-f]{40}$/, 40, 'session id');

/**
 * A dotted quad. The pattern stays because rpc.discover publishes it to clients; ipaddr.js
 * (isIpv4: no leading zeros, no inet_aton short or hex forms) must accept the value too, so code
 * that parses it with the library never meets a form the pattern let through. Both abort: the
 * refinements after them only see well-formed addresses (ip.test.ts holds the two in agreement).
 */
export const ipv4 = z
  .string()
  .regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/, { message: 'not an IPv4 address', abort: true })
  .refine(isIpv4, { message: 'not an IPv4 address', abort: true });

/** Dotted-quad netmask that is contiguous ones then zeros. */
export const netmask = ipv4.refine((m) => IPv4.parse(m).prefixLengthFromSubnetMask() !== null, 'not a contiguous netmask');

/**
 * Params that name a guest. A mutating method with one of these must declare which guests it
 * holds (or why none): the registry checks it at start-up, so a new method cannot forget.
 */
export const guestFields: ReadonlySet<z.ZodType> = new Set<z.ZodType>([vmName, containerId]);

/** The longest a caller may ask to wait for a held guest, in seconds. */
export const LOCK_WAIT_MAX_SECONDS = 600;

/**
 * Seconds a call may wait for a guest another operation holds (the `OMS-Lock-Wait` header, or
 * the `lock_wait` named param): a number, or digits from a header or URL.
 */
export const lockWait = z
  .union([z.number(), z.string().regex(/^\d{1,4}(\.\d{1,3})?$/, 'not a number of seconds').transform(Number)])
  .pipe(z.number().min(0).max(LOCK_WAIT_MAX_SECONDS));
