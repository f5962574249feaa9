/**
 * Fan-out (issue 13): the same one-line command on every lab node (20 on a full bench run)
 *  - through the gateway: one JSON-RPC 2.0 batch of `statsservices.get_stats` (memory, uptime,
 *    kernel, osrelease: one exec per node) per 100 nodes, over keep-alive connections;
 *  - `ansible all -m raw -a LINE`, with its default ssh multiplexing (ControlPersist: after the
 *    warm-up run its connections are warm too, as they are for an admin running it again);
 *  - `parallel-ssh -i LINE` (a fresh ssh per node, as it always does).
 * ansible and parallel-ssh use the lab's own ssh config, key and known_hosts with host key
 * checking on; their inventory and state live in a temp dir; forks = node count (at most 100).
 * Target: the gateway at least 10x faster than ansible.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../test/lab/index.ts';
import { shellLine } from '../src/nodes/command.ts';
import { procSnapshotCommand, type StatName } from '../services/statsservices/commands.ts';
import { against, gatewayOn, ratio, sideBySide, type BenchGateway, type BenchOptions } from './lib.ts';
import { needPeers, peers } from './peers.ts';

const STATS: StatName[] = ['memory', 'uptime', 'kernel', 'osrelease'];

/** Runs a program to its end; resolves with its exit code and output (the caller judges them). */
function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      if (typeof code !== 'number') return reject(new Error(`${file}: ${err!.message}`));
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Checks that every node answered: `ok` picks the lines of nodes that did; any other line (an
 * unreachable node, a changed host key) goes into the error, with the program's stderr.
 */
function allAnswered(what: string, nodes: number, r: { code: number; stdout: string; stderr: string }, ok: RegExp, why = /\S/): void {
  const lines = r.stdout.split('\n');
  const good = lines.filter((l) => ok.test(l)).length;
  if (r.code === 0 && good === nodes) return;
  const other = lines.filter((l) => why.test(l) && !ok.test(l)).map((l) => l.slice(0, 300));
  throw new Error(`${what}: ${good} of ${nodes} nodes answered (exit ${r.code}):\n${[...other, r.stderr.trim()].filter(Boolean).slice(-15).join('\n')}`);
}

