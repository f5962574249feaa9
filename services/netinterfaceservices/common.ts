/** Parameter and permission pieces every netinterfaceservices declaration shares. */
import { paths } from '../../src/auth/permissions.ts';
import { nodeName } from '../../src/rpc/fields.ts';

export const view = { privilege: 'node.view', path: (p: { server_name: string }) => paths.node(p.server_name) } as const;
export const admin = { privilege: 'node.admin', path: (p: { server_name: string }) => paths.node(p.server_name) } as const;
export const server = { name: 'server_name', schema: nodeName } as const;
