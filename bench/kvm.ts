/**
 * KVM listing speed (issue 4), on the 3-node lab:
 *  - kvmservices.list_vms_status through the gateway vs. `virsh list --all` over a warm raw ssh2
 *    exec: target <= 1.15x. The gateway's command (`virsh domstats`) as a one-off virsh over the
 *    same raw exec is printed too: the gateway sends it to a resident virsh on the node instead
 *    (src/nodes/resident.ts), which is why it can beat a raw exec that starts virsh each time;
 *  - vs. `virsh -c qemu+libssh://...` from this machine (a fresh SSH + libvirt RPC connection per
 *    call, what an admin script would do): target <= 0.2x.
 * Two small guests (defined, not started; kvmt-bench*) make the listing non-trivial; removed after.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Lab } from '../test/lab/index.ts';
import { shellLine } from '../src/nodes/command.ts';
import { domstatsAll } from '../services/kvmservices/commands.ts';
import { gatewayOn, ratio, sideBySide, rawClient, rawExec, against, type BenchOptions } from './lib.ts';

const run = promisify(execFile);
const GUESTS = ['kvmt-bench1', 'kvmt-bench2'];

export async function benchKvm(lab: Lab, out: (line: string) => void, opts: BenchOptions): Promise<void> {
  const node = lab.nodes.find((n) => n.libvirt) ?? lab.nodes[0];
  const rounds = opts.quick ? { warm: 15, fresh: 4 } : { warm: 40, fresh: 10 };
  const b = await gatewayOn(lab, [node]);
  const client = await rawClient(lab, node).catch(async (e) => {
    await b.stop();
    throw e;
  });
  const ok = async (method: string, params: unknown[]) => {
    const r = await b.call('kvmservices', method, [b.sid, 0, node.name, ...params]);
    if (r.error) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
    return r.result.result.result;
  };
  try {
    for (const g of GUESTS) await ok('deploy_template_for_vm', ['lab-template', g, { memory: '64' }]);
    const listLine = shellLine(['virsh', '-c', 'qemu:///system', 'list', '--all']);
    const ownLine = shellLine(domstatsAll('qemu:///system'));
    const uri = `qemu+libssh://root@${node.address}/system?keyfile=${lab.privateKey}&known_hosts=${lab.knownHosts}&sshauth=privkey`;
    const viaGateway = async () => {
      const r = await ok('list_vms_status', []);
      if (!GUESTS.every((g) => g in r[0])) throw new Error('list_vms_status lacks the bench guests');
    };
    const libssh = () => run('virsh', ['-c', uri, 'list', '--all']);
    for (let i = 0; i < 5; i++) {
      await viaGateway();
      await rawExec(client, listLine);
      await rawExec(client, ownLine);
    }
    await libssh();
    const m = await sideBySide(rounds.warm, { gateway: viaGateway, rawList: () => rawExec(client, listLine), rawSame: () => rawExec(client, ownLine) });
    // The libvirt-over-SSH client spawns a process and does a full handshake each time: fewer rounds, apart.
    const fresh = await sideBySide(rounds.fresh, { libssh });
    out(`list_vms_status on ${node.name}, medians: gateway ${m.gateway.toFixed(2)} ms, raw warm exec of virsh list --all ${m.rawList.toFixed(2)} ms, raw warm exec of the gateway's own virsh domstats ${m.rawSame.toFixed(2)} ms, virsh -c qemu+libssh:// list --all ${fresh.libssh.toFixed(1)} ms`);
    out(`ratio gateway/raw-warm virsh list --all: ${against(m.gateway / m.rawList, { op: '<=', value: 1.15 })}`);
    out(`ratio gateway/raw-warm same command: ${ratio(m.gateway, m.rawSame)}`);
    out(`ratio gateway/virsh qemu+libssh: ${against(m.gateway / fresh.libssh, { op: '<=', value: 0.2 })}`);
  } finally {
    for (const g of GUESTS) {
      const r = await b.call('kvmservices', 'delete_vm_recursive', [b.sid, 0, node.name, g, 'disks', 'yes']);
      if (r.error && r.error.code !== 500) out(`cleanup of ${g} failed: ${JSON.stringify(r.error)}`);
    }
    client.end();
    await b.stop();
  }
}
