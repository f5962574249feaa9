/** Reading what edit_vm's meta and tags set: the guest's meta (its definition) and its tags (the tag store). */
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import * as cmd from './commands.ts';
import { onVm, serverParam, vmParam } from './common.ts';
import { readMeta } from './meta.ts';
import { kvmNode, virshRun } from './node.ts';

export const metaMethods: MethodDecl[] = [
  method({
    name: 'get_vm_meta',
    description: "A guest's meta ({key: value}, from its libvirt definition) and tags (from the gateway's tag store), as edit_vm sets them: {meta, tags}.",
    auth: 'session',
    permission: onVm('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, vmParam] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm }) {
      const n = kvmNode(ctx, server_hostname);
      const meta = readMeta(await virshRun(n, cmd.dumpxml(n.uri, vm, true), { vm }));
      return { meta, tags: ctx.app.tags.ofVm(n.name, vm).map((t) => t.tag) };
    },
  }),
];
