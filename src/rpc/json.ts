/**
 * Request JSON as qooxdoo sends it. qooxdoo's RPC serialises dates as the JavaScript literal
 * `new Date(Date.UTC(y,m,d,h,mi,s,ms))`, which is not JSON; those literals (outside strings)
 * are turned into ISO 8601 strings before parsing, so handlers see one date form.
 */
import { oms } from './errors.ts';

const dateLiteral = /^new\s+Date\s*\(\s*Date\.UTC\s*\(\s*(-?\d+(?:\s*,\s*-?\d+){0,6})\s*\)\s*\)/;

export function rewriteQooxdooDates(text: string): string {
  if (!text.includes('Date.UTC')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      // Copy a whole string literal, honouring escapes, so a date-looking string stays a string.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === 'n') {
      const m = dateLiteral.exec(text.slice(i, i + 120));
      if (m) {
        const [y, mo = 0, d = 1, h = 0, mi = 0, s = 0, ms = 0] = m[1].split(',').map((x) => Number(x.trim()));
        const date = new Date(Date.UTC(y, mo, d, h, mi, s, ms));
        if (Number.isNaN(date.getTime())) throw oms('ParseError', { reason: 'invalid date literal' });
        out += JSON.stringify(date.toISOString());
        i += m[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return out;
}

/** No RPC needs more; deeper documents only serve to exhaust recursive code downstream. */
export const maxNesting = 64;

/** Deepest bracket nesting outside string literals, stopping early once past the limit. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92 /* \ */) i++;
    } else if (c === 91 || c === 123 /* [ { */) {
      if (++depth > max) max = depth;
      if (max > maxNesting) return max;
    } else if (c === 93 || c === 125) depth--;
  }
  return max;
}

/** Decodes a request body: strict UTF-8, bounded nesting, then JSON (with qooxdoo date literals). */
export function parseRequestBody(body: Buffer | string): unknown {
  let text: string;
  if (typeof body === 'string') text = body;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw oms('ParseError', { reason: 'body is not valid UTF-8' });
    }
  }
  if (nestingDepth(text) > maxNesting) throw oms('ParseError', { reason: `JSON nested deeper than ${maxNesting} levels` });
  try {
    return JSON.parse(rewriteQooxdooDates(text));
  } catch (e) {
    if (e instanceof SyntaxError) throw oms('ParseError', { reason: 'body is not valid JSON' });
    throw e;
  }
}
