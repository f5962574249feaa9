/**
 * `oms console NODE VM`: the guest's serial console in this terminal, as the web terminal page
 * opens it: kvmservices.open_console gives a single-use ticket, the console websocket
 * (/consoles/ws?ticket=..&cols=..&rows=..) carries the bytes both ways as binary frames, and a
 * text frame {"resize":[cols,rows]} follows the terminal's size. Ctrl-] leaves (as telnet and
 * virsh console do); the console is closed on the gateway (close_console) on the way out.
 */
import WebSocket from 'ws';
import { secureSocket } from '../../../clients/typescript/src/platform-node.ts';
import { OmsConnectionError } from '../../../clients/typescript/src/errors.ts';
import type { OmsClient } from '../../../clients/typescript/src/index.ts';
import type { Profile } from './profiles.ts';

/** Ctrl-], the escape that ends the session. */
export const ESCAPE = 0x1d;

export async function serialConsole(client: OmsClient, profile: Profile, node: string, vm: string, say: (s: string) => void): Promise<void> {
  const opened = (await client.kvmservices.open_console(node, vm)) as { ticket: string };
  const stdin = process.stdin;
  const stdout = process.stdout;
  const cols = stdout.columns || 80;
  const rows = stdout.rows || 24;
  const u = new URL('/consoles/ws', profile.url.replace(/^http/, 'ws'));
  u.searchParams.set('ticket', opened.ticket);
  u.searchParams.set('cols', String(cols));
  u.searchParams.set('rows', String(rows));
  const secure = u.protocol === 'wss:';
  const socket = secure ? await secureSocket(new URL(profile.url), { ca: profile.ca, fingerprint: profile.fingerprint }, 30_000) : undefined;
  const ws = new WebSocket(u, { ...(socket ? { createConnection: () => socket } : {}) });
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (e) => reject(new OmsConnectionError('unreachable', `${u.host}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
      ws.once('unexpected-response', (_q, res) => reject(new OmsConnectionError('protocol', `console websocket refused: HTTP ${res.statusCode}`)));
    });
    say(`connected to the serial console of ${vm} on ${node}; Ctrl-] leaves\r\n`);
    const raw = stdin.isTTY;
    if (raw) stdin.setRawMode(true);
    const onKeys = (data: Buffer) => {
      const i = data.indexOf(ESCAPE);
      if (i >= 0) {
        if (i > 0) ws.send(data.subarray(0, i), { binary: true });
        ws.close(1000, 'user left');
        return;
      }
      ws.send(data, { binary: true });
    };
    const onResize = () => ws.send(JSON.stringify({ resize: [stdout.columns, stdout.rows] }));
    stdin.on('data', onKeys);
    stdin.resume();
    stdout.on('resize', onResize);
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) stdout.write(data);
    });
    const reason = await new Promise<string>((resolve) => ws.once('close', (code, why) => resolve(code === 1000 || code === 1005 ? '' : `${code} ${String(why)}`)));
    stdin.off('data', onKeys);
    stdout.off('resize', onResize);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    say(`\r\nconsole closed${reason ? ` (${reason})` : ''}\n`);
  } finally {
    ws.terminate();
    await client.kvmservices.close_console(node, vm).catch(() => undefined);
  }
}
