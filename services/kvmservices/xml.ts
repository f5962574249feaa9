/**
 * libvirt's documents (domain, network, capabilities) as a DOM, read and written by @xmldom/xmldom.
 *
 * A guest's XML carries what its owner put there: `<metadata>` in any namespace with comments,
 * CDATA and processing instructions, a `<description>` with any text. The library reads all of
 * it; nothing here looks at characters. Documents read from a node and written back (clone) are
 * serialized by the library as they are, so whatever OMS does not touch goes back unchanged.
 *
 * What is kept here, deliberately small: navigation by child name, and the layout of the documents
 * OMS builds itself (single-quoted attributes, two-space indentation, as libvirt writes them, and
 * as the golden tests pin): no maintained serializer writes single quotes, and libvirt reads
 * either. Pure: no I/O, no state.
 */
import { DOMImplementation, DOMParser, MIME_TYPE, Node, XMLSerializer, onErrorStopParsing, type Element } from '@xmldom/xmldom';

export type XmlElement = Element;

/**
 * Parses one document strictly: a document that is not well-formed XML (mismatched or unclosed
 * tags, unknown entities, an unbound namespace prefix, no root) throws `XML: ...`. A DOCTYPE's
 * own entities are never expanded (xmldom does not), so a document cannot make the gateway read
 * files or blow up in memory.
 */
export function parseXml(text: string): Element {
  let root: Element | null;
  try {
    root = new DOMParser({ onError: onErrorStopParsing }).parseFromString(text, MIME_TYPE.XML_TEXT).documentElement;
  } catch (e) {
    throw new Error(`XML: ${(e as Error).message}`);
  }
  if (!root) throw new Error('XML: missing root element');
  return root;
}

const isElement = (n: Node): n is Element => n.nodeType === Node.ELEMENT_NODE;
const isText = (n: Node): boolean => n.nodeType === Node.TEXT_NODE || n.nodeType === Node.CDATA_SECTION_NODE;

/** Child elements, all or by (qualified) name. */
export const elements = (el: Element | undefined, name?: string): Element[] => Array.from(el?.childNodes ?? []).filter((c): c is Element => isElement(c) && (name === undefined || c.tagName === name));

/** First descendant along a path of child names: `child(dom, 'os', 'type')`. */
export function child(el: Element | undefined, ...path: string[]): Element | undefined {
  let cur = el;
  for (const p of path) cur = elements(cur, p)[0];
  return cur;
}

/** An attribute's value, undefined when absent (or no element). */
export const attr = (el: Element | undefined, name: string): string | undefined => (el?.hasAttribute(name) ? (el.getAttribute(name) ?? undefined) : undefined);

/** The element's text (CDATA included), trimmed; '' for none. */
export const textOf = (el: Element | undefined): string => (el?.textContent ?? '').trim();

/** Replaces an element's content with one text node. */
export function setText(el: Element, text: string): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(el.ownerDocument!.createTextNode(text));
}

/** Removes an element with the indentation before it, so no blank line is left behind. */
export function removeElement(el: Element): void {
  const before = el.previousSibling;
  if (before && before.nodeType === Node.TEXT_NODE && !(before.nodeValue ?? '').trim()) before.parentNode?.removeChild(before);
  el.parentNode?.removeChild(el);
}

/**
 * A document as the library writes it: every node the caller did not change, comments, CDATA,
 * namespaces and whitespace included, comes out as it went in. `requireWellFormed`: a node that
 * cannot be written as well-formed XML throws instead of producing a document libvirt misreads.
 */
export const serializeXml = (el: Element): string => `${new XMLSerializer().serializeToString(el, { requireWellFormed: true })}\n`;

export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/**
 * Writes an element in libvirt's layout: attributes in single quotes, children indented by two
 * spaces, text-only elements on one line. An element whose content is not just elements (text
 * beside elements, comments, CDATA, processing instructions) is written by the library as it is,
 * so nothing of it is re-indented or dropped.
 */
export function writeXml(el: Element, indent = ''): string {
  const name = el.tagName;
  const attrs = Array.from(el.attributes)
    .map((a) => ` ${a.name}='${escapeXml(a.value)}'`)
    .join('');
  const kids = Array.from(el.childNodes);
  if (kids.length === 0) return `${indent}<${name}${attrs}/>\n`;
  if (kids.every(isText)) return `${indent}<${name}${attrs}>${escapeXml(el.textContent ?? '')}</${name}>\n`;
  const layout = kids.filter((c) => !(c.nodeType === Node.TEXT_NODE && !(c.nodeValue ?? '').trim()));
  if (layout.every(isElement)) return `${indent}<${name}${attrs}>\n${layout.map((c) => writeXml(c, `${indent}  `)).join('')}${indent}</${name}>\n`;
  return `${indent}${serializeXml(el)}`;
}

/** Builds OMS's own documents; the elements belong to one factory document and are only ever written out. */
const factory = new DOMImplementation().createDocument(null, '');

/** Element builder for generated documents: `x('disk', {type: 'file'}, x('source', {file}))`. */
export function x(name: string, attrs: Record<string, string | undefined> = {}, ...children: (Element | string | undefined | false)[]): Element {
  const el = factory.createElement(name);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  for (const c of children) {
    if (c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' ? factory.createTextNode(c) : c);
  }
  return el;
}
