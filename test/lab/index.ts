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

/**
 * Which lab: undefined (or '') is the shared default lab (omsnodeI, 10.213.7.0/24); a name (a
 * lower-case letter and up to 3 letters or digits) is another lab beside it (omsNAMEnI, its own
 * /20, state and namespaces; lab.sh's LAB_INSTANCE). See README.md, "Instances".
 */
export interface LabInstance {
  instance?: string;
}

export interface LabUpOptions extends LabInstance {
  /** Number of nodes, 1..50 (default 3); up to 1000 light nodes in another instance. */
  nodes?: number;
  /** All nodes light: namespaces + sshd only, no libvirtd/LXC/LVM. */
  light?: boolean;
  /** How many of the first nodes are full when not light (default 3). */
  full?: number;
  /** Public key file to authorize on every node instead of a generated lab key. */
  authorizedKey?: string;
  /** Show lab.sh progress on this process's stderr (default: only on failure). */
  verbose?: boolean;
  /** Light nodes made at once (lab.sh LAB_PARALLEL); another instance's default is 4 per CPU. */
  parallel?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

const LAB_SH = fileURLToPath(new URL('./lab.sh', import.meta.url));
const INSTANCE = /^[a-z][a-z0-9]{0,3}$/;
/** The instance a node belongs to, from its name (omsnodeI: the default; omsNAMEnI: NAME). */
export function instanceOf(node: string): string | undefined {
  return /^oms([a-z][a-z0-9]{0,3})n\d+$/.exec(node)?.[1];
}
const checkInstance = (instance: string | undefined): string | undefined => {
  if (instance === undefined || instance === '') return undefined;
  if (!INSTANCE.test(instance)) throw new Error(`bad lab instance: ${instance}`);
  return instance;
};
const labRoot = (instance?: string): string => (instance ? `/var/lib/oms-lab-${instance}` : '/var/lib/oms-lab');
const nsRoot = (instance?: string): string => (instance ? `/run/oms-lab-${instance}` : '/run/oms-lab');
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
function runLab(args: string[], opts: { verbose?: boolean; allowFail?: boolean; instance?: string; parallel?: number } = {}): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LAB_INSTANCE: checkInstance(opts.instance) ?? '' };
    if (opts.parallel !== undefined) env.LAB_PARALLEL = String(opts.parallel);
    const child = spawn('bash', [LAB_SH, ...args], {
      env,
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
  const { stdout } = await runLab(args, { verbose: opts.verbose, instance: opts.instance, parallel: opts.parallel });
  return JSON.parse(stdout) as Lab;
}

export async function labDown(opts: { verbose?: boolean } & LabInstance = {}): Promise<void> {
  await runLab(['down'], opts);
}

/** The running lab, or null when it is not up. */
export async function labStatus(opts: LabInstance = {}): Promise<Lab | null> {
  const { stdout, code } = await runLab(['status'], { allowFail: true, instance: opts.instance });
  return code === 0 ? (JSON.parse(stdout) as Lab) : null;
}

/** What the nodes' listening sshds take (lab.sh mem): RSS counts shared pages per node, PSS shares them out. */
export async function labMemory(opts: LabInstance = {}): Promise<{ nodes: number; sshdRssKiBPerNode: number; sshdPssKiBPerNode: number }> {
  const { stdout } = await runLab(['mem'], { instance: opts.instance });
  return JSON.parse(stdout);
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
  const ns = nsRoot(instanceOf(name));
  const args = [
    `--net=/run/netns/${name}`,
    `--uts=${ns}/${name}.uts`,
    `--mount=${ns}/${name}.mnt`,
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
  const dir = join(typeof node === 'string' ? join(labRoot(instanceOf(name)), name) : node.stateDir, 'node', 'canary');
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
  const name = nodeName(node);
  await runLab(['sshd-stop', name], { instance: instanceOf(name) });
}

/** (Re)starts the node's sshd, with the same host key; resolves once it answers. */
export async function startSshd(node: LabNode | string): Promise<void> {
  const name = nodeName(node);
  await runLab(['sshd-start', name], { instance: instanceOf(name) });
}

/** The host end of node omsnodeI's veth on the lab bridge (lab.sh: VETH_PREFIX + index). */
/** The host end of a node's veth: omslabv<i> in the default lab, oms<instance>v<i> in an instance (lab.sh). */
function vethOf(node: LabNode | string): string {
  const name = nodeName(node);
  const m = /^omsnode([1-9][0-9]{0,2})$/.exec(name);
  if (m) return `omslabv${m[1]}`;
  const i = /^oms([a-z][a-z0-9]{0,3})n([1-9][0-9]{0,3})$/.exec(name);
  if (!i) throw new Error(`not a lab node name: ${name}`);
  return `oms${i[1]}v${i[2]}`;
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
  const { stdout } = await runLab(['rotate-hostkey', name], { instance: instanceOf(name) });
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
