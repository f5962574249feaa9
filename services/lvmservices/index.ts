/** LVMService: volume groups and logical volumes of nodes. */
import { service } from '../../src/rpc/declare.ts';

export const lvmservices = service({
  name: 'lvmservices',
  aliases: ['lvm', 'LVMService'],
  description: 'LVMService: volume groups and logical volumes of nodes.',
  envelope: 'oms',
  methods: [],
});
