/** SSHService: SSH terminals to nodes in the browser. */
import { service } from '../../src/rpc/declare.ts';

export const sshservices = service({
  name: 'sshservices',
  aliases: ['ssh', 'SSHService'],
  description: 'SSHService: SSH terminals to nodes in the browser.',
  envelope: 'oms',
  methods: [],
});
