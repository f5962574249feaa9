/** Every service the gateway serves. A new service is added here and nowhere else. */
import type { Config } from '../src/config.ts';
import type { ServiceDecl } from '../src/rpc/declare.ts';
import { authservices } from './authservices/index.ts';
import { userservices } from './userservices/index.ts';
import { qooxdooTest } from './qooxdoo-test/index.ts';
import { rpc } from './rpc/index.ts';
import { funcservices } from './funcservices/index.ts';
import { tagservices } from './tagservices/index.ts';
import { statsservices } from './statsservices/index.ts';

export function allServices(config: Pick<Config, 'qooxdooTestService'>): ServiceDecl[] {
  return [rpc, authservices, userservices, funcservices, tagservices, statsservices, ...(config.qooxdooTestService ? [qooxdooTest] : [])];
}
