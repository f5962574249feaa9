/**
 * How kvmservices talks to a node: the node's libvirt URI and directories, and one runner that
 * turns a failed command into a typed error (UnknownVmError naming the guest, libvirt's own
 * message otherwise) instead of a raw exit status.
 */
import { posix } from 'node:path';
import type { Writable } from 'node:stream';
import { defaultNodeDirs, nodeDirs, type NodeDirs } from '../../src/fleet/dirs.ts';
import type { Argv, Command } from '../../src/nodes/command.ts';
import type { ExecResult } from '../../src/nodes/types.ts';
import type { NodeHandle } from '../../src/fleet/access.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { residentVirsh, virsh } from './commands.ts';
import { isNoDomain, isNoNetwork, virshMessage } from './parse.ts';

/**
 * Directories on a node. These are OMS's defaults; they should become per-node settings beside
 * `libvirtUri` (src/fleet/nodes.ts NodeSettings), read here with these as fallbacks.
 */
export const NODE_DIRS = {
  isos: defaultNodeDirs.isos,
  images: defaultNodeDirs.images,
  templates: defaultNodeDirs.templates,
} as const;

export const DEFAULT_LIBVIRT_URI = 'qemu:///system';

/** Every exit status is handed back, so the runner can map failures itself. */
const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);

export interface KvmNode {
  readonly name: string;
  readonly uri: string;
  readonly handle: NodeHandle;
  readonly dirs: Pick<NodeDirs, 'isos' | 'images' | 'templates'>;
  /** libvirt's domain type for the guests OMS defines from scratch: the node setting guestVirtType. */
  readonly virtType: VirtType;
}

export type VirtType = 'kvm' | 'qemu';
const virtTypeOf = (s: NodeHandle['settings']): VirtType => s.guestVirtType ?? 'kvm';

/** A node's KVM view from its handle (`handle` may wrap it, e.g. to tie its commands to a signal). */
export function kvmNodeOf(h: NodeHandle, handle: NodeHandle = h): KvmNode {
  return { name: h.name, uri: h.settings.libvirtUri ?? DEFAULT_LIBVIRT_URI, handle, dirs: nodeDirs(h.settings), virtType: virtTypeOf(h.settings) };
}

export function kvmNode(ctx: CallContext, name: string): KvmNode {
  return kvmNodeOf(ctx.node(name));
}

/**
 * The same node for a task's work: commands are not tied to the HTTP request that started the
 * task (a client that goes away must not cut a disk copy in half); the task's own signal stops them.
 */
export function taskNode(ctx: CallContext, name: string, signal: AbortSignal): KvmNode {
  const h = ctx.app.access.get(name);
  return kvmNodeOf(h, { ...h, exec: (c, o) => h.exec(c, { signal, ...o }) });
}

/** A name checked by its schema, joined below a configured directory. */
export const inDir = (dir: string, name: string): string => posix.join(dir, name);

export interface RunOpts {
  /** The guest the command is about: "no such domain" becomes UnknownVmError naming it. */
  vm?: string;
  network?: string;
  input?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Takes stdout as it comes (progress steps) instead of the result's stdout. */
  stdout?: Writable;
}

/** Runs a command and hands back any exit status. */
export const exec = (n: KvmNode, cmd: Command, o: RunOpts = {}): Promise<ExecResult> =>
  n.handle.exec(cmd, { okExitCodes: ANY_EXIT, input: o.input, timeoutMs: o.timeoutMs, ...(o.signal ? { signal: o.signal } : {}), ...(o.stdout ? { stdout: o.stdout } : {}) });

/**
 * Output of a fixed read-only virsh command (words without program or URI), from the node's
 * resident virsh when it answers cleanly. Anything else it does (could not start, ended, printed
 * an error) falls back to a one-off virsh, which also turns a failure into a typed error; only a
 * timeout is final, as a one-off would wait on the same stuck libvirtd.
 */
export async function virshRead(n: KvmNode, words: readonly string[]): Promise<string> {
  try {
    const out = await n.handle.converse(residentVirsh(n.uri), words);
    if (!/^error: /m.test(out)) return out;
  } catch (e) {
    if (isOmsError(e) && e.omsName === 'FuncMethodTimeoutError') throw e;
  }
  return virshRun(n, virsh(n.uri, ...words));
}

/** Runs virsh; a non-zero exit becomes UnknownVmError / UnknownNetworkError / LibvirtError. */
export async function virshRun(n: KvmNode, cmd: Command, o: RunOpts = {}): Promise<string> {
  const r = await exec(n, cmd, o);
  if (r.code === 0) return r.stdout;
  if (o.vm !== undefined && isNoDomain(r.stderr)) throw oms('UnknownVmError', { vm: o.vm, node: n.name });
  if (o.network !== undefined && isNoNetwork(r.stderr)) throw oms('UnknownNetworkError', { network: o.network, node: n.name });
  throw oms('LibvirtError', { node: n.name, message: virshMessage(r.stderr) });
}

/** Runs a storage command (qemu-img, rm, mkdir, ...); a failure carries the tool's first line. */
export async function storageRun(n: KvmNode, cmd: Command, o: RunOpts = {}): Promise<ExecResult> {
  const r = await exec(n, cmd, o);
  if (r.code === 0) return r;
  const first = r.stderr.split('\n').find((l) => l.trim()) ?? `exit status ${r.code}`;
  throw oms('NodeStorageError', { node: n.name, message: first.trim().slice(0, 300) });
}

/** Runs a node tool (ip); a failure is the transport's NodeCommandError with the tool's stderr. */
export const nodeRun = async (n: KvmNode, cmd: Argv, o: RunOpts = {}): Promise<string> => (await n.handle.exec(cmd, { input: o.input, timeoutMs: o.timeoutMs })).stdout;

/** Whether a command succeeds (exit 0) or not (exit 1); anything else is an error. */
export async function test(n: KvmNode, cmd: Command): Promise<boolean> {
  const r = await exec(n, cmd);
  if (r.code === 0 || r.code === 1) return r.code === 0;
  throw oms('NodeStorageError', { node: n.name, message: r.stderr.trim().split('\n')[0] || `exit status ${r.code}` });
}
