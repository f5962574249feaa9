/**
 * The `oms` command.
 *   oms serve                      run the gateway (config from the environment, see README)
 *   oms migrate                    apply pending database migrations and exit
 *   oms user list                  list users
 *   oms user add NAME [--role R]   add a user (password read from stdin or prompted), role on /
 *   oms user passwd NAME           set a user's password
 */
import { createInterface } from 'node:readline';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { openDatabase } from '../db/database.ts';
import { schemaVersion } from '../db/migrate.ts';
import { createApp, databasePath } from '../app.ts';
import { startServer } from '../server.ts';
import { isOmsError } from '../rpc/errors.ts';
import { userName } from '../rpc/fields.ts';

const usage = `usage:
  oms serve
  oms migrate
  oms user list
  oms user add NAME [--role ROLE]     (password from stdin, or prompted on a terminal)
  oms user passwd NAME`;

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

async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  const config = loadConfig();
  const log = createLogger(config.logLevel);

  if (cmd === 'serve') {
    const running = await startServer(config, log);
    const stop = async (signal: string) => {
      log.info({ signal }, 'shutting down');
      await running.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
    return -1; // keep running
  }
  if (cmd === 'migrate') {
    const db = openDatabase(databasePath(config));
    process.stdout.write(`database ${databasePath(config)} at schema version ${schemaVersion(db)}\n`);
    db.close();
    return 0;
  }
  if (cmd === 'user') {
    const app = createApp(config, log);
    try {
      if (sub === 'list') {
        for (const u of app.users.list()) process.stdout.write(`${u.name}\t${u.disabled ? 'disabled' : 'active'}\t${u.grants.map((g) => `${g.role}@${g.path}`).join(',')}\n`);
        return 0;
      }
      if (sub === 'add') {
        const name = argName(rest[0]);
        const roleAt = rest.indexOf('--role');
        const role = roleAt >= 0 ? rest[roleAt + 1] : undefined;
        if (role) app.users.requireRole(role);
        await app.users.add(name, await readPassword(`password for ${name}: `), role ? [{ path: '/', role }] : []);
        process.stdout.write(`added ${name}\n`);
        return 0;
      }
      if (sub === 'passwd') {
        const name = argName(rest[0]);
        app.users.require(name);
        await app.users.setPassword(name, await readPassword(`new password for ${name}: `));
        app.sessions.destroyForUser(app.users.require(name).id);
        process.stdout.write(`password of ${name} changed; their sessions ended\n`);
        return 0;
      }
    } finally {
      app.close();
    }
  }
  process.stderr.write(`${usage}\n`);
  return 2;
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
