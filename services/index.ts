/** Every service the gateway serves. A new service is added here and nowhere else. */
import type { Config } from '../src/config.ts';
import type { ServiceDecl } from '../src/rpc/declare.ts';
import { rpc } from './rpc/index.ts';
import { authservices } from './authservices/index.ts';
import { userservices } from './userservices/index.ts';
import { tasks } from './tasks/index.ts';
import { funcservices } from './funcservices/index.ts';
import { tagservices } from './tagservices/index.ts';
import { statsservices } from './statsservices/index.ts';
import { kvmservices } from './kvmservices/index.ts';
import { sshservices } from './sshservices/index.ts';
import { ovzservices } from './ovzservices/index.ts';
import { kvmplusovzservices } from './kvmplusovzservices/index.ts';
import { netinterfaceservices } from './netinterfaceservices/index.ts';
import { lvmservices } from './lvmservices/index.ts';
import { isoservices } from './isoservices/index.ts';
import { events } from './events/index.ts';
import { fleetservices } from './fleetservices/index.ts';
import { qooxdooTest } from './qooxdoo-test/index.ts';

export function allServices(config: Pick<Config, 'qooxdooTestService'>): ServiceDecl[] {
  return [
    rpc,
    authservices,
    userservices,
    tasks,
    funcservices,
    tagservices,
    statsservices,
    kvmservices,
    sshservices,
    ovzservices,
    kvmplusovzservices,
    netinterfaceservices,
    lvmservices,
    isoservices,
    events,
    fleetservices,
    ...(config.qooxdooTestService ? [qooxdooTest] : []),
  ];
}
