/**
 * What kvmservices runs on a node: argv builders only. Pure: no I/O, no state.
 *
 * Every name here was checked by a strict schema (src/rpc/fields.ts, ./fields.ts) before the
 * builder is called; paths are joined from a configured directory and such a name, so they cannot
 * leave the directory. Options come before `--`-free positional names, which cannot start with '-'.
 */
import type { Argv } from '../../src/nodes/command.ts';
import type { ResidentSpec } from '../../src/nodes/resident.ts';

/** `virsh -c URI ...`: every libvirt call names its connection explicitly. */
export const virsh = (uri: string, ...args: string[]): Argv => ['virsh', '-q', '-c', uri, ...args];

/**
 * Everything list_vms / list_vms_status need, for every guest, in one command. `--nowait`: a guest
 * whose QEMU is busy with an operation (a suspend its monitor has not answered) would otherwise
 * hold the whole listing for libvirt's 30 s job wait; it is listed with the stats that need no
 * monitor (state, CPU time, balloon size, vCPUs are among them).
 */
export const DOMSTATS_ALL = ['domstats', '--raw', '--nowait', '--state', '--cpu-total', '--balloon', '--vcpu'] as const;
/** With block and interface counters too (runtime info, list_vms' df stat). */
export const DOMSTATS_FULL = [...DOMSTATS_ALL, '--block', '--interface'] as const;
export const domstatsAll = (uri: string): Argv => virsh(uri, ...DOMSTATS_ALL);
export const domstatsFull = (uri: string, vm?: string): Argv => virsh(uri, ...DOMSTATS_FULL, ...(vm ? [vm] : []));

/**
 * A virsh that stays running per node and URI (src/nodes/resident.ts) for the hot read-only
 * listings: a command in it costs a libvirt call, not a virsh start-up and connect. It gets the
 * fixed words above only, never a caller's name.
 */
export const residentVirsh = (uri: string): ResidentSpec => ({ key: JSON.stringify(['virsh', uri]), argv: virsh(uri), echo: (marker) => ['echo', marker], idleMs: 60_000 });

export const nodeinfo = (uri: string): Argv => virsh(uri, 'nodeinfo');
export const dominfo = (uri: string, vm: string): Argv => virsh(uri, 'dominfo', vm);
export const domstate = (uri: string, vm: string): Argv => virsh(uri, 'domstate', vm);
/** With libvirt's reason in parentheses: `paused (starting up)` (the state model reads it). */
export const domstateReason = (uri: string, vm: string): Argv => virsh(uri, 'domstate', '--reason', vm);
export const dumpxml = (uri: string, vm: string, inactive = false): Argv => virsh(uri, 'dumpxml', ...(inactive ? ['--inactive'] : []), vm);
/** The XML goes in on stdin: nothing of it is ever part of a command line. */
export const defineStdin = (uri: string): Argv => virsh(uri, 'define', '/dev/stdin');
/**
 * Starts a domain from XML on stdin. Given the name and UUID of a defined, stopped guest, libvirt
 * runs this XML as the live definition and keeps the persistent one (a network install's boot).
 */
export const createStdin = (uri: string): Argv => virsh(uri, 'create', '/dev/stdin');

/** Start without running an instruction: set_vm_state PAUSED from STOPPED. */
export const startPaused = (uri: string, vm: string): Argv => virsh(uri, 'start', '--paused', vm);
/** With the VNC/SPICE passwords libvirt leaves out otherwise; read only to learn whether one is set. */
export const dumpxmlSecure = (uri: string, vm: string): Argv => virsh(uri, 'dumpxml', '--inactive', '--security-info', vm);
/** Names of every defined guest, one a line. */
export const listNames = (uri: string): Argv => virsh(uri, 'list', '--all', '--name');

export type PowerVerb = 'start' | 'destroy' | 'shutdown' | 'reboot' | 'reset' | 'suspend' | 'resume';
export const power = (uri: string, verb: PowerVerb, vm: string): Argv => virsh(uri, verb, vm);

/**
 * undefine also drops managed-save images, snapshot metadata and a UEFI guest's NVRAM (variable
 * store) file, each of which would otherwise refuse it; --nvram is a no-op for a BIOS guest.
 */
export const undefine = (uri: string, vm: string): Argv => virsh(uri, 'undefine', '--managed-save', '--snapshots-metadata', '--nvram', vm);

