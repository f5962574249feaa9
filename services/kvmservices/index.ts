/**
 * KVMService: KVM guests on nodes through libvirt (virsh). The methods live in files by topic;
 * this file only assembles the service.
 */
import { service } from '../../src/rpc/declare.ts';
import { vncMethods } from './vnc.ts';
import { vmMethods } from './vms.ts';
import { imageMethods } from './images.ts';
import { templateMethods } from './template-methods.ts';
import { manageMethods } from './manage.ts';
import { networkMethods } from './networks.ts';
import { driveMethods } from './drive-methods.ts';
import { createMethods } from './create-methods.ts';
import { metaMethods } from './meta-methods.ts';

export const kvmservices = service({
  name: 'kvmservices',
  aliases: ['kvm', 'KVMService'],
  description: 'KVMService: KVM guests on nodes through libvirt (virsh).',
  envelope: 'oms',
  methods: [...vmMethods, ...imageMethods, ...templateMethods, ...manageMethods, ...networkMethods, ...vncMethods, ...driveMethods, ...createMethods, ...metaMethods],
});
