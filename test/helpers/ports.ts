/**
 * Free TCP ports on loopback for gateways whose console ports a test turns on (the VNC page port,
 * the spots' own ports). Tests run side by side, so nothing is fixed: a port is free when we can
 * listen on it; a range is free when each of its ports is. Another program may still take one
 * afterwards; the gateway then skips that spot, which tests see in the number set-up returns.
 */
import { connect, createServer, type AddressInfo } from 'node:net';

const canListen = (port: number, host = '127.0.0.1'): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });

/** A port the system hands out as free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The first port of `n` consecutive free ports, picked at random below Linux's ephemeral range (32768..). */
export async function freePortRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await canListen(p);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

/** Whether anything accepts a TCP connection on the port now. */
export function accepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host, timeout: 2000 });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}
