/** @oms/client in a browser (the `browser` export condition): fetch and the page's WebSocket, no Node modules. */
import { OmsClientCore, type ClientOptions } from './client.js';
import { browserPlatform } from './platform-browser.js';

export class OmsClient extends OmsClientCore {
  constructor(options: ClientOptions) {
    super(options, browserPlatform);
  }
}

export const connect = (options: ClientOptions): OmsClient => new OmsClient(options);

export * from './common.js';
