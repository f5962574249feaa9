// Self-test of the lab: brings it up for real, checks every promise README.md makes over SSH
// (pinned host keys) and through nodeExec, tears it down and checks nothing is left.
//
//   npx tsx test/lab/selftest.ts [--quick]      (root; ~1-2 min; --quick skips the 20-node run)
//
// Prints one line per check and ends with "N passed, N failed".

import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canary, killSshd, knownHostsLine, labDown, labStatus, labUp, nodeExec, rotateHostKey, startSshd,
  type Lab, type LabNode,
} from './index.ts';

let passed = 0;
let failed = 0;
const quick = process.argv.includes('--quick');

function check(name: string, ok: boolean, detail = ''): void {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
}

function run(cmd: string, args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { maxBuffer: 16 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 255) : 0 });
    });
    child.stdin?.on('error', () => {});
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

let tmp = '';
async function ssh(lab: Lab, node: LabNode, command: string, input?: string, pin?: string) {
  const kh = join(tmp, `kh-${node.name}-${Math.random().toString(36).slice(2)}`);
  await writeFile(kh, `${pin ?? knownHostsLine(node)}\n`);
  return run('ssh', [
    '-i', lab.privateKey!, '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${kh}`,
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', '-p', String(node.port),
    `root@${node.address}`, command,
  ], input);
}

const VM_XML = `<domain type='kvm'>
  <name>labvm</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    <interface type='bridge'><source bridge='lxcbr0'/><model type='virtio'/></interface>
  </devices>
</domain>
`;

/** PSS (KiB) of all processes in the node's netns. */
async function nodePssKiB(node: LabNode): Promise<number> {
  const want = (await run('stat', ['-L', '-c', '%i', `/run/netns/${node.netns}`])).stdout.trim();
  let total = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if ((await readlink(`/proc/${pid}/ns/net`)) !== `net:[${want}]`) continue;
      const roll = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
      total += Number(/^Pss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
    } catch { /* process gone */ }
  }
  return total;
}

async function leftovers(): Promise<string[]> {
  const found: string[] = [];
  const netns = (await run('ip', ['netns', 'list'])).stdout.trim();
  if (/omsnode/.test(netns)) found.push(`netns: ${netns}`);
  const links = (await run('ip', ['-o', 'link'])).stdout.split('\n').filter((l) => /omslab|labp/.test(l));
  if (links.length) found.push(`links: ${links.join('; ')}`);
  const loops = (await run('losetup', ['-a'])).stdout.split('\n').filter((l) => l.includes('oms-lab'));
  if (loops.length) found.push(`loops: ${loops.join('; ')}`);
  const ps = (await run('ps', ['-eo', 'pid,stat,args'])).stdout.split('\n')
    .filter((l) => /oms-lab|libvirtd|virtlogd|qemu-system|lxc-start|omsnode/.test(l) && !/ Z/.test(l));
  if (ps.length) found.push(`processes: ${ps.join('; ')}`);
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => /oms-lab|oms-node/.test(l));
  if (mounts.length) found.push(`mounts: ${mounts.join('; ')}`);
  const cg = (await run('find', ['/sys/fs/cgroup', '-maxdepth', '4', '-name', 'oms-lab'])).stdout.trim();
  if (cg) found.push(`cgroups: ${cg}`);
  const dirs = (await run('ls', ['-d', '/var/lib/oms-lab', '/var/lib/oms-node', '/run/oms-lab'])).stdout.trim();
  if (dirs) found.push(`dirs: ${dirs}`);
  return found;
}

