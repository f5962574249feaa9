/** `rpc.discover`: the OpenRPC document of every method this gateway serves. */
import { method, service } from '../../src/rpc/declare.ts';
import { openRpcDocument } from './openrpc.ts';

export const rpc = service({
  name: 'rpc',
  description: 'Service discovery.',
  envelope: 'plain',
  methods: [
    method({
      name: 'discover',
      description: 'The OpenRPC document generated from the method declarations.',
      auth: 'public',
      permission: 'public',
      params: [] as const,
      run: (ctx) => openRpcDocument(ctx.app.registry.services(), process.env.npm_package_version ?? '0.1.0'),
    }),
  ],
});
