/** kvmservices' VNC console methods (set_up_vnc_connection, ...), spread into the service in index.ts. */
import type { MethodDecl } from '../../src/rpc/declare.ts';

export const vncMethods: MethodDecl[] = [];
