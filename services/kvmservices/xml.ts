/**
 * A small XML reader and writer for libvirt's own documents (domain, network, capabilities).
 *
 * libvirt writes plain XML: elements, attributes in quotes, text, the five predefined entities and
 * numeric references; no DTD, no CDATA in what we read. That is all this handles; anything else
 * (an unterminated tag, a mismatched close) throws, so a surprise is loud rather than misread.
 * Pure: no I/O, no state.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    const v = ENTITIES[e];
    if (v === undefined) throw new Error(`XML: unknown entity ${m}`);
    return v;
  });
}

export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

const NAME = /[A-Za-z_][A-Za-z0-9_.:-]*/y;
const ATTR = /\s+([A-Za-z_][A-Za-z0-9_.:-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")/y;

/** Parses one document; returns its root element. */
export function parseXml(text: string): XmlElement {
  let i = 0;
  const root: XmlElement = { name: '#document', attrs: {}, children: [] };
  const stack: XmlElement[] = [root];
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const top = stack[stack.length - 1];
    if (lt < 0) {
      if (text.slice(i).trim()) top.children.push(decode(text.slice(i)));
      break;
    }
    if (lt > i) {
      const t = text.slice(i, lt);
      if (t.trim()) top.children.push(decode(t));
    }
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt);
      if (end < 0) throw new Error('XML: unterminated comment');
      i = end + 3;
      continue;
    }
    if (text.startsWith('<?', lt)) {
      const end = text.indexOf('?>', lt);
      if (end < 0) throw new Error('XML: unterminated declaration');
      i = end + 2;
      continue;
    }
    if (text.startsWith('</', lt)) {
      const end = text.indexOf('>', lt);
      if (end < 0) throw new Error('XML: unterminated close tag');
      const name = text.slice(lt + 2, end).trim();
      const open = stack.pop();
      if (!open || open === root || open.name !== name) throw new Error(`XML: unexpected </${name}>`);
      i = end + 1;
      continue;
    }
    NAME.lastIndex = lt + 1;
    const m = NAME.exec(text);
    if (!m) throw new Error(`XML: bad tag at ${lt}`);
    const el: XmlElement = { name: m[0], attrs: {}, children: [] };
    let j = NAME.lastIndex;
    for (;;) {
      ATTR.lastIndex = j;
      const a = ATTR.exec(text);
      if (!a) break;
      el.attrs[a[1]] = decode(a[2] ?? a[3]);
      j = ATTR.lastIndex;
    }
    while (/\s/.test(text[j] ?? '')) j++;
    top.children.push(el);
    if (text.startsWith('/>', j)) i = j + 2;
    else if (text[j] === '>') {
      stack.push(el);
      i = j + 1;
    } else throw new Error(`XML: bad tag <${el.name}> at ${lt}`);
  }
  if (stack.length !== 1) throw new Error(`XML: <${stack[stack.length - 1].name}> not closed`);
  const first = root.children.find((c): c is XmlElement => typeof c !== 'string');
  if (!first) throw new Error('XML: no root element');
  return first;
}

export const elements = (el: XmlElement | undefined, name?: string): XmlElement[] =>
  (el?.children ?? []).filter((c): c is XmlElement => typeof c !== 'string' && (name === undefined || c.name === name));

/** First descendant along a path of child names: `child(dom, 'os', 'type')`. */
export function child(el: XmlElement | undefined, ...path: string[]): XmlElement | undefined {
  let cur = el;
  for (const p of path) cur = elements(cur, p)[0];
  return cur;
}

export const textOf = (el: XmlElement | undefined): string => (el?.children ?? []).filter((c): c is string => typeof c === 'string').join('').trim();

/** Serializes with two-space indentation, as libvirt writes its documents. */
export function writeXml(el: XmlElement, indent = ''): string {
  const attrs = Object.entries(el.attrs)
    .map(([k, v]) => ` ${k}='${escapeXml(v)}'`)
    .join('');
  if (el.children.length === 0) return `${indent}<${el.name}${attrs}/>\n`;
  if (el.children.every((c) => typeof c === 'string')) return `${indent}<${el.name}${attrs}>${escapeXml(el.children.join(''))}</${el.name}>\n`;
  const inner = el.children.map((c) => (typeof c === 'string' ? `${indent}  ${escapeXml(c.trim())}\n` : writeXml(c, `${indent}  `))).join('');
  return `${indent}<${el.name}${attrs}>\n${inner}${indent}</${el.name}>\n`;
}

/** Element builder for generated documents: `x('disk', {type: 'file'}, x('source', {file}))`. */
export const x = (name: string, attrs: Record<string, string | undefined> = {}, ...children: (XmlNode | undefined | false)[]): XmlElement => ({
  name,
  attrs: Object.fromEntries(Object.entries(attrs).filter((e): e is [string, string] => e[1] !== undefined)),
  children: children.filter((c): c is XmlNode => c !== undefined && c !== false),
});
