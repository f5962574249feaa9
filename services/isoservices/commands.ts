/**
 * What ISOService runs on a node. Fixed scripts; the ISO directory, image name, URL and limits
 * arrive as positional parameters ($1...), never inside the script text. Names were validated by
 * isoName (no '/', no '..', no leading '-' or '.'), so "$dir/$name" is always a direct child; the
 * scripts still resolve it with realpath on the node, so a symlink pointing out of the directory
 * is refused rather than followed.
 */
import type { Argv } from '../../src/nodes/command.ts';

/** Regular *.iso files directly in the directory, NUL-separated. Exit 3: no such directory. */
export const listIsos = (dir: string): Argv => [
  'sh',
  '-c',
  '[ -d "$1" ] || exit 3; find "$1"/ -mindepth 1 -maxdepth 1 -type f -iname "*.iso" ! -name ".*" -printf "%f\\0"',
  'oms-list-isos',
  dir,
];

/**
 * Same selection with size and modification time: `size/mtime/name` records, NUL-separated. '/'
 * cannot occur in a file name, so it separates fields whatever the name holds.
 */
export const listIsoDetails = (dir: string): Argv => [
  'sh',
  '-c',
  '[ -d "$1" ] || exit 3; find "$1"/ -mindepth 1 -maxdepth 1 -type f -iname "*.iso" ! -name ".*" -printf "%s/%T@/%f\\0"',
  'oms-list-iso-details',
  dir,
];

/** Exit codes of the scripts below, shared so the service maps them in one place. */
export const EXIT = { noDir: 3, noImage: 4, outside: 5, exists: 10, tooLarge: 11, fetchFailed: 12, writeFailed: 13 } as const;

/**
 * Prints the real path of an existing image (and of the directory) after checking it is a regular
 * file directly inside the real directory. A symlink to a file in the directory passes (only the
 * link is ever removed); one pointing elsewhere, or dangling, is refused (5).
 */
export const resolveImage = (dir: string, name: string): Argv => [
  'sh',
  '-c',
  [
    'd=$(realpath -e -- "$1") || exit 3',
    '{ [ -e "$1/$2" ] || [ -L "$1/$2" ]; } || exit 4',
    'f=$(realpath -e -- "$1/$2") || exit 5',
    '[ "${f%/*}" = "$d" ] && [ -f "$f" ] || exit 5',
    'printf "%s\\n%s\\n" "$d" "$f"',
  ].join('\n'),
  'oms-resolve-iso',
  dir,
  name,
];

export const removeImage = (realDir: string, name: string): Argv => ['rm', '-f', '--', `${realDir}/${name}`];

/** Before an upload: the real directory (printed), and the name must be free (10). */
export const prepareUpload = (dir: string, name: string): Argv => [
  'sh',
  '-c',
  'd=$(realpath -e -- "$1") && [ -d "$d" ] || exit 3; { [ -e "$d/$2" ] || [ -L "$d/$2" ]; } && exit 10; printf "%s\\n" "$d"',
  'oms-prepare-upload',
  dir,
  name,
];

/**
 * Downloads url into the directory under a temp name, at most max bytes, then links it to its
 * name (ln fails if the name was taken meanwhile: no overwrite) and drops the temp name. curl's
 * --max-filesize only helps when the server sends a length, so `head -c max+1` bounds what is
 * written either way. No redirects (-L with --max-redirs 0 makes one an error rather than saving
 * the redirect page): the URL given is the only place contacted.
 *
 * A watchdog prints a dot line every 2 s. If the gateway goes away (crash, lost link), sshd
 * closes the script's stdout, the next dot fails, and the watchdog stops the whole process group:
 * without it curl would run on, and the image would land under its name after the gateway had
 * already marked the task failed. Stopped by TERM (the watchdog, or a timed-out call), the script
 * exits through its EXIT trap, which removes the temp file. The size is the last stdout line.
 * bash for PIPESTATUS. $5 is a random token naming the temp file.
 */
export const fetchImage = (dir: string, name: string, url: string, maxBytes: number, token: string, timeoutSeconds: number): Argv => [
  'bash',
  '-c',
  [
    'd=$(realpath -e -- "$1") && [ -d "$d" ] || exit 3',
    '{ [ -e "$d/$2" ] || [ -L "$d/$2" ]; } && exit 10',
    't="$d/.oms-fetch-$5.part"',
    'trap \'rm -f -- "$t"\' EXIT',
    "trap 'exit 143' TERM HUP",
    // sleep must not hold stdout: the channel only ends once every holder of it has gone.
    "( trap '' PIPE; while sleep 2 </dev/null >/dev/null 2>&1; do echo . || { kill -s TERM 0; exit; }; done ) &",
    'w=$!',
    'curl -fsSL --proto =http,https --max-redirs 0 --connect-timeout 10 --max-time "$6" --max-filesize "$4" -o - -- "$3" | head -c "$(($4 + 1))" > "$t"',
    's=("${PIPESTATUS[@]}")',
    'kill "$w" 2>/dev/null; wait "$w" 2>/dev/null',
    '[ "$(stat -c %s -- "$t")" -le "$4" ] || exit 11',
    '[ "${s[0]}" -eq 63 ] && exit 11',
    '[ "${s[0]}" -eq 0 ] || { echo "curl exit ${s[0]}" >&2; exit 12; }',
    '[ "${s[1]}" -eq 0 ] || exit 13',
    'ln -- "$t" "$d/$2" || exit 10',
    'stat -c %s -- "$d/$2"',
  ].join('\n'),
  'oms-fetch-iso',
  dir,
  name,
  url,
  String(maxBytes),
  token,
  String(timeoutSeconds),
];
