/**
 * Install trees for network installs (create_vm_from_location): where a tree's kernel and initrd
 * are, and the node-side script that fetches them. Pure: no I/O, no state.
 *
 * A location is either an http/https/ftp URL (the node's curl fetches it; the gateway never does)
 * or an absolute directory on the node under its ISO directory (resolved there with realpath, so
 * neither `..` nor a symlink leads out). Like virt-install's --location, the tree's layout is found
 * by probing: a `.treeinfo` (or `treeinfo`) names the kernel and initrd for the node's arch
 * (RHEL, Fedora, CentOS, openSUSE); otherwise the known layouts are tried in order (LAYOUTS).
 */
import { parse as parseIni } from 'ini';
import { z } from 'zod';
import type { Argv } from '../../src/nodes/command.ts';

/** A location after validation: a URL for the node's curl, or a path on the node. */
export type InstallLocation = { kind: 'url'; url: string } | { kind: 'path'; path: string };

/** Where kernel and initrd sit in the trees that carry no .treeinfo, in the order tried (x86_64). */
export const LAYOUTS: readonly { name: string; kernel: string; initrd: string }[] = [
  // Debian/Ubuntu installer directories (.../dists/<suite>/main/installer-amd64/).
  { name: 'debian-installer', kernel: 'current/images/netboot/debian-installer/amd64/linux', initrd: 'current/images/netboot/debian-installer/amd64/initrd.gz' },
  { name: 'ubuntu-installer', kernel: 'current/images/netboot/ubuntu-installer/amd64/linux', initrd: 'current/images/netboot/ubuntu-installer/amd64/initrd.gz' },
  { name: 'ubuntu-installer-legacy', kernel: 'current/legacy-images/netboot/ubuntu-installer/amd64/linux', initrd: 'current/legacy-images/netboot/ubuntu-installer/amd64/initrd.gz' },
  // A Debian install image's tree (mounted or copied ISO).
  { name: 'debian-cd', kernel: 'install.amd/vmlinuz', initrd: 'install.amd/initrd.gz' },
  // Ubuntu's older install images, then its live images (casper).
  { name: 'ubuntu-cd', kernel: 'install/vmlinuz', initrd: 'install/initrd.gz' },
  { name: 'casper', kernel: 'casper/vmlinuz', initrd: 'casper/initrd' },
  // RHEL/Fedora/CentOS trees without a .treeinfo.
  { name: 'pxeboot', kernel: 'images/pxeboot/vmlinuz', initrd: 'images/pxeboot/initrd.img' },
  // openSUSE/SLES trees without a .treeinfo.
  { name: 'suse', kernel: 'boot/x86_64/loader/linux', initrd: 'boot/x86_64/loader/initrd' },
];

/** A relative path inside a tree: plain segments, none `.`/`..` or starting with a dot or '-'. */
const RELATIVE = /^[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,127}(\/[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,127}){0,15}$/;
export const isTreePath = (p: string): boolean => RELATIVE.test(p) && !p.split('/').some((s) => s === '.' || s === '..');

/**
 * kernel/initrd of a .treeinfo for an arch (`[images-x86_64]`), or undefined when the file names
 * none. The file comes from the tree's server, so its paths are checked like any hostile input.
 */
