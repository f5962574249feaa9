import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Client } from 'ssh2';
import { SshLink } from './connection.ts';
import { runCommand } from './run-command.ts';

describe('runCommand: a call that fails before its channel opens', () => {
  it('rejects and destroys its stdout stream without an unheard error event (which would end the gateway)', async () => {
    // A link whose server never answers the exec request: the call is still waiting for its channel.
    const client = Object.assign(new EventEmitter(), { exec: () => undefined }) as unknown as Client;
    const link = new SshLink(client);
    const stdout = new Writable({ write: (_c, _e, cb) => cb() });
    const stop = new AbortController();
    const unheard: unknown[] = [];
    const onError = (e: unknown) => unheard.push(e);
    process.on('uncaughtException', onError);
    try {
      const run = runCommand(link, { node: 'n1', line: 'true', stdout, maxOutputBytes: 1024, okExitCodes: [0], signal: stop.signal, release: () => undefined, killGraceMs: 100, log: pino({ enabled: false }) });
      stop.abort(new Error('stopped'));
      const err = await run.catch((e: Error) => e);
      expect((err as Error).message).to.equal('stopped');
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(stdout.destroyed).to.equal(true);
    expect(unheard.map(String)).to.deep.equal([]);
  });
});
