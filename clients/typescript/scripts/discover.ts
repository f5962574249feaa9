/**
 * The OpenRPC document straight from the declarations, as rpc.discover builds it inside a
 * running gateway: no gateway needed. Imports the service list the way services/rpc does; this
 * script lives outside src/, so the layer rule (src/ never imports services/) holds.
 */
import { allServices } from '../../../services/index.ts';
import { openRpcDocument } from '../../../services/rpc/openrpc.ts';
import type { OpenRpcDoc } from './render.ts';

/** The qooxdoo.test conformance service is off by default and not part of the client. */
export const discoverFromDeclarations = (): OpenRpcDoc => openRpcDocument(allServices({ qooxdooTestService: false }), '0') as OpenRpcDoc;
