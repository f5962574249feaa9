// OMS test lab, for tests: bring the lab up and down, run commands inside a node, and inject
// faults (sshd killed, host key changed, link cut). See README.md beside this file.
//
// Everything here needs root (as lab.sh does). Only Node 20 built-ins are used.

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LabNode {
  /** Node name, also its hostname and its network namespace name (e.g. "omsnode1"). */
  name: string;
  /** Address on the lab bridge, reachable from the host (e.g. "10.213.7.11"). */
  address: string;
  port: number;
  /** "SHA256:..." as printed by ssh-keygen -l. */
  hostKeyFingerprint: string;
  /** "ssh-ed25519 AAAA..." (type and key, no comment). */
  hostKeyPublic: string;
  /** Host path of the node's state; stateDir/node is what the node sees as /var/lib/oms-node. */
  stateDir: string;
  /** The node runs its own libvirtd (qemu:///system) and LXC. */
  libvirt: boolean;
  /** The node's LVM volume group (full nodes only). */
  lvm?: { vg: string };
  /** Network namespace name (ip netns). */
  netns: string;
  /** Full nodes have LXC set up (lxc-create -t busybox works). */
  lxc?: boolean;
  hostname?: string;
  /** Host path of root's authorized_keys inside the node (the node's /root/.ssh/authorized_keys). */
  authorizedKeysFile?: string;
  /** Directories inside the node. */
  dirs?: { isos: string; images: string; templates: string; canary: string };
}

export interface Lab {
  nodes: LabNode[];
  /** Private key the lab generated and authorized (absent when --authorized-key was given). */
  privateKey?: string;
  bridge: string;
  hostAddress: string;
  /** OpenSSH known_hosts file with every node's host key, by address. */
  knownHosts?: string;
  /** OpenSSH client config with a Host entry per node name: `ssh -F <sshConfig> omsnode1`. */
  sshConfig?: string;
}

export interface LabUpOptions {
  /** Number of nodes, 1..50 (default 3). */
  nodes?: number;
  /** All nodes light: namespaces + sshd only, no libvirtd/LXC/LVM. */
  light?: boolean;
  /** How many of the first nodes are full when not light (default 3). */
  full?: number;
  /** Public key file to authorize on every node instead of a generated lab key. */
  authorizedKey?: string;
  /** Show lab.sh progress on this process's stderr (default: only on failure). */
  verbose?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

const LAB_SH = fileURLToPath(new URL('./lab.sh', import.meta.url));
const LAB_ROOT = '/var/lib/oms-lab';
const NS_ROOT = '/run/oms-lab';
const NSENTER = '/usr/bin/nsenter';
/** The environment an SSH session on a node gets (sshd's default for root, plus a locale). */
const NODE_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  USER: 'root',
  LOGNAME: 'root',
};

function nodeName(node: LabNode | string): string {
  const name = typeof node === 'string' ? node : node.name;
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) throw new Error(`bad lab node name: ${name}`);
  return name;
}

/** Runs lab.sh; resolves with its stdout, rejects with its stderr tail on a non-zero exit. */
function runLab(args: string[], opts: { verbose?: boolean; allowFail?: boolean } = {}): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [LAB_SH, ...args], {
      stdio: ['ignore', 'pipe', opts.verbose ? 'inherit' : 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const rc = code ?? 128;
      if (rc === 0 || opts.allowFail) {
        resolve({ stdout, code: rc });
        return;
      }
      const tail = Buffer.concat(err).toString('utf8').split('\n').slice(-30).join('\n');
      reject(new Error(`lab.sh ${args.join(' ')} failed (${signal ?? rc}):\n${tail}`));
    });
  });
}

export async function labUp(opts: LabUpOptions = {}): Promise<Lab> {
  const args = ['up'];
  if (opts.nodes !== undefined) args.push('--nodes', String(opts.nodes));
  if (opts.light) args.push('--light');
  if (opts.full !== undefined) args.push('--full', String(opts.full));
  if (opts.authorizedKey !== undefined) args.push('--authorized-key', opts.authorizedKey);
  const { stdout } = await runLab(args, { verbose: opts.verbose });
  return JSON.parse(stdout) as Lab;
}

export async function labDown(opts: { verbose?: boolean } = {}): Promise<void> {
  await runLab(['down'], opts);
}

