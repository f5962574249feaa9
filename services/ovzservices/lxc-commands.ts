/**
 * What the LXC driver runs on a node: pure builders of argv. Ids are digits (containerId), template
 * paths are built from validated file names; every value is one argv element. The few `sh -c`
 * scripts are fixed text; data reaches them only as positional parameters ("$1", "$2").
 */
import type { Argv, Pipeline } from '../../src/nodes/command.ts';
import { configOf, ctDir, rootfsOf } from './config.ts';

/** How long lxc-stop waits for the container's init to halt before killing it. */
export const STOP_TIMEOUT_S = 10;
export const START_WAIT_S = 10;

/** The tools a node needs for containers; `which` exits 1 when any is missing. */
export const whichTools = (): Argv => ['which', 'lxc-start', 'lxc-info', 'lxc-attach', 'tar', 'sha256sum'];

/**
 * Node facts in one round trip: CPUs, memory, cgroup filesystem type, free space where the
 * containers live. Prints four lines; parsed by parseFacts.
 */
export const facts = (lxcpath: string): Argv => [
  'sh',
  '-c',
  'nproc && head -n 1 /proc/meminfo && stat -fc %T /sys/fs/cgroup && df -Pk -- "$1" | tail -n 1',
  'oms-facts',
  lxcpath,
];

export const list = (lxcpath: string): Argv => ['lxc-ls', '-P', lxcpath, '-1'];

/** State, pid and raw counters (-H: bytes and nanoseconds). Exit 1 when the container does not exist. */
export const info = (lxcpath: string, id: string): Argv => ['lxc-info', '-P', lxcpath, '-n', id, '-s', '-p', '-S', '-H'];

/**
 * lxc-info for several containers in one round trip; each block starts with `== id`. A missing
 * container prints its error to stderr and the loop goes on.
 */
export const infoMany = (lxcpath: string, ids: readonly string[]): Argv => [
  'sh',
  '-c',
  'p=$1; shift; for id; do echo "== $id"; lxc-info -P "$p" -n "$id" -s -p -S -H 2>/dev/null; done; exit 0',
  'oms-info',
  lxcpath,
  ...ids,
];

export const readConfig = (lxcpath: string, id: string): Argv => ['cat', '--', configOf(lxcpath, id)];

/** Writes stdin to the file atomically (temp file, then rename). */
export const writeFile = (path: string): Argv => ['sh', '-c', 'umask 022 && rm -f -- "$1.oms-tmp" && cat > "$1.oms-tmp" && mv -f -- "$1.oms-tmp" "$1"', 'oms-write', path];

/** The private area: `mkdir` without -p on the container dir, so an existing id fails here. */
export const makePrivateArea = (lxcpath: string, id: string): Argv => ['sh', '-c', 'umask 022 && mkdir -- "$1" && mkdir -- "$2"', 'oms-mkct', ctDir(lxcpath, id), rootfsOf(lxcpath, id)];

export const extractTarball = (lxcpath: string, id: string, tarball: string): Argv => ['tar', '-C', rootfsOf(lxcpath, id), '--numeric-owner', '-xzpf', tarball];

export const extractStdin = (lxcpath: string, id: string): Argv => ['tar', '-C', rootfsOf(lxcpath, id), '--numeric-owner', '-xzpf', '-'];

/** gzip'd tar of the root filesystem on stdout, streamed to the target by the gateway (migration). */
export const exportStream = (lxcpath: string, id: string): Argv => ['tar', '-C', rootfsOf(lxcpath, id), '--numeric-owner', '-czf', '-', '.'];

/** Tar into `<tarball>.oms-part`, then rename: a half-written template never shows in the cache. */
export const exportTarball = (lxcpath: string, id: string, tarball: string): Argv => [
  'sh',
  '-c',
  'tar -C "$1" --numeric-owner -czf "$2.oms-part" . && mv -f -- "$2.oms-part" "$2" || { rm -f -- "$2.oms-part"; exit 1; }',
  'oms-export',
  rootfsOf(lxcpath, id),
  tarball,
];

