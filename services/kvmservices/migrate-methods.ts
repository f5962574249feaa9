/** kvmservices.migrate_vm: a KVM guest moved to another node, offline or live (migrate.ts, migrate-live.ts). */
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { taskStarted } from '../../src/rpc/results.ts';
import { oms } from '../../src/rpc/errors.ts';
import { paths } from '../../src/auth/permissions.ts';
import { nodeName } from '../../src/rpc/fields.ts';
import { kvmGuest } from '../../src/locks/guest-locks.ts';
import { vmParam } from './common.ts';
import { onOff } from './settings.ts';
import { kvmNode } from './node.ts';
import { moveWork, survey } from './migrate.ts';
import { targetRoute } from './migrate-live.ts';

export const migrateMethods: MethodDecl[] = [
  method({
    name: 'migrate_vm',
    description:
      "Moves a KVM guest to another node (the container migrate_vm's shape: source node, guest, target node), as a task; answers {task_id} at once, the task's progress is bytes moved of the total. Offline (live left out or false): a running guest is shut down by ACPI (it must go down within 120 s, else ShutdownTimeoutError and it keeps running), each file disk streams through the gateway to the same path on the target (sha256 checked), the definition moves with autostart, the guest starts there if it ran, and only then is it undefined on the source and its disk files removed. Live (live true): libvirt's live migration with its disks copied while the guest runs (control connection relayed by the gateway, memory and disks node to node to the target's enrolled address); LiveMigrationNotPossibleError says why when it cannot be done. Any failure leaves the guest on the source as it was and removes what was made on the target (MigrationError). Refusals before anything changes: MigrationTargetUnreachableError, MigrationSpaceError, MigrationNameTakenError, MigrationNotCapableError. CD-ROMs and read-only disks are shared media that must be on the target already. The task's result: {name, node, live, state, disks, bytes, left_on_source}.",
    auth: 'session',
    // Removing it from the source is the delete the caller must be allowed; making it on the target is checked in run.
    permission: { privilege: 'vm.delete', path: (p) => paths.vm(p.server1_hostname, p.kvm_vm_name) },
    mutates: true,
    // Both ends: the source is copied and removed, and nothing may make the name on the target meanwhile.
    lock: {
      summary: 'the KVM guest kvm_vm_name on server1_hostname and the name on server2_hostname, until the migration task ends',
      guests: (p) => [kvmGuest(p.server1_hostname, p.kvm_vm_name), kvmGuest(p.server2_hostname, p.kvm_vm_name)],
    },
    node: 'server1_hostname',
    result: taskStarted,
    params: [{ name: 'server1_hostname', schema: nodeName }, vmParam, { name: 'server2_hostname', schema: nodeName }, { name: 'live', schema: onOff, optional: true }] as const,
    async run(ctx, { server1_hostname: source, kvm_vm_name: vm, server2_hostname: target, live }) {
      if (!ctx.can('vm.create', paths.node(target))) throw oms('PermissionDenied', { privilege: 'vm.create', path: paths.node(target) });
      const w = { vm, source, target };
      if (source === target) throw oms('MigrationNotCapableError', { vm, source, target, reason: 'it is on that node already' });
      const isLive = live ?? false;
      // The obvious refusals are immediate errors; the task surveys again under its hold.
      await survey(kvmNode(ctx, source), kvmNode(ctx, target), w, isLive ? targetRoute(ctx, target) : undefined);
      const t = ctx.startTask({ kind: 'kvm.migrate_vm', node: source, target: vm }, (h) =>
        // A row on the target's side too, so its task list shows what arrives (the hold is the outer task's).
        ctx.startTask({ kind: 'kvm.migrate_in', node: target, target: vm }, () => moveWork(ctx, w, isLive, h)).done,
      );
      return { task_id: t.id };
    },
  }),
];
