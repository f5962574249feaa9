/**
 * Starts the real gateway process (`oms serve`) on a free port and waits for it to listen. Used
 * by end-to-end and lab integration tests, so they go through the same binary operators run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export interface GatewayProcess {
  url: string;
  port: number;
  /** The VNC page as the OMS document opens it, when OMS_CONSOLE_PAGE_PORT is on. */
  pagesUrl?: string;
  dataDir: string;
  child: ChildProcess;
  /** PEM of the generated certificate when TLS is on. */
  ca?: string;
  logs: string[];
  stop(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export const repoRoot = resolve(import.meta.dirname, '..', '..');

export async function startGatewayProcess(env: Record<string, string> = {}, opts: { dataDir?: string; keepDataDir?: boolean; /** Extra node options (e.g. --cpu-prof for profiling). */ nodeArgs?: string[] } = {}): Promise<GatewayProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'oms-e2e-'));
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'serve'], {
    cwd: repoRoot,
    // Console ports stay shut unless a test asks (with free ports, see ports.ts): gateways of tests
    // running side by side would otherwise fight over 8002 and the spots 6801.., 6900...
    env: { ...process.env, OMS_PORT: '0', OMS_BIND: '127.0.0.1', OMS_DATA_DIR: dataDir, OMS_LOG_LEVEL: 'info', OMS_CONSOLE_PAGE_PORT: 'off', OMS_CONSOLE_SPOT_PORTS: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let pagesUrl: string | undefined;
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${logs.join('\n')}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${logs.join('\n')}`)));
    const onLine = (line: string) => {
      logs.push(line);
      const page = /^OMS VNC page on (\S+)$/.exec(line);
      if (page) pagesUrl = page[1];
      const plain = /^OMS listening on (\S+)$/.exec(line);
      if (plain) {
        clearTimeout(timer);
        resolveUrl(plain[1]);
        return;
      }
      try {
        const o = JSON.parse(line) as { msg?: string; url?: string; vncPage?: string };
        if (o.msg === 'OMS listening' && o.url) {
          pagesUrl = o.vncPage;
          clearTimeout(timer);
          resolveUrl(o.url);
        }
      } catch {
        // Not JSON: the one-time admin password banner or a stack trace; kept in logs.
      }
    };
    createInterface({ input: child.stderr! }).on('line', onLine);
    createInterface({ input: child.stdout! }).on('line', onLine);
  });
  child.removeAllListeners('exit');
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const tls = url.startsWith('https');
  const finish = async () => {
    await exited;
    if (!opts.keepDataDir && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return {
    url,
    port: Number(new URL(url).port),
    pagesUrl,
    dataDir,
    child,
    ca: tls ? readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8') : undefined,
    logs,
    stop: async () => {
      child.kill('SIGTERM');
      await finish();
    },
    kill: async (signal = 'SIGKILL') => {
      child.kill(signal);
      await finish();
    },
  };
}