async function fullNodeChecks(lab: Lab): Promise<void> {
  const full = lab.nodes.filter((n) => n.libvirt);
  const before = await Promise.all(lab.nodes.map((n) => canary(n)));

  // Identity: hostname and routes differ per node, over SSH with a pinned host key.
  const hostnames = new Set<string>();
  const routes = new Set<string>();
  const bridges = new Set<string>();
  for (const n of lab.nodes) {
    const r = await ssh(lab, n, 'hostname; ip -j route; bridge -j link');
    check(`${n.name}: ssh with pinned host key`, r.code === 0, r.stderr.trim());
    const [host, route, bridge] = r.stdout.split('\n');
    hostnames.add(host);
    routes.add(route);
    bridges.add(bridge);
    check(`${n.name}: hostname is its name`, host === n.name, host);
    const wrongPin = await ssh(lab, n, 'true', undefined,
      `${n.address} ${lab.nodes.find((o) => o !== n)?.hostKeyPublic ?? 'ssh-ed25519 AAAA'}`);
    check(`${n.name}: a wrong pinned key is refused`, wrongPin.code !== 0);
  }
  check('hostnames differ', hostnames.size === lab.nodes.length);
  check('ip -j route differs', routes.size === lab.nodes.length);
  check('bridge -j link differs', bridges.size === lab.nodes.length);

  // libvirt: one node's guest is invisible on the others; then the whole lifecycle everywhere.
  if (full.length >= 2) {
    const [a, b] = full;
    const def = await ssh(lab, a, 'virsh -c qemu:///system define /dev/stdin', VM_XML);
    check(`${a.name}: virsh define`, def.code === 0, def.stderr.trim());
    const seen = await nodeExec(b, ['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']);
    check(`${b.name}: does not see ${a.name}'s guest`, seen.code === 0 && !seen.stdout.includes('labvm'), seen.stdout.trim());
    await ssh(lab, a, 'virsh -c qemu:///system undefine labvm');
  }
  for (const n of full) {
    const t0 = Date.now();
    const steps = [
      'virsh -c qemu:///system define /dev/stdin >/dev/null',
      'virsh -c qemu:///system start labvm >/dev/null',
      'test "$(virsh -c qemu:///system domstate labvm)" = running',
      'virsh -c qemu:///system suspend labvm >/dev/null',
      'test "$(virsh -c qemu:///system domstate labvm)" = paused',
      'virsh -c qemu:///system resume labvm >/dev/null',
      'test "$(virsh -c qemu:///system domstate labvm)" = running',
    ].join(' && ');
    const r = await ssh(lab, n, steps, VM_XML);
    check(`${n.name}: kvm guest define/start/pause/resume over ssh`, r.code === 0, r.stderr.trim());
    const list = await nodeExec(n, ['virsh', '-c', 'qemu:///system', 'list', '--name']);
    check(`${n.name}: nodeExec virsh list shows the guest`, list.stdout.includes('labvm'), list.stdout.trim());
    const disp = (await nodeExec(n, ['virsh', '-c', 'qemu:///system', 'vncdisplay', 'labvm'])).stdout.trim();
    const port = 5900 + Number(disp.split(':').pop());
    const rfb = await nodeExec(n, ['python3', '-c',
      'import socket,sys; s=socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5); print(s.recv(12).decode())',
      String(port)]);
    check(`${n.name}: VNC answers RFB 003.008 on ${disp}`, rfb.stdout.trim() === 'RFB 003.008', rfb.stdout.trim() + rfb.stderr.trim());
    const d = await ssh(lab, n, 'virsh -c qemu:///system destroy labvm >/dev/null && virsh -c qemu:///system undefine labvm >/dev/null');
    check(`${n.name}: virsh destroy/undefine (${Date.now() - t0} ms total)`, d.code === 0, d.stderr.trim());
  }

  // LXC
  for (const n of full) {
    const r = await ssh(lab, n, [
      'lxc-create -q -t busybox -n labct',
      'lxc-start -n labct',
      'lxc-wait -n labct -s RUNNING -t 10',
      'lxc-attach -n labct -- hostname',
      'lxc-stop -k -n labct',
      'lxc-destroy -q -n labct',
    ].join(' && '));
    check(`${n.name}: lxc busybox create/start/attach/destroy`, r.code === 0 && r.stdout.trim() === 'labct', (r.stdout + r.stderr).trim());
  }

  // LVM (metadata only; activation is off in the node's lvm config)
  for (const n of full) {
    const vg = n.lvm!.vg;
    const r = await ssh(lab, n, `lvcreate -q -L 8M -n t ${vg} >/dev/null 2>&1 && lvs --reportformat json -o lv_name,vg_name,lv_size 2>/dev/null && lvremove -q -y ${vg}/t >/dev/null 2>&1`);
    let lvs: { report: { lv: { lv_name: string; vg_name: string; lv_size: string }[] }[] } | null = null;
    try { lvs = JSON.parse(r.stdout); } catch { /* checked below */ }
    const lv = lvs?.report[0]?.lv ?? [];
    check(`${n.name}: lvcreate/lvs json/lvremove`, r.code === 0 && lv.length === 1 && lv[0].vg_name === vg && lv[0].lv_size === '8.00m',
      r.stdout.replace(/\s+/g, ' ').slice(0, 200));
    const vgs = await nodeExec(n, ['vgs', '--noheadings', '-o', 'vg_name']);
    check(`${n.name}: sees only its own VG`, vgs.stdout.trim() === vg, vgs.stdout.trim());
  }

  // Files
  for (const n of lab.nodes) {
    const r = await nodeExec(n, ['isoinfo', '-i', '/var/lib/oms-node/isos/lab.iso', '-J', '-x', '/README.TXT']);
    check(`${n.name}: its ISO holds its own text file`, r.stdout.includes(`for ${n.name}`), r.stdout.trim() + r.stderr.trim());
    const ls = await nodeExec(n, ['ls', '/var/lib/oms-node/isos', '/var/lib/oms-node/images', '/var/lib/oms-node/templates']);
    check(`${n.name}: node dirs`, /lab\.iso/.test(ls.stdout) && /lab-disk\.qcow2/.test(ls.stdout) && /lab-template/.test(ls.stdout), ls.stdout.replace(/\n/g, ' '));
  }
  const after = await Promise.all(lab.nodes.map((n) => canary(n)));
  check('canaries untouched by all of the above', before.every((c, i) => c === after[i]));
  await writeFile(join(lab.nodes[0].stateDir, 'node', 'canary', 'canary'), 'touched\n');
  check('canary notices a change', (await canary(lab.nodes[0])) !== before[0]);

  // Faults: sshd killed mid-call, restarted; host key rotated.
  const n = lab.nodes[lab.nodes.length - 1];
  const long = ssh(lab, n, 'sleep 20; echo finished');
  await new Promise((r) => setTimeout(r, 700));
  await killSshd(n);
  const killed = await long;
  check(`${n.name}: killSshd drops a running call`, killed.code !== 0 && !killed.stdout.includes('finished'), `code ${killed.code}`);
  const down = await ssh(lab, n, 'true');
  check(`${n.name}: no sshd after killSshd`, down.code !== 0);
  await startSshd(n);
  const up = await ssh(lab, n, 'hostname');
  check(`${n.name}: startSshd brings it back`, up.code === 0 && up.stdout.trim() === n.name);
  const rotated = await rotateHostKey(n);
  check(`${n.name}: rotateHostKey changes the key`, rotated.hostKeyPublic !== n.hostKeyPublic && rotated.hostKeyFingerprint !== n.hostKeyFingerprint);
  const oldPin = await ssh(lab, n, 'true');
  check(`${n.name}: old pin refused after rotation`, oldPin.code !== 0 && /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/.test(oldPin.stderr), oldPin.stderr.split('\n')[0]);
  const newPin = await ssh(lab, rotated, 'hostname');
  check(`${n.name}: new pin accepted`, newPin.code === 0);
  const status = await labStatus();
  check('labStatus reflects the rotated key', status?.nodes.find((x) => x.name === n.name)?.hostKeyPublic === rotated.hostKeyPublic);

  for (const node of lab.nodes) {
    console.log(`     ${node.name}: ${(await nodePssKiB(node)) >> 10} MiB PSS (${node.libvirt ? 'full' : 'light'}, no guests)`);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  tmp = await mkdtemp(join(tmpdir(), 'oms-lab-selftest-'));
  try {
    for (let round = 1; round <= 2; round++) {
      const t0 = Date.now();
      const lab = await labUp({ nodes: 3 });
      const ms = Date.now() - t0;
      check(`round ${round}: up 3 full nodes (${ms} ms)`, lab.nodes.length === 3 && lab.nodes.every((n) => n.libvirt && n.lvm));
      if (round === 1) {
        console.log(JSON.stringify(lab.nodes[0]));
        await fullNodeChecks(lab);
        // up over a running lab must clean it up first and come back the same way
        const again = await labUp({ nodes: 3 });
        check('up over a running lab works', again.nodes.length === 3 && (await ssh(again, again.nodes[0], 'true')).code === 0);
      }
      const d0 = Date.now();
      await labDown();
      const left = await leftovers();
      check(`round ${round}: down (${Date.now() - d0} ms) leaves nothing`, left.length === 0, left.join(' | '));
      check(`round ${round}: labStatus is null after down`, (await labStatus()) === null);
    }
    await labDown();
    check('down twice is fine', (await leftovers()).length === 0);

    if (!quick) {
      const t0 = Date.now();
      const lab = await labUp({ nodes: 20, light: true });
      const ms = Date.now() - t0;
      check(`up 20 light nodes (${ms} ms)`, lab.nodes.length === 20 && lab.nodes.every((n) => !n.libvirt));
      const f0 = Date.now();
      const names = await Promise.all(lab.nodes.map((n) => ssh(lab, n, 'hostname')));
      check(`fan-out hostname over 20 nodes (${Date.now() - f0} ms)`, names.every((r, i) => r.stdout.trim() === lab.nodes[i].name));
      console.log(`     light node: ${(await nodePssKiB(lab.nodes[0])) >> 10} MiB PSS`);
      const d0 = Date.now();
      await labDown();
      const left = await leftovers();
      check(`down 20 light nodes (${Date.now() - d0} ms) leaves nothing`, left.length === 0, left.join(' | '));
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

main()
  .catch((err) => {
    failed++;
    console.log(`FAIL ${err instanceof Error ? err.stack : String(err)}`);
  })
  .finally(() => {
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 ? 0 : 1;
  });
