/** KVMPlusOvzService: KVM guests and containers of a node in one listing. */
import { service } from '../../src/rpc/declare.ts';

export const kvmplusovzservices = service({
  name: 'kvmplusovzservices',
  aliases: ['kvmplusovz', 'KVMPlusOvzService'],
  description: 'KVMPlusOvzService: KVM guests and containers of a node in one listing.',
  envelope: 'oms',
  methods: [],
});