/** Same files, same owners, modes and mtimes => same hash, whatever order the filesystem lists them in. */
export const manifest = (lxcpath: string, id: string): Pipeline => ({
  pipeline: [['tar', '-C', rootfsOf(lxcpath, id), '--sort=name', '--numeric-owner', '-cf', '-', '.'], ['sha256sum']],
});

export const diskUsage = (lxcpath: string, id: string): Argv => ['du', '-sm', '--', ctDir(lxcpath, id)];

export const start = (lxcpath: string, id: string): Argv => ['lxc-start', '-P', lxcpath, '-n', id];
export const waitState = (lxcpath: string, id: string, state: 'RUNNING' | 'STOPPED'): Argv => ['lxc-wait', '-P', lxcpath, '-n', id, '-s', state, '-t', String(START_WAIT_S)];
export const stop = (lxcpath: string, id: string): Argv => ['lxc-stop', '-P', lxcpath, '-n', id, '-t', String(STOP_TIMEOUT_S)];
export const destroy = (lxcpath: string, id: string): Argv => ['lxc-destroy', '-P', lxcpath, '-n', id];
/** Kills the container at once, without asking its init. */
export const kill = (lxcpath: string, id: string): Argv => ['lxc-stop', '-P', lxcpath, '-n', id, '-k'];
export const freeze = (lxcpath: string, id: string): Argv => ['lxc-freeze', '-P', lxcpath, '-n', id];
export const unfreeze = (lxcpath: string, id: string): Argv => ['lxc-unfreeze', '-P', lxcpath, '-n', id];
/** Removes a half-made private area (failed deploy or migration target) that LXC may not know yet. */
export const removePrivateArea = (lxcpath: string, id: string): Argv => ['rm', '-rf', '--one-file-system', '--', ctDir(lxcpath, id)];
export const cgroupSet = (lxcpath: string, id: string, key: string, value: string): Argv => ['lxc-cgroup', '-P', lxcpath, '-n', id, key, value];
export const cgroupGet = (lxcpath: string, id: string, key: string): Argv => ['lxc-cgroup', '-P', lxcpath, '-n', id, key];
export const attach = (lxcpath: string, id: string, argv: readonly string[]): Argv => ['lxc-attach', '-P', lxcpath, '-n', id, '--', ...argv];

/*
 * Files inside the root filesystem are written from inside a chroot (chpasswd -R chroots itself),
 * so the container's own symlinks (an `etc` pointing at the host's /etc) resolve inside it and
 * cannot redirect the write to the node's files.
 */
/**
 * Root's password: hashed on the node (SHA-512 crypt) and written by the node's own chpasswd,
 * which chroots into the root filesystem itself (-R). Pre-hashed (-e) because PAM, which
 * chpasswd uses for clear text, is not configured inside a minimal root filesystem. The
 * password arrives on stdin only, one line.
 */
export const setRootPassword = (lxcpath: string, id: string): Pipeline => ({
  pipeline: [['openssl', 'passwd', '-6', '-stdin'], ['sed', 's/^/root:/'], ['chpasswd', '-e', '-R', rootfsOf(lxcpath, id)]],
});

/**
 * stdin becomes the container's /etc/resolv.conf. The sh run is the container's own: a privileged
 * LXC container is no security boundary against its own root anyway (lxc.container.conf(5)).
 */
export const writeResolvConf = (lxcpath: string, id: string): Argv => ['chroot', rootfsOf(lxcpath, id), 'sh', '-c', 'cat > /etc/resolv.conf'];

/** Several containers' config files in one round trip, each after a `== id` line. */
export const readConfigs = (lxcpath: string, ids: readonly string[]): Argv => [
  'sh',
  '-c',
  'p=$1; shift; for id; do echo "== $id"; cat -- "$p/$id/config" 2>/dev/null; done; exit 0',
  'oms-configs',
  lxcpath,
  ...ids,
];

export const listTemplates = (dir: string): Argv => ['find', dir, '-maxdepth', '1', '-type', 'f', '-name', '*.tar.gz', '-printf', '%f\\n'];
export const fileExists = (path: string): Argv => ['test', '-f', path];
export const readOptional = (path: string): Argv => ['cat', '--', path];
export const makeDir = (dir: string): Argv => ['mkdir', '-p', '--', dir];
export const removeFile = (path: string): Argv => ['rm', '-f', '--', path];