export const setVcpusMax = (uri: string, vm: string, n: number): Argv => virsh(uri, 'setvcpus', vm, String(n), '--config', '--maximum');
export const setVcpus = (uri: string, vm: string, n: number): Argv => virsh(uri, 'setvcpus', vm, String(n), '--config');
export const setMaxMem = (uri: string, vm: string, mib: number): Argv => virsh(uri, 'setmaxmem', vm, `${mib}M`, '--config');
export const setMem = (uri: string, vm: string, mib: number): Argv => virsh(uri, 'setmem', vm, `${mib}M`, '--config');
export const domrename = (uri: string, vm: string, newName: string): Argv => virsh(uri, 'domrename', vm, newName);
export const autostart = (uri: string, vm: string, on: boolean): Argv => virsh(uri, 'autostart', ...(on ? [] : ['--disable']), vm);

export const attachDeviceStdin = (uri: string, vm: string, live: boolean): Argv => virsh(uri, 'attach-device', vm, '/dev/stdin', '--config', ...(live ? ['--live'] : []));
export const detachDeviceStdin = (uri: string, vm: string, live: boolean): Argv => virsh(uri, 'detach-device', vm, '/dev/stdin', '--config', ...(live ? ['--live'] : []));

export const netList = (uri: string): Argv => virsh(uri, 'net-list', '--all');
export const netDefineStdin = (uri: string): Argv => virsh(uri, 'net-define', '/dev/stdin');
export const netStart = (uri: string, net: string): Argv => virsh(uri, 'net-start', net);
export const netAutostart = (uri: string, net: string): Argv => virsh(uri, 'net-autostart', net);
export const netDestroy = (uri: string, net: string): Argv => virsh(uri, 'net-destroy', net);
export const netUndefine = (uri: string, net: string): Argv => virsh(uri, 'net-undefine', net);
export const netDumpxml = (uri: string, net: string): Argv => virsh(uri, 'net-dumpxml', net);

/** A guest's addresses as libvirt knows them from a source (`lease`: its dnsmasq leases; `agent`: the guest agent). */
export const domifaddr = (uri: string, vm: string, source: 'lease' | 'arp' | 'agent'): Argv => virsh(uri, 'domifaddr', vm, '--source', source, '--full');
export const listAllNames = (uri: string): Argv => virsh(uri, 'list', '--all', '--name');

/** The node's neighbour (ARP/NDP) table, IPv4 routes and addresses, as JSON. */
export const ipNeigh: Argv = ['ip', '-j', 'neigh', 'show'];
export const ipRoutes4: Argv = ['ip', '-j', '-4', 'route', 'show'];
export const ipAddrs4: Argv = ['ip', '-j', '-4', 'addr', 'show'];
/** Whether a network interface of that name exists on the node (bridge, tap, NIC, ...). */
export const interfaceExists = (name: string): Argv => ['test', '-e', `/sys/class/net/${name}`];

/**
 * Where libvirt's system QEMU driver keeps a running guest's PID (`qemu:///system` only), and the
 * two /proc files its start time is read from: boot time, then the process's own line.
 */
export const qemuPidFile = (vm: string): string => `/run/libvirt/qemu/${vm}.pid`;
export const procStart = (pid: number): Argv => ['cat', '--', '/proc/stat', `/proc/${pid}/stat`];

/** qemu-img create: size in MiB. */
export const imgCreate = (path: string, format: string, mib: number): Argv => ['qemu-img', 'create', '-q', '-f', format, path, `${mib}M`];
/** `-U`: read the header of an image a running guest holds, without its write lock. */
export const imgInfo = (path: string): Argv => ['qemu-img', 'info', '-U', '--output=json', path];
/**
 * Full copy (no backing chain), so the copy outlives its source. `-p`: qemu-img prints its progress
 * steps on stdout even when it is not a terminal (read by progress.ts).
 */
export const imgConvert = (from: string, to: string, format: string): Argv => ['qemu-img', 'convert', '-p', '-O', format, from, to];

/** `-maxdepth`-bounded listing, one `TYPE RELPATH` line per entry. */
export const listDir = (dir: string, depth = 1): Argv => ['find', dir, '-mindepth', '1', '-maxdepth', String(depth), '-printf', '%y %P\\n'];
/** Fails (exit 1) if the path exists already: `-e` refuses, so nothing is overwritten. */
export const notExists = (path: string): Argv => ['test', '!', '-e', path];
export const removeFile = (path: string): Argv => ['rm', '-f', '--', path];
export const removeDir = (path: string): Argv => ['rm', '-rf', '--', path];
export const makeDir = (path: string): Argv => ['mkdir', '--', path];
export const readFile = (path: string): Argv => ['cat', '--', path];
/** Writes stdin to a file; tee's copy on stdout is discarded by the caller. */
export const writeFile = (path: string): Argv => ['tee', '--', path];
/** Whether a Linux bridge of that name exists (its sysfs `bridge` directory). */
export const isBridge = (name: string): Argv => ['test', '-d', `/sys/class/net/${name}/bridge`];
/** A block device path must name a block device. */
export const isBlockDevice = (path: string): Argv => ['test', '-b', path];
