/** What both entry points (index.ts for Node, browser.ts) export besides their OmsClient. */
export { OmsClientCore, CLIENT_MEMBERS, type ClientOptions } from './client.js';
export { OmsError, OmsConnectionError, isOmsError, isConnectionError, type ConnectionReason } from './errors.js';
export type { EventsOptions } from './events.js';
export { normaliseFingerprint, formatFingerprint, type TlsOptions } from './platform.js';
export type { CallOptions, OmsEvent, TaskOutcome, TaskProgress, TaskRow, WaitOptions } from './types.js';
export { errorCodes, errorNames, services, type OmsErrorName, type OmsApi, type OmsServices } from './generated.js';
export * as api from './generated.js';
