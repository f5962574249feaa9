/** OpenVZService: containers (the OpenVZ API of OMS), run on LXC. */
import { service } from '../../src/rpc/declare.ts';

export const ovzservices = service({
  name: 'ovzservices',
  aliases: ['ovz', 'OpenVZService', 'openvzservices'],
  description: 'OpenVZService: containers (the OpenVZ API of OMS), run on LXC.',
  envelope: 'oms',
  methods: [],
});