/** POSTs one body to the gateway's /jsonrpc over a keep-alive agent; resolves with the parsed answer. */
function postJson(agent: Agent, url: string, body: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/jsonrpc`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function benchFanout(lab: Lab, out: (line: string) => void, opts: BenchOptions): Promise<void> {
  await needPeers([peers.ansible, peers.parallelSsh], out);
  const nodes = lab.nodes.slice(0, 100);
  const b = await gatewayOn(lab, nodes);
  try {
    await compareFanout(lab, nodes, b, out, { rounds: opts.quick ? 2 : 5 });
  } finally {
    await b.stop();
  }
}

export interface FanoutFigures {
  gatewayMs: number;
  ansibleMs: number;
  psshMs: number;
}

/**
 * The fan-out row on `nodes` (already enrolled in the gateway `b`): medians of `rounds` runs of
 * each contender after one warm-up run of each, printed with the ratios and the 10x target.
 */
export async function compareFanout(lab: Lab, nodes: Lab['nodes'], b: BenchGateway, out: (line: string) => void, opts: { rounds: number; label?: string }): Promise<FanoutFigures> {
  if (!lab.sshConfig || !lab.privateKey || !lab.knownHosts) throw new Error('the lab has no ssh config, key or known_hosts of its own');
  const forks = String(Math.min(nodes.length, 100));
  const rounds = opts.rounds;
  const line = shellLine(procSnapshotCommand(STATS)!);

  const dir = mkdtempSync(join(tmpdir(), 'oms-bench-fanout-'));
  const controls = join(dir, 'cp');
  mkdirSync(controls);
  writeFileSync(join(dir, 'hosts.ini'), `[lab]\n${nodes.map((n) => n.name).join('\n')}\n`);
  writeFileSync(join(dir, 'pssh-hosts'), `${nodes.map((n) => n.name).join('\n')}\n`);
  // Only this file configures ansible (ANSIBLE_CONFIG), so nothing of the machine's own setup counts.
  writeFileSync(
    join(dir, 'ansible.cfg'),
    [
      '[defaults]',
      `inventory = ${join(dir, 'hosts.ini')}`,
      `forks = ${forks}`,
      'host_key_checking = True',
      'remote_user = root',
      `private_key_file = ${lab.privateKey}`,
      `local_tmp = ${join(dir, 'local-tmp')}`,
      '',
      '[ssh_connection]',
      // ansible's default ssh_args, plus the lab's ssh config (HostName, key, known_hosts, StrictHostKeyChecking yes).
      `ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -F ${lab.sshConfig} -o UserKnownHostsFile=${lab.knownHosts} -o StrictHostKeyChecking=yes`,
      `control_path_dir = ${controls}`,
      '',
    ].join('\n'),
  );
  const ansibleEnv = { ...process.env, ANSIBLE_CONFIG: join(dir, 'ansible.cfg'), ANSIBLE_HOME: join(dir, 'ansible-home'), ANSIBLE_NOCOLOR: '1' };

  // A JSON-RPC batch holds at most 100 calls (the gateway's bound): past 100 nodes, one batch
  // per 100 nodes, sent at once over as many keep-alive connections.
  const chunks: Lab['nodes'][] = [];
  for (let i = 0; i < nodes.length; i += 100) chunks.push(nodes.slice(i, i + 100));
  const agent = new Agent({ keepAlive: true, maxSockets: chunks.length });
  try {
    const batches = chunks.map((c) => JSON.stringify(c.map((n, i) => ({ jsonrpc: '2.0', id: i, method: 'statsservices.get_stats', params: [b.sid, 0, n.name, ...STATS] }))));
    const viaGateway = async () => {
      const all = await Promise.all(batches.map((batch) => postJson(agent, b.gw.url, batch)));
      all.forEach((answers: { id: number; error?: unknown; result?: unknown }[], k) => {
        const bad = Array.isArray(answers) ? answers.filter((a) => a.error || a.result === undefined) : [answers];
        if (!Array.isArray(answers) || answers.length !== chunks[k].length || bad.length) throw new Error(`JSON-RPC batch: ${JSON.stringify(bad[0] ?? answers).slice(0, 300)}`);
      });
    };
    // One line per node (-o), so a failure names the node and says why.
    const viaAnsible = async () => allAnswered('ansible', nodes.length, await run('ansible', ['all', '-o', '-m', 'raw', '-a', line, '-f', forks], ansibleEnv), /^\S+ \| CHANGED \| rc=0 \|/);
    // -i: a [SUCCESS]/[FAILURE] line per node, then its output; a failed node's ssh says why under `Stderr:`.
    const viaPssh = async () =>
      allAnswered('parallel-ssh', nodes.length, await run('parallel-ssh', ['-h', join(dir, 'pssh-hosts'), '-p', forks, '-t', '60', '-x', `-F ${lab.sshConfig}`, '-i', line]), /\[SUCCESS\] \S+$/, /\[FAILURE\]|^Stderr:|host key|verification failed/i);
    // Warm-up: the gateway's node connections, ansible's control masters, the page cache.
    await viaGateway();
    await viaAnsible();
    await viaPssh();
    const m = await sideBySide(rounds, { gateway: viaGateway, ansible: viaAnsible, pssh: viaPssh });
    out(
      `${opts.label ?? ''}one command on ${nodes.length} nodes (get_stats ${STATS.join(',')} / the same line), medians of ${rounds}: ` +
        `gateway JSON-RPC batch ${m.gateway.toFixed(1)} ms, ansible -m raw (-f ${forks}) ${m.ansible.toFixed(0)} ms, parallel-ssh (-p ${forks}) ${m.pssh.toFixed(0)} ms`,
    );
    out(`${opts.label ?? ''}ratio ansible/gateway: ${against(m.ansible / m.gateway, { op: '>=', value: 10 }, 1)}`);
    out(`${opts.label ?? ''}ratio parallel-ssh/gateway: ${ratio(m.pssh, m.gateway)}`);
    return { gatewayMs: m.gateway, ansibleMs: m.ansible, psshMs: m.pssh };
  } finally {
    agent.destroy();
    // ansible's ControlPersist masters would outlive the run by 60 s: end each through its socket.
    for (const sock of readdirSync(controls)) await run('ssh', ['-o', `ControlPath=${join(controls, sock)}`, '-O', 'exit', 'oms-bench']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
