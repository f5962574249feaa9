/**
 * Console test guests on lab nodes (prefix `cons-`), started over SSH so they land in the node's
 * cgroup (see test/lab/README.md), and a raw websocket client for the console endpoint. Shared by
 * test/integration/console*.test.ts, test/browser/ and bench/vnc.ts.
 */
import { execFile } from 'node:child_process';
import WebSocket from 'ws';
import type { Lab, LabNode } from '../lab/index.ts';
import { shellLine } from '../../src/nodes/command.ts';

export interface GuestOptions {
  readonly vncPassword?: string;
  /** A fixed VNC port instead of libvirt's autoport (the first free one from 5900 at each start). */
  readonly vncPort?: number;
}

/**
 * 64 MiB KVM guest booting the lab ISO (not bootable: SeaBIOS shows its banner and boot failure,
 * i.e. a non-blank screen). `useserial` makes SeaBIOS print to the serial port too, so the serial
 * console has guest output after a reset. VNC on the node's loopback only.
 */
export const guestXml = (name: string, opts: GuestOptions = {}): string => `<domain type='kvm'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='cdrom'/><bios useserial='yes'/></os>
  <devices>
    <disk type='file' device='cdrom'><source file='/var/lib/oms-node/isos/lab.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' listen='127.0.0.1' ${opts.vncPort ? `port='${opts.vncPort}' autoport='no'` : "autoport='yes'"}${opts.vncPassword ? ` passwd='${opts.vncPassword}'` : ''}/>
    <video><model type='vga'/></video>
  </devices>
</domain>
`;

/** The one line ssh hands to the node's shell: argv quoted by the project's quoting helper. */
export const remoteLine = (argv: string[]): string => shellLine(argv);

/** Runs argv on a lab node over SSH (the lab's own client config and key). */
export function ssh(lab: Lab, node: LabNode, argv: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!lab.sshConfig) throw new Error('lab has no ssh_config');
  return new Promise((resolve) => {
    const child = execFile('ssh', ['-F', lab.sshConfig!, '-o', 'BatchMode=yes', node.name, '--', remoteLine(argv)], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

export async function startGuest(lab: Lab, node: LabNode, name: string, opts: GuestOptions = {}): Promise<void> {
  if (!name.startsWith('cons-')) throw new Error('console test guests carry the cons- prefix');
  await removeGuest(lab, node, name);
  const def = await ssh(lab, node, ['virsh', '-c', 'qemu:///system', 'define', '/dev/stdin'], guestXml(name, opts));
  if (def.code !== 0) throw new Error(`define ${name}: ${def.stderr}`);
  const start = await ssh(lab, node, ['virsh', '-c', 'qemu:///system', 'start', name]);
  if (start.code !== 0) throw new Error(`start ${name}: ${start.stderr}`);
}

export async function removeGuest(lab: Lab, node: LabNode, name: string): Promise<void> {
  if (!name.startsWith('cons-')) throw new Error('only cons- guests are removed here');
  await ssh(lab, node, ['virsh', '-c', 'qemu:///system', 'destroy', name]);
  await ssh(lab, node, ['virsh', '-c', 'qemu:///system', 'undefine', name]);
}

export interface RawConsole {
  ws: WebSocket;
  /** Everything received so far. */
  received(): Buffer;
  /** Resolves when the received bytes satisfy `test`, rejects after `ms`. */
  waitFor(test: (b: Buffer) => boolean, ms?: number): Promise<Buffer>;
  closed: Promise<{ code: number; reason: string }>;
  send(data: string | Buffer): void;
}

/** Opens the console websocket (wss: trusting `ca`); rejects with `refused <status>` when the upgrade is refused. */
export function openRaw(wsUrl: string, opts: { ca?: string } = {}): Promise<RawConsole> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, opts.ca ? { ca: opts.ca } : {});
    let got = Buffer.alloc(0);
    const waiters = new Set<() => void>();
    ws.on('message', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      for (const w of [...waiters]) w();
    });
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
    ws.on('error', (e) => reject(e));
    ws.on('open', () =>
      resolve({
        ws,
        received: () => got,
        closed,
        send: (data) => ws.send(typeof data === 'string' ? Buffer.from(data) : data, { binary: true }),
        waitFor: (test, ms = 15_000) =>
          new Promise((res, rej) => {
            const check = () => {
              if (test(got)) {
                waiters.delete(check);
                clearTimeout(timer);
                res(got);
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              rej(new Error(`timed out; received ${JSON.stringify(got.toString('latin1').slice(-300))}`));
            }, ms);
            waiters.add(check);
            check();
          }),
      }),
    );
  });
}
