/** streamBody on a real loopback HTTP server and client sockets: how a streamed body ends or fails. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import { isOmsError } from '../rpc/errors.ts';
import { streamBody, type StreamedBody } from './request-body.ts';

describe('http/request-body: streamed bodies bounded by idle time', function () {
  this.timeout(10_000);
  let server: Server;
  let port: number;
  let onRequest: (req: IncomingMessage) => void;
  const sockets: Socket[] = [];

  before(async () => {
    server = createServer((req, res) => {
      onRequest(req);
      res.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** Opens a raw PUT with the given Content-Length and returns the socket for writing the body. */
  const open = async (length: number): Promise<Socket> => {
    const s = connect(port, '127.0.0.1');
    sockets.push(s);
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    s.write(`PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`);
    return s;
  };
  const bodyOf = (opts: Partial<Parameters<typeof streamBody>[1]> = {}) =>
    new Promise<StreamedBody>((resolve) => (onRequest = (req) => resolve(streamBody(req, { idleMs: 300, stallMs: 2000, maxBytes: 1000, ...opts }))));
  /** Reads the body to the end; the error name when it fails. */
  const drain = async (b: StreamedBody): Promise<string> => {
    try {
      await pipeline(b.stream, new Writable({ write: (_c, _e, cb) => cb() }));
      return 'ok';
    } catch (e) {
      return isOmsError(e) ? e.omsName : String(e);
    }
  };

  it('passes a whole body through and stops its clock', async () => {
    const got = bodyOf();
    const s = await open(10);
    const b = await got;
    s.write('01234');
    await new Promise((r) => setTimeout(r, 200));
    s.write('56789');
    expect(await drain(b)).to.equal('ok');
    expect(b.received()).to.equal(10);
    await new Promise((r) => setTimeout(r, 400));
    expect(b.failure()).to.equal(undefined);
  });

  it('a client that goes silent mid-body: UploadIdleError after idleMs', async () => {
    const got = bodyOf();
    const s = await open(100);
    const b = await got;
    s.write('abc');
    const t0 = Date.now();
    expect(await drain(b)).to.equal('UploadIdleError');
    expect(Date.now() - t0).to.be.within(250, 1500);
    expect(b.failure()?.message).to.match(/no progress for 0\.3 s \(after 3 bytes\)/);
  });

  it('a client that disconnects mid-body: UploadAbortedError at once, and `failed` rejects with it', async () => {
    const got = bodyOf({ idleMs: 5000 });
    const s = await open(100);
    const b = await got;
    s.write('abcdef');
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    s.destroy();
    const [drained, failed] = await Promise.all([drain(b), b.failed.catch((e: Error & { omsName?: string }) => e.omsName)]);
    expect([drained, failed]).to.deep.equal(['UploadAbortedError', 'UploadAbortedError']);
    expect(Date.now() - t0).to.be.below(1000);
    expect(b.failure()?.message).to.match(/after 6 bytes/);
  });

  it('more than maxBytes: RequestTooLarge', async () => {
    const got = bodyOf({ maxBytes: 5 });
    const s = await open(100);
    const b = await got;
    s.write('0123456789');
    expect(await drain(b)).to.equal('RequestTooLarge');
  });

  it('while the reader (the node) holds the body back, the stall bound applies, not the idle one', async () => {
    const got = bodyOf({ idleMs: 300, stallMs: 1500, maxBytes: 1 << 20 });
    const s = await open(1 << 20);
    const b = await got;
    s.write(Buffer.alloc(256 * 1024)); // past the pass-through's buffer: the request is paused
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 800));
    expect(b.failure(), 'cut off by the client idle clock while the reader was slow').to.equal(undefined);
    // The reader never reads: after stallMs the body fails.
    await b.failed.catch(() => undefined);
    expect(b.failure()?.omsName).to.equal('UploadIdleError');
    expect(Date.now() - t0).to.be.within(1200, 3000);
    expect(b.failure()?.message).to.match(/no progress for 1\.5 s/);
  });
});
