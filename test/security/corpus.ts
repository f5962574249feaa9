/**
 * Hostile inputs for every string parameter: shell metacharacters, quoting, substitution,
 * newlines and NUL, path escapes, option injection, look-alike unicode, huge strings, wrong JSON
 * types and deep nesting. Each payload also appears embedded in an innocent-looking name,
 * because validators that only check a prefix are the common mistake.
 */
const CANARY = '/var/lib/oms-node/canary/pwned';

const shell = [
  `;touch ${CANARY}`, `; touch ${CANARY};`, `&& touch ${CANARY}`, `|| touch ${CANARY}`, `| touch ${CANARY}`, `& touch ${CANARY} &`,
  `$(touch ${CANARY})`, `\`touch ${CANARY}\``, `\${IFS}touch\${IFS}${CANARY}`, `$((1+1))`, `$HOME`, `\${PATH}`,
  `> ${CANARY}`, `>> ${CANARY}`, `< /etc/shadow`, `2>${CANARY}`, `'; touch ${CANARY}; '`, `"; touch ${CANARY}; "`,
  `\\"; touch ${CANARY}; \\"`, `a'b`, `a"b`, `a\\b`, `a b`, `a\tb`, `a\nb`, `a\rb`, `a\u0000b`, `\ntouch ${CANARY}\n`, `%0atouch ${CANARY}`,
  `*`, `?`, `[a-z]*`, `{a,b}`, `~`, `~root`, `!`, `#`, `a#b`,
];
const paths = ['..', '../..', '../../../etc/passwd', '/etc/passwd', '/', './x', 'a/../../b', 'a/b', '%2e%2e%2f', '..%2f..%2f', '....//', '/dev/null', '/proc/self/environ', 'C:\\Windows'];
const options = ['-rf', '--help', '-oProxyCommand=touch /tmp/x', '--output=/tmp/x', '-', '--', '-c', '--config=/etc/shadow', '-e touch x'];
const unicode = ['nоde1' /* cyrillic о */, 'ｎｏｄｅ１' /* fullwidth */, 'node\u202e1' /* RTL override */, 'no\u200bde' /* zero width space */, 'nöde', '节点', '🙂', 'a\u0301', '\ufeffnode'];
const huge = ['a'.repeat(256), 'a'.repeat(1000), 'a'.repeat(5000), `${'a/'.repeat(500)}b`, `${'-'.repeat(300)}`];
const empty = ['', ' ', '\t', '.', '\\'];

export const wrongTypes: unknown[] = [1, -1, 1.5, 1e308, true, false, null, [], {}, [[]], { a: 1 }, ['a'], [1, 2, 3]];

/** Nested lists: the first within the parser's limit, the second beyond it. */
export const nested: unknown[] = [JSON.parse('['.repeat(60) + ']'.repeat(60))];

const strings = [...shell, ...paths, ...options, ...unicode, ...huge, ...empty];

/** Every string payload, alone and embedded in a plausible name. */
export const hostileStrings: string[] = [
  ...new Set([
    ...strings,
    ...shell.map((s) => `web1${s}`),
    ...shell.map((s) => `${s}web1`),
    ...paths.map((s) => `ok${s}`),
    ...options.map((s) => `${s}web1`),
    ...unicode.map((s) => `${s}.iso`),
  ]),
];

export const hostileValues: unknown[] = [...hostileStrings, ...wrongTypes, ...nested];

export const canaryPath = CANARY;
