/**
 * `qooxdoo.test`: the standard qooxdoo RPC backend conformance service (as in qooxdoo's RpcPhp
 * and RpcPython backends), so stock qooxdoo test clients can check this server. It touches no
 * state and needs no session; OMS_QOOXDOO_TEST=off removes it.
 */
import { z } from 'zod';
import { method, service, type MethodDecl } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';

const any = z.unknown();
const constant = (name: string, value: unknown, description: string): MethodDecl =>
  method({ name, description, auth: 'public', permission: 'public', params: [] as const, run: () => value });
const predicate = (name: string, test: (x: unknown) => boolean): MethodDecl =>
  method({ name, description: `true when the argument is ${name.slice(2).toLowerCase()}`, auth: 'public', permission: 'public', params: [{ name: 'value', schema: any }] as const, run: (_ctx, { value }) => test(value) });

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

const isPlainObject = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);

export const qooxdooTest = service({
  name: 'qooxdoo.test',
  description: 'qooxdoo RPC backend conformance tests.',
  envelope: 'plain',
  methods: [
    method({
      name: 'echo',
      description: 'Returns `Client said: [x]`.',
      auth: 'public',
      permission: 'public',
      params: [{ name: 'message', schema: any }] as const,
      run: (_ctx, { message }) => `Client said: [${typeof message === 'string' ? message : JSON.stringify(message)}]`,
    }),
    method({
      name: 'sink',
      description: 'Never answers on its own (for client timeout tests); ends when the caller goes away, at most after 5 minutes.',
      auth: 'public',
      permission: 'public',
      params: [{ name: 'args', schema: any, rest: true }] as const,
      run: async (ctx) => {
        await sleep(300_000, ctx.signal);
        return null;
      },
    }),
    method({
      name: 'sleep',
      description: 'Sleeps the given seconds (at most 60) and returns them.',
      auth: 'public',
      permission: 'public',
      params: [{ name: 'seconds', schema: z.coerce.number().min(0).max(60) }] as const,
      run: async (ctx, { seconds }) => {
        await sleep(seconds * 1000, ctx.signal);
        return seconds;
      },
    }),
    constant('getInteger', 1, 'Returns the integer 1.'),
    constant('getFloat', 1 / 3, 'Returns the float 1/3.'),
    constant('getString', 'Hello world', 'Returns a string.'),
    constant('getBadString', '<!DOCTYPE HTML "-//IETF//DTD HTML 2.0//EN">', 'Returns a string full of characters that need escaping.'),
    constant('getArrayInteger', [1, 2, 3, 4], 'Returns an array of integers.'),
    constant('getArrayString', ['one', 'two', 'three', 'four'], 'Returns an array of strings.'),
    constant('getObject', {}, 'Returns an object.'),
    constant('getTrue', true, 'Returns true.'),
    constant('getFalse', false, 'Returns false.'),
    constant('getNull', null, 'Returns null.'),
    predicate('isInteger', (x) => Number.isInteger(x)),
    predicate('isFloat', (x) => typeof x === 'number' && !Number.isInteger(x)),
    predicate('isString', (x) => typeof x === 'string'),
    predicate('isBoolean', (x) => typeof x === 'boolean'),
    predicate('isArray', (x) => Array.isArray(x)),
    predicate('isObject', isPlainObject),
    predicate('isNull', (x) => x === null),
    method({
      name: 'getParam',
      description: 'Returns its argument unchanged.',
      auth: 'public',
      permission: 'public',
      params: [{ name: 'value', schema: any }] as const,
      run: (_ctx, { value }) => value,
    }),
    method({
      name: 'getParams',
      description: 'Returns all its arguments as a list, unchanged.',
      auth: 'public',
      permission: 'public',
      params: [{ name: 'values', schema: any, rest: true }] as const,
      run: (_ctx, { values }) => values,
    }),
    method({
      name: 'getCurrentTimestamp',
      description: 'The server time: `now` in seconds and `json` as an ISO 8601 string.',
      auth: 'public',
      permission: 'public',
      params: [] as const,
      run: () => {
        const now = new Date();
        return { now: Math.floor(now.getTime() / 1000), json: now.toISOString() };
      },
    }),
    method({
      name: 'getError',
      description: 'Always fails with an application error (origin 2).',
      auth: 'public',
      permission: 'public',
      params: [] as const,
      run: () => {
        throw oms('QooxdooTestError', { reason: 'Demonstrating an application error' });
      },
    }),
  ],
});
