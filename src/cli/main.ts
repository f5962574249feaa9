/**
 * The `oms` command: parses its arguments (args.ts, which also holds every subcommand's help) and
 * runs the command. `oms --help` lists the subcommands; `oms user add --help` and the like say
 * what each takes. Local commands (serve, migrate, user, node key|list|request) work on this
 * machine's database; remote ones (login, call, vm, ...) on a gateway (remote/commands.ts).
 * Exit codes: 0 done, 1 the command failed (`oms: ...` on stderr), 2 a usage error; remote
 * commands add 3..8 (remote/exit-codes.ts).
 */
import { createInterface } from 'node:readline';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { openDatabase } from '../db/database.ts';
import { schemaVersion } from '../db/migrate.ts';
import { createApp, databasePath } from '../app.ts';
import { startServer } from '../server.ts';
import { isOmsError } from '../rpc/errors.ts';
import { userName, nodeName, ipv4 } from '../rpc/fields.ts';
import { parseCli, type CliCommand } from './args.ts';
import { runRemote, type RemoteCommand } from './remote/commands.ts';
import { describeFailure } from './remote/exit-codes.ts';

async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    throw new Error('no password on standard input');
  }
  // Interactive: ask twice without echo.
  const ask = (q: string) =>
    new Promise<string>((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      const out = rl as unknown as { _writeToOutput: (s: string) => void };
      out._writeToOutput = (s: string) => {
        if (s.startsWith(q)) process.stderr.write(q);
      };
      rl.question(q, (answer) => {
        rl.close();
        process.stderr.write('\n');
        resolve(answer);
      });
    });
  const a = await ask(prompt);
  const b = await ask('again: ');
  if (a !== b) throw new Error('passwords differ');
  return a;
}

function argName(v: string | undefined): string {
  const r = userName.safeParse(v);
  if (!r.success) throw new Error(`not a valid user name: ${JSON.stringify(v ?? '')}`);
  return r.data;
}

/** A remote command: any failure becomes one line and its exit code, never a stack trace. */
async function runRemoteCommand(c: RemoteCommand): Promise<number> {
  const abort = new AbortController();
  const interrupted = () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', interrupted);
  try {
    return await runRemote(c, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), tty: Boolean(process.stderr.isTTY), signal: abort.signal });
  } catch (e) {
    if (abort.signal.aborted) return 130;
    const f = describeFailure(e, c.opts.profile ?? (process.env.OMS_PROFILE || undefined));
    process.stderr.write(`oms: ${f.message}\n`);
    return f.code;
  } finally {
    process.off('SIGINT', interrupted);
  }
}

async function run(c: CliCommand): Promise<number> {
  if (c.cmd === 'remote') return runRemoteCommand(c);
  const config = loadConfig();
  const log = createLogger(config.logLevel);

  if (c.cmd === 'serve') {
    const running = await startServer(config, log);
    // Plain lines whatever the log level, for operators and for scripts waiting on start-up (the VNC page first).
    if (running.pagesUrl) process.stdout.write(`OMS VNC page on ${running.pagesUrl}\n`);
    process.stdout.write(`OMS listening on ${running.url}\n`);
    const stop = async (signal: string) => {
      log.info({ signal }, 'shutting down');
      await running.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
    return -1; // keep running
  }
  if (c.cmd === 'migrate') {
    const db = openDatabase(databasePath(config));
    process.stdout.write(`database ${databasePath(config)} at schema version ${schemaVersion(db)}\n`);
    db.close();
    return 0;
  }
  const app = createApp(config, log);
  try {
    switch (c.cmd) {
      case 'user list':
        for (const u of app.users.list()) process.stdout.write(`${u.name}\t${u.disabled ? 'disabled' : 'active'}\t${u.grants.map((g) => `${g.role}@${g.path}`).join(',')}\n`);
        return 0;
      case 'user add': {
        const name = argName(c.name);
        if (c.role) app.users.requireRole(c.role);
        await app.users.add(name, await readPassword(`password for ${name}: `), c.role ? [{ path: '/', role: c.role }] : []);
        process.stdout.write(`added ${name}\n`);
        return 0;
      }
      case 'user passwd': {
        const name = argName(c.name);
        app.users.require(name);
        await app.users.setPassword(name, await readPassword(`new password for ${name}: `));
        app.sessions.destroyForUser(app.users.require(name).id);
        process.stdout.write(`password of ${name} changed; their sessions ended\n`);
        return 0;
      }
      case 'node key':
        process.stdout.write(`${app.gatewayKey.publicKey}\n`);
        return 0;
      case 'node list':
        for (const n of app.nodes.listSigned()) process.stdout.write(`signed\t${n.name}\t${n.address}:${n.port}\t${n.hostKeyFingerprint}\n`);
        for (const n of app.nodes.listRequests()) process.stdout.write(`request\t${n.name}\t${n.request!.address}:${n.request!.port}\t${n.request!.fingerprint}\n`);
        return 0;
      case 'node request': {
        const name = nodeName.parse(c.name);
        const address = ipv4.or(nodeName).parse(c.address);
        const port = Number(c.port ?? 22);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('--port must be 1..65535');
        const keysFile = c.authorizedKeysFile;
        if (keysFile !== undefined && !/^\/[A-Za-z0-9_.\/-]+$/.test(keysFile)) throw new Error('--authorized-keys-file must be an absolute path');
        const probe = await app.access.pool.probeHostKey(address, port, 10_000);
        app.nodes.request(name, address, port, probe.fingerprint, probe.publicKey, 'cli', keysFile ? { authorizedKeysFile: keysFile } : undefined);
        process.stdout.write(`requested ${name} at ${address}:${port}, host key ${probe.fingerprint}\nsign it with funcservices.sign_requests after comparing the fingerprint\n`);
        return 0;
      }
    }
  } finally {
    app.close();
  }
  return 1;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseCli(argv, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
  return 'exit' in parsed ? parsed.exit : run(parsed.run);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`oms: ${isOmsError(e) ? `${e.omsName}: ${e.message}` : (e as Error).message}\n`);
    process.exit(1);
  },
);
