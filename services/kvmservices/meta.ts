/**
 * A guest's meta: free key/value pairs kept in its own libvirt definition, after CloudSigma's
 * server `meta`, so they live and die with the guest on its node (a clone copies them, an
 * undefine drops them) and can change while it runs (`virsh metadata --live --config`).
 *
 * libvirt keeps one element per namespace in `<metadata>` and `virsh metadata --set` replaces
 * that whole element, so meta has a namespace of its own, apart from OMS's `oms:os` record:
 * `<omsmeta:meta xmlns:omsmeta='urn:oms:meta:1'><omsmeta:entry key='k'>v</omsmeta:entry>...`.
 * Keys and values are written and read by the XML library: a value is text, never markup.
 * Pure: no I/O, no state.
 */
import { z } from 'zod';
import { attr, child, elements, parseXml, serializeXml, x } from './xml.ts';

export const META_NS = 'urn:oms:meta:1';
/** The prefix libvirt writes the element with. */
export const META_PREFIX = 'omsmeta';
export const META_MAX_ENTRIES = 32;

export const metaKey = z.string().max(64).regex(/^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/, 'not a meta key (letters, digits, _ . : -)');
/** Any text but control characters (XML 1.0 cannot carry most of them; tab and newlines it can). */
export const metaValue = z
  .string()
  .max(256, 'meta values are at most 256 characters')
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]*$/, 'meta values carry no control characters');
export const metaSchema = z.record(metaKey, metaValue).refine((m) => Object.keys(m).length <= META_MAX_ENTRIES, `at most ${META_MAX_ENTRIES} meta entries`);

/**
 * The element virsh metadata --set takes (unprefixed: libvirt adds the namespace and prefix), on
 * one line: libvirt keeps the text as given, indentation included.
 */
export const metaXml = (meta: Record<string, string>): string =>
  serializeXml(
    x(
      'meta',
      {},
      ...Object.keys(meta)
        .sort()
        .map((k) => x('entry', { key: k }, meta[k])),
    ),
  ).trimEnd();

/** The meta a domain's XML holds ({} when none). Other namespaces' metadata is not looked at. */
export function readMeta(domainXml: string): Record<string, string> {
  const md = child(parseXml(domainXml), 'metadata');
  const mine = elements(md).find((e) => e.namespaceURI === META_NS && e.localName === 'meta');
  const out: Record<string, string> = {};
  for (const e of elements(mine)) if (e.localName === 'entry' && e.namespaceURI === META_NS) out[attr(e, 'key') ?? ''] = e.textContent ?? '';
  return out;
}
