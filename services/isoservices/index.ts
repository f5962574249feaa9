/** ISOService: ISO images in the ISO directory of nodes. */
import { service } from '../../src/rpc/declare.ts';

export const isoservices = service({
  name: 'isoservices',
  aliases: ['iso', 'ISOService'],
  description: 'ISOService: ISO images in the ISO directory of nodes.',
  envelope: 'oms',
  methods: [],
});
