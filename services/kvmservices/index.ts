/**
 * KVMService: KVM guests on nodes through libvirt (virsh). The methods live in files by topic;
 * this file only assembles the service.
 */
import { service } from '../../src/rpc/declare.ts';
import { vncMethods } from './vnc.ts';
import { vmMethods } from './vms.ts';
import { stateMethods } from './state-methods.ts';
import { imageMethods } from './images.ts';
import { templateMethods } from './template-methods.ts';
import { manageMethods } from './manage.ts';
import { networkMethods } from './networks.ts';
import { snapshotMethods } from './snapshots.ts';
import { runtimeMethods } from './runtime.ts';
import { netInstallMethods } from './netinstall.ts';
import { driveMethods } from './drive-methods.ts';
import { createMethods } from './create-methods.ts';
import { metaMethods } from './meta-methods.ts';
import { migrateMethods } from './migrate-methods.ts';
import { kvmEventWatcher } from './events.ts';

export const kvmservices = service({
  name: 'kvmservices',
  aliases: ['kvm', 'KVMService'],
  description: 'KVMService: KVM guests on nodes through libvirt (virsh).',
  envelope: 'oms',
  guests: 'kvm',
  methods: [...vmMethods, ...stateMethods, ...imageMethods, ...templateMethods, ...manageMethods, ...networkMethods, ...netInstallMethods, ...runtimeMethods, ...snapshotMethods, ...vncMethods, ...driveMethods, ...createMethods, ...metaMethods, ...migrateMethods],
  watchers: [kvmEventWatcher],
});
