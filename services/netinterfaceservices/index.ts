/** NetInterfaceService: routes and bridges of nodes (iproute2). */
import { service } from '../../src/rpc/declare.ts';

export const netinterfaceservices = service({
  name: 'netinterfaceservices',
  aliases: ['netinterface', 'NetInterfaceService'],
  description: 'NetInterfaceService: routes and bridges of nodes (iproute2).',
  envelope: 'oms',
  methods: [],
});
