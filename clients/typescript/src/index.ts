/** @oms/client for Node: HTTPS and wss with certificate pinning (platform-node.ts). */
import { OmsClientCore, type ClientOptions } from './client.js';
import { nodePlatform } from './platform-node.js';

export class OmsClient extends OmsClientCore {
  constructor(options: ClientOptions) {
    super(options, nodePlatform);
  }
}

/** `const oms = connect({ url, fingerprint }); await oms.login(user, password);` */
export const connect = (options: ClientOptions): OmsClient => new OmsClient(options);

export { peerCertificate } from './platform-node.js';
export * from './common.js';