export function treeinfoImages(text: string, arch: string): { kernel: string; initrd: string } | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = parseIni(text);
  } catch {
    return undefined;
  }
  const sec = doc[`images-${arch}`] as Record<string, unknown> | undefined;
  const kernel = sec?.kernel;
  const initrd = sec?.initrd;
  if (typeof kernel !== 'string' || typeof initrd !== 'string') return undefined;
  const k = kernel.trim().replace(/^\.\//, '');
  const i = initrd.trim().replace(/^\.\//, '');
  if (!isTreePath(k) || !isTreePath(i)) throw new Error(`the tree's .treeinfo names an unsafe path (${JSON.stringify(k).slice(0, 80)}, ${JSON.stringify(i).slice(0, 80)})`);
  return { kernel: k, initrd: i };
}

/** The (kernel, initrd) pairs to try, .treeinfo's first. */
export function candidates(treeinfo: { kernel: string; initrd: string } | undefined): { name: string; kernel: string; initrd: string }[] {
  return [...(treeinfo ? [{ name: 'treeinfo', ...treeinfo }] : []), ...LAYOUTS];
}

/* ------------------------------------------------------------------------------------------------
 * Validation of the location parameter
 * --------------------------------------------------------------------------------------------- */

const HOST = String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]{2,45}\])`;
/** Path characters of RFC 3986 without quotes, `?`/`#` and brackets; `%` only as `%XX`. */
const URL_RE = new RegExp(String.raw`^(?:https?|ftp)://${HOST}(?::\d{1,5})?(?:/(?:[A-Za-z0-9._~!$&()*+,;=:@-]|%[0-9A-Fa-f]{2})*)*$`);
const NODE_PATH = /^(\/[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,127}){1,32}\/?$/;

/**
 * `location`: http, https or ftp URL without credentials, query or fragment; or an absolute path
 * on the node. Anything else is refused with the reason (scheme, characters, `..`).
 */