/** The running lab, or null when it is not up. */
export async function labStatus(): Promise<Lab | null> {
  const { stdout, code } = await runLab(['status'], { allowFail: true });
  return code === 0 ? (JSON.parse(stdout) as Lab) : null;
}

/**
 * Runs argv inside the node's network, UTS and mount namespaces (those its sshd runs in),
 * without a shell, with the environment an SSH session would get. Never rejects for a non-zero
 * exit: look at `code`.
 */
export function nodeExec(
  node: LabNode | string,
  argv: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  const name = nodeName(node);
  if (argv.length === 0) return Promise.reject(new Error('nodeExec: empty argv'));
  const args = [
    `--net=/run/netns/${name}`,
    `--uts=${NS_ROOT}/${name}.uts`,
    `--mount=${NS_ROOT}/${name}.mnt`,
    '--',
    ...argv,
  ];
  return new Promise((resolve, reject) => {
    const child = execFile(
      NSENTER,
      args,
      { env: NODE_ENV, maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(error);
          return;
        }
        resolve({ stdout, stderr, code: error ? (error.code as number) : 0 });
      },
    );
    // A command may exit without reading its input; that is not an error of ours.
    child.stdin?.on('error', () => {});
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/**
 * Fingerprint of the node's canary directory (names, sizes, mtimes in ns, content hashes).
 * Equal before and after a call proves the call did not touch it.
 */
export async function canary(node: LabNode | string): Promise<string> {
  const name = nodeName(node);
  const dir = join(typeof node === 'string' ? join(LAB_ROOT, name) : node.stateDir, 'node', 'canary');
  const entries = (await readdir(dir)).sort();
  const parts: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry);
    const st = await stat(path, { bigint: true });
    let digest = '-';
    if (st.isFile()) digest = createHash('sha256').update(await readFile(path)).digest('hex');
    parts.push(`${entry}:${st.size}:${st.mtimeNs}:${digest}`);
  }
  return parts.join('\n');
}

/** Kills the node's sshd: the listener and every open SSH connection (they drop at once). */
export async function killSshd(node: LabNode | string): Promise<void> {
  await runLab(['sshd-stop', nodeName(node)]);
}

/** (Re)starts the node's sshd, with the same host key; resolves once it answers. */
export async function startSshd(node: LabNode | string): Promise<void> {
  await runLab(['sshd-start', nodeName(node)]);
}

/** The host end of node omsnodeI's veth on the lab bridge (lab.sh: VETH_PREFIX + index). */
function vethOf(node: LabNode | string): string {
  const m = /^omsnode([1-9][0-9]{0,2})$/.exec(nodeName(node));
  if (!m) throw new Error(`not a lab node name: ${nodeName(node)}`);
  return `omslabv${m[1]}`;
}

function ipLink(args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('ip', ['link', 'set', ...args], (error, _stdout, stderr) => (error ? reject(new Error(`ip link set ${args.join(' ')}: ${stderr}`)) : resolve())),
  );
}

/**
 * Cuts the node's link to the lab bridge (its veth's host end down): packets to and from it are
 * lost, open connections hang rather than close, as a pulled cable or a dead switch port does.
 * The node itself keeps running. Undo with restoreLink.
 */
export async function cutLink(node: LabNode | string): Promise<void> {
  await ipLink([vethOf(node), 'down']);
}

/** Puts the node's link back (and on the lab bridge, where the veth stays while down). */
export async function restoreLink(node: LabNode | string): Promise<void> {
  await ipLink([vethOf(node), 'up']);
}

/** Gives the node a new host key and restarts its sshd; resolves with the updated node. */
export async function rotateHostKey(node: LabNode | string): Promise<LabNode> {
  const name = nodeName(node);
  const { stdout } = await runLab(['rotate-hostkey', name]);
  const lab = JSON.parse(stdout) as Lab;
  const updated = lab.nodes.find((n) => n.name === name);
  if (!updated) throw new Error(`rotate-hostkey: node ${name} missing from lab JSON`);
  return updated;
}

/** known_hosts line pinning one node's current host key. */
export function knownHostsLine(node: LabNode): string {
  return node.port === 22
    ? `${node.address} ${node.hostKeyPublic}`
    : `[${node.address}]:${node.port} ${node.hostKeyPublic}`;
}
