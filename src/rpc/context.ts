/**
 * What a method handler sees: the call context and the app's long-lived objects. The types are
 * declared in declare.ts beside the method and route declarations that refer to them (one module,
 * so no import cycle); this is their usual import path for handlers.
 */
export type { AppServices, CallContext, Transport } from './declare.ts';