export const installLocation = z
  .string()
  .max(2048, 'location longer than 2048 characters')
  .transform((s, ctx): InstallLocation => {
    const fail = (message: string) => {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    };
    if (s.startsWith('/')) {
      if (s.split('/').some((seg) => seg === '..' || seg === '.')) return fail('no "." or ".." in a path on the node');
      if (!NODE_PATH.test(s)) return fail('not an absolute path on the node (letters, digits, _ . + - in each name, none starting with - or .)');
      return { kind: 'path', path: s.replace(/\/$/, '') };
    }
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(s)?.[1]?.toLowerCase();
    if (!scheme) return fail('an http, https or ftp URL, or an absolute path on the node');
    if (!['http', 'https', 'ftp'].includes(scheme)) return fail(`scheme ${scheme.slice(0, 20)} is not allowed (http, https or ftp only)`);
    if (/^[a-z]+:\/\/[^/]*@/i.test(s)) return fail('no user or password in the URL');
    if (/[?#]/.test(s)) return fail('no query or fragment: the URL of the tree\'s top directory');
    if (!URL_RE.test(s)) return fail('not a valid URL (spaces, quotes, brackets and control characters are refused)');
    const path = s.replace(/^[a-z]+:\/\/[^/]*/i, '');
    if (path.split('/').some((seg) => seg === '..' || seg === '.' || /^(%2e|\.){1,2}$/i.test(seg))) return fail('no "." or ".." segments in the URL');
    return { kind: 'url', url: s.endsWith('/') ? s : `${s}/` };
  });

/** Kernel parameters: printable ASCII (the kernel reads no other), bounded below its 2048-byte limit. */
export const kernelCmdline = z
  .string()
  .max(1024, 'cmdline longer than 1024 characters')
  .regex(/^[\x20-\x7e]*$/, 'printable ASCII only (no control characters such as newlines or tabs)');

/** cmdline with the serial console when asked: Linux makes the last console= its /dev/console. */
export function withConsole(cmdline: string, serial: boolean): string {
  const c = cmdline.trim();
  if (!serial || /(^|\s)console=ttyS0(\s|,|$)/.test(c.split(/\s+/).filter((w) => w.startsWith('console=')).at(-1) ?? '')) return c;
  return c ? `${c} console=ttyS0` : 'console=ttyS0';
}

/* ------------------------------------------------------------------------------------------------
 * The node side
 * --------------------------------------------------------------------------------------------- */

/** Exit codes of the fetch script, mapped to errors by the service in one place. */
export const TREE_EXIT = { noDir: 3, notFound: 4, outside: 5, noTree: 6, tooLarge: 11, fetchFailed: 12, writeFailed: 13 } as const;

export const KERNEL_MAX_BYTES = 256 * 1024 ** 2;
export const INITRD_MAX_BYTES = 2 * 1024 ** 3;
export const TREEINFO_MAX_BYTES = 64 * 1024;
const FETCH_TIMEOUT_S = 1800;

/**
 * One bash script for both kinds of location ($1 = url | path):
 *  - `treeinfo`: prints the tree's .treeinfo (or treeinfo), at most 64 KiB; exit 4 when it has none.
 *  - `fetch`: tries the (kernel, initrd) pairs given after the fixed arguments, in order; the first
 *    pair whose kernel exists is fetched into the images directory as `.oms-netinst-<token>.kernel`
 *    and `.initrd`; the last line printed is `<pair index> <kernel bytes> <initrd bytes>`.
 *
 * URLs go to curl as one argument, with --globoff (no {} or [] expansion), protocols limited to
 * http/https/ftp for the URL and any redirect (so a server cannot redirect to file://), no netrc.
 * A file's size is bounded by --max-filesize and by `head -c max+1` (a server may send no length).
 * A node path is resolved with realpath: the tree and every file taken from it must stay inside
 * the real ISO directory ($3), so a symlink out of it is refused (5), not followed.
 *
 * The watchdog of isoservices' fetch: a dot line every 2 s; if the gateway goes away, sshd closes
 * stdout, the next dot fails and the whole process group stops; the EXIT trap removes the partial
 * files. Nothing of the location is ever part of the script text.
 */
const SCRIPT = [
  'kind=$1 loc=$2 top=$3 dest=$4 token=$5 op=$6 kmax=$7 imax=$8 tmax=$9 tmo=${10}',
  'shift 10',
  'a=$(realpath -e -- "$top") && [ -d "$a" ] || exit 3',
  'if [ "$kind" = path ]; then',
  '  t=$(realpath -e -- "$loc" 2>/dev/null) || exit 6',
  '  case "$t/" in "$a"/*) ;; *) exit 5 ;; esac',
  '  [ -d "$t" ] || exit 6',
  'fi',
  'err=$(mktemp)',
  // get REL OUT MAX: 0 fetched, 4 not there, 5 outside, 11 too large, 12 failed (reason on stderr)
  'get() {',
  '  if [ "$kind" = url ]; then',
  '    curl -fsS -q --globoff --proto =http,https,ftp --proto-redir =http,https,ftp -L --max-redirs 5 --connect-timeout 10 --max-time "$tmo" --max-filesize "$3" -o - -- "$loc$1" 2>"$err" | head -c "$(($3 + 1))" > "$2"',
  '    local s=("${PIPESTATUS[@]}")',
  '    [ "${s[0]}" -eq 63 ] && return 11',
  '    case "${s[0]}" in 0) ;; 22|78|9|19) return 4 ;; *) head -n 3 "$err" >&2; return 12 ;; esac',
  '    [ "${s[1]}" -eq 0 ] || return 13',
  '    [ "$(stat -c %s -- "$2")" -le "$3" ] || return 11',
  '  else',
  '    local f',
  '    f=$(realpath -e -- "$t/$1" 2>/dev/null) || return 4',
  '    case "$f" in "$a"/*) ;; *) return 5 ;; esac',
  '    [ -f "$f" ] || return 4',
  '    [ "$(stat -c %s -- "$f")" -le "$3" ] || return 11',
  '    cp -- "$f" "$2" || return 13',
  '  fi',
  '}',
  'if [ "$op" = treeinfo ]; then',
  '  o=$(mktemp)',
  '  trap \'rm -f -- "$o" "$err"\' EXIT',
  '  for n in .treeinfo treeinfo; do',
  '    get "$n" "$o" "$tmax"; r=$?',
  '    [ "$r" -eq 0 ] && { cat -- "$o"; exit 0; }',
  '    [ "$r" -eq 4 ] || exit "$r"',
  '  done',
  '  exit 4',
  'fi',
  'd=$(realpath -e -- "$dest") && [ -d "$d" ] || exit 3',
  'k="$d/.oms-netinst-$token.kernel" i="$d/.oms-netinst-$token.initrd"',
  // Every way out stops the watchdog, or it would hold the channel open on its own.
  'w=',
  'trap \'[ -n "$w" ] && kill "$w" 2>/dev/null; rm -f -- "$k" "$i" "$err"\' EXIT',
  "trap 'exit 143' TERM HUP",
  // sleep must not hold stdout: the channel only ends once every holder of it has gone.
  "( trap '' PIPE; while sleep 2 </dev/null >/dev/null 2>&1; do echo . || { kill -s TERM 0; exit; }; done ) &",
  'w=$!',
  'n=0',
  'while [ $# -ge 2 ]; do',
  '  get "$1" "$k" "$kmax"; r=$?',
  '  if [ "$r" -eq 0 ]; then',
  '    get "$2" "$i" "$imax"; r=$?',
  '    [ "$r" -eq 4 ] && { echo "the tree has $1 but not $2" >&2; exit 12; }',
  '    [ "$r" -eq 0 ] || exit "$r"',
  '    kill "$w" 2>/dev/null; wait "$w" 2>/dev/null',
  '    rm -f -- "$err"; trap - EXIT',
  '    echo "$n $(stat -c %s -- "$k") $(stat -c %s -- "$i")"',
  '    exit 0',
  '  fi',
  '  [ "$r" -eq 4 ] || exit "$r"',
  '  n=$((n + 1)); shift 2',
  'done',
  'exit 4',
].join('\n');

export interface TreeFetch {
  location: InstallLocation;
  /** The node's ISO directory: the only place a node-path tree may be (or lead to). */
  isoDir: string;
  imagesDir: string;
  token: string;
}

const fixedArgs = (f: TreeFetch, op: 'treeinfo' | 'fetch'): string[] => [
  f.location.kind,
  f.location.kind === 'url' ? f.location.url : f.location.path,
  f.isoDir,
  f.imagesDir,
  f.token,
  op,
  String(KERNEL_MAX_BYTES),
  String(INITRD_MAX_BYTES),
  String(TREEINFO_MAX_BYTES),
  // A .treeinfo is small: a server that stalls on it is given a minute, not the kernel's half hour.
  String(op === 'treeinfo' ? 60 : FETCH_TIMEOUT_S),
];

export const readTreeinfo = (f: TreeFetch): Argv => ['bash', '-c', SCRIPT, 'oms-netinst-tree', ...fixedArgs(f, 'treeinfo')];

export const fetchKernel = (f: TreeFetch, pairs: readonly { kernel: string; initrd: string }[]): Argv => [
  'bash',
  '-c',
  SCRIPT,
  'oms-netinst-fetch',
  ...fixedArgs(f, 'fetch'),
  ...pairs.flatMap((p) => [p.kernel, p.initrd]),
];

/** Files the fetch leaves in the images directory, removed once the install boot has them. */
export const fetchedFiles = (imagesDir: string, token: string) => ({ kernel: `${imagesDir}/.oms-netinst-${token}.kernel`, initrd: `${imagesDir}/.oms-netinst-${token}.initrd` });

/** The fetch script's last line: which pair, and the sizes. */
export function parseFetched(stdout: string): { index: number; kernelBytes: number; initrdBytes: number } {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const m = /^(\d+) (\d+) (\d+)$/.exec(last);
  if (!m) throw new Error('netinstall fetch: no result line in the output');
  return { index: Number(m[1]), kernelBytes: Number(m[2]), initrdBytes: Number(m[3]) };
}

/** curl's message or the script's own last line, for an error. */
export function fetchFailure(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => l.startsWith('curl:')) ?? lines.at(-1) ?? 'unknown error').slice(0, 300);
}
