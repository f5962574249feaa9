/** KVMService: KVM guests on nodes through libvirt (virsh). */
import { service } from '../../src/rpc/declare.ts';
import { vncMethods } from './vnc.ts';

export const kvmservices = service({
  name: 'kvmservices',
  aliases: ['kvm', 'KVMService'],
  description: 'KVMService: KVM guests on nodes through libvirt (virsh).',
  envelope: 'oms',
  methods: [...vncMethods],
});
