/**
 * The wire a call came in on. Its own module, below both the declarations and the metrics that
 * count calls by it, so neither has to import the other.
 */
export type Transport = 'oms-get' | 'qooxdoo' | 'qooxdoo-script' | 'jsonrpc' | 'websocket' | 'http-route' | 'internal';
