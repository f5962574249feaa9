/**
 * The `oms` command line, declared once with commander: what each subcommand takes, its help
 * (`oms --help`, `oms help user`, `oms user add --help`), and the usage errors. Parsing runs
 * nothing: it returns the command to run, or the exit code when help or a usage error was printed.
 * Values are checked when the command runs (main.ts), with the messages operators already know.
 */
import { Command, CommanderError } from 'commander';

export type CliCommand =
  | { cmd: 'serve' }
  | { cmd: 'migrate' }
  | { cmd: 'user list' }
  | { cmd: 'user add'; name: string; role?: string }
  | { cmd: 'user passwd'; name: string }
  | { cmd: 'node key' }
  | { cmd: 'node list' }
  | { cmd: 'node request'; name: string; address: string; port?: string; authorizedKeysFile?: string };

/** Exit code of a usage error (unknown command or option, missing or extra argument). */
export const USAGE_EXIT = 2;

export interface CliOutput {
  out: (s: string) => void;
  err: (s: string) => void;
}

export type CliParse = { run: CliCommand } | { exit: number };

function program(io: CliOutput, chosen: (c: CliCommand) => void): Command {
  // Settings made before .command() are inherited by every subcommand.
  const oms = new Command('oms')
    .description('OpenNode-compatible management server: the gateway, its users and its nodes.')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError()
    .allowExcessArguments(false);

  oms
    .command('serve')
    .description('run the gateway (settings from the environment and OMS_CONFIG, see README)')
    .action(() => chosen({ cmd: 'serve' }));
  oms
    .command('migrate')
    .description('apply pending database migrations and exit')
    .action(() => chosen({ cmd: 'migrate' }));

  const user = oms.command('user').description("the gateway's users");
  user
    .command('list')
    .description('users with their state and grants (NAME, active|disabled, ROLE@PATH,...)')
    .action(() => chosen({ cmd: 'user list' }));
  user
    .command('add')
    .description('add a user; the password is read from standard input, or prompted for twice on a terminal')
    .argument('<name>', 'user name')
    .option('--role <role>', 'grant this role on / (Administrator, Operator, VMUser, Auditor, NoAccess, or one of your own)')
    .action((name: string, o: { role?: string }) => chosen({ cmd: 'user add', name, role: o.role }));
  user
    .command('passwd')
    .description("set a user's password (read as for add) and end their sessions")
    .argument('<name>', 'user name')
    .action((name: string) => chosen({ cmd: 'user passwd', name }));

  const node = oms.command('node').description('nodes the gateway manages');
  node
    .command('key')
    .description("print the gateway's SSH public key, for the authorized_keys of root on a node")
    .action(() => chosen({ cmd: 'node key' }));
  node
    .command('list')
    .description('requests and signed nodes with their host-key fingerprints')
    .action(() => chosen({ cmd: 'node list' }));
  node
    .command('request')
    .description("record a request to manage a node, with the host key it offers; sign it with funcservices.sign_requests after comparing the fingerprint")
    .argument('<name>', 'node name')
    .argument('<address>', 'IPv4 address or host name')
    .option('--port <port>', 'SSH port (default 22)')
    .option('--authorized-keys-file <file>', "absolute path of the file on the node holding the gateway's key (for remove_signed)")
    .action((name: string, address: string, o: { port?: string; authorizedKeysFile?: string }) =>
      chosen({ cmd: 'node request', name, address, port: o.port, authorizedKeysFile: o.authorizedKeysFile }),
    );
  return oms;
}

/** Parses `oms`'s arguments (without node and the script). Help goes to `io.out`, usage errors to `io.err`. */
export function parseCli(argv: string[], io: CliOutput): CliParse {
  let command: CliCommand | undefined;
  try {
    program(io, (c) => (command = c)).parse(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // Help asked for exits 0; anything else (help shown for want of a subcommand included) is a usage error.
    return { exit: e.exitCode === 0 ? 0 : USAGE_EXIT };
  }
  return command ? { run: command } : { exit: USAGE_EXIT };
}
