/**
 * The `oms` command line, declared once with commander: what each subcommand takes, its help
 * (`oms --help`, `oms help user`, `oms user add --help`), and the usage errors. Parsing runs
 * nothing: it returns the command to run, or the exit code when help or a usage error was printed.
 * Values are checked when the command runs (main.ts), with the messages operators already know.
 */
import { Argument, Command, CommanderError, Option } from 'commander';
import type { RemoteCommand, RemoteOptions } from './remote/command.ts';

export type CliCommand =
  | { cmd: 'serve' }
  | { cmd: 'migrate' }
  | { cmd: 'user list' }
  | { cmd: 'user add'; name: string; role?: string }
  | { cmd: 'user passwd'; name: string }
  | { cmd: 'node key' }
  | { cmd: 'node list' }
  | { cmd: 'node request'; name: string; address: string; port?: string; authorizedKeysFile?: string }
  | RemoteCommand;

/** Exit code of a usage error (unknown command or option, missing or extra argument). */
export const USAGE_EXIT = 2;

export interface CliOutput {
  out: (s: string) => void;
  err: (s: string) => void;
}

export type CliParse = { run: CliCommand } | { exit: number };

/**
 * A command that talks to a gateway (see remote/commands.ts): the profile and output options every
 * one of them takes, and its parsed arguments and options handed on as they are.
 */
function remoteCommand(parent: Command, name: string, description: string, chosen: (c: CliCommand) => void, path = name): Command {
  const c = parent
    .command(name)
    .description(description)
    .option('--profile <name>', 'the gateway profile to use (default: $OMS_PROFILE, else the default profile)')
    .addOption(new Option('--json', 'print the result as JSON, for scripts').conflicts('yaml'))
    .option('--yaml', 'print the result as YAML');
  c.action((...a: unknown[]) => {
    const cmd = a[a.length - 1] as Command;
    const opts = cmd.opts() as RemoteOptions;
    chosen({ cmd: 'remote', name: path, args: [...cmd.args], opts: { ...opts } });
  });
  return c;
}

const waitOptions = (c: Command): Command =>
  c
    .option('--wait', 'follow the task to its end, with progress (the default)')
    .option('--no-wait', 'print the task id and return at once')
    .option('--timeout <seconds>', 'stop following after this long (the task goes on; exit 6)');

/** The whole command tree (exported for shell completion, which is generated from it). */
export function program(io: CliOutput, chosen: (c: CliCommand) => void): Command {
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

  // Remote commands: a gateway through the typed client, with a profile stored by `oms login`.
  remoteCommand(oms, 'login', 'log in to a gateway: stores its URL and an API token (never the password) in ~/.config/oms, pinning its certificate', chosen)
    .argument('<url>', 'the gateway, e.g. https://oms.example:8000')
    .addOption(new Option('--user <user>', 'log in with this user\'s password (prompted on a terminal, else read from standard input)').conflicts('token'))
    .option('--token', 'log in with an API token (prompted on a terminal, else read from standard input)')
    .option('--cacert <file>', 'trust the gateway certificate (or CA) in this PEM file instead of pinning what it offers')
    .option('--fingerprint <sha256>', "pin this SHA-256 fingerprint of the gateway's certificate")
    .option('-y, --yes', "pin the certificate the gateway offers without asking (scripts; compare the fingerprint printed)");
  remoteCommand(oms, 'logout', 'revoke the stored API token on the gateway and forget the profile', chosen);
  waitOptions(remoteCommand(oms, 'call', 'call any method: oms call service.method [args...] (JSON where it parses, else a string)', chosen))
    .argument('<method>', 'service.method, the service by name or alias (e.g. kvm.list_vms)')
    .argument('[args...]', "the method's params in order (a wrong count prints them; put negative numbers after --)");

  const rnode = node;
  remoteCommand(rnode, 'ls', 'signed nodes on the gateway, with reachability and guest count', chosen, 'node ls').option('--tag <tag>', 'only nodes with this tag');

  const vm = oms.command('vm').description('KVM guests on the gateway\'s nodes');
  remoteCommand(vm, 'ls', 'guests of every node (or --node), with state, vCPUs, memory and tags', chosen, 'vm ls')
    .option('--node <node...>', 'only these nodes')
    .option('--filter <expr>', "only guests matching every key:value term, e.g. 'state:running tag:web' (keys: state, tag, name, node; * and ? globs)");
  for (const [verb, what] of [
    ['start', 'start a guest'],
    ['shutdown', 'ACPI shutdown of a guest (a task, followed to its end unless --no-wait)'],
    ['stop', 'power a guest off at once'],
    ['pause', 'pause a guest'],
    ['resume', 'resume a paused guest'],
  ] as const) {
    const c = waitOptions(remoteCommand(vm, verb, what, chosen, `vm ${verb}`)).argument('<node>', 'node name').argument('<vm>', 'guest name');
    if (verb === 'shutdown') c.option('--window <seconds>', 'how long the guest may take to go down (default 60)');
  }
  remoteCommand(vm, 'create', 'define a guest booting from an ISO image of the node (kvmservices.create_vm_from_iso)', chosen, 'vm create')
    .argument('<node>', 'node name')
    .argument('<vm>', 'new guest name')
    .option('--iso <image>', 'ISO image in the node\'s ISO directory (oms iso ls NODE)')
    .option('--memory <MiB>', 'memory in MiB (default 512)')
    .option('--disk <GB>', 'size of a new disk file in GB (default: no disk)')
    .option('--os-variant <variant>', 'virt-install OS variant (default generic)')
    .option('--os-type <type>', 'OS type (default linux)')
    .option('--network <name>', "libvirt network of the NIC ('' for none; default: the node's)")
    .option('--start', 'start it once defined');

  const iso = oms.command('iso').description('ISO images on nodes');
  remoteCommand(iso, 'ls', "ISO images in a node's ISO directory", chosen, 'iso ls').argument('<node>', 'node name');
  remoteCommand(iso, 'upload', 'stream a local ISO file to a node, with a progress bar', chosen, 'iso upload')
    .argument('<node>', 'node name')
    .argument('<file>', 'local file')
    .option('--name <image>', 'name on the node (default: the file name)');

  const task = oms.command('task').description('tasks (long operations) on the gateway');
  remoteCommand(task, 'ls', 'newest tasks', chosen, 'task ls')
    .option('--node <node>', 'only of this node')
    .addOption(new Option('--state <state>', 'only in this state').choices(['running', 'succeeded', 'failed', 'cancelled']))
    .option('--limit <n>', 'at most this many (default 100)');
  remoteCommand(task, 'show', 'one task: state, progress, error, result', chosen, 'task show')
    .argument('<id>', 'task id')
    .option('--wait', 'follow it to its end with progress first')
    .option('--timeout <seconds>', 'stop following after this long');
  remoteCommand(task, 'cancel', 'ask a running task to stop', chosen, 'task cancel').argument('<id>', 'task id');

  remoteCommand(oms, 'events', 'follow the fleet\'s events as they happen (Ctrl-C to stop), like incus monitor', chosen)
    .option('--since <seq>', 'first replay the events after this sequence number')
    .option('--type <type...>', 'only these types (kvm, container, node, task, inventory, console)')
    .option('--node <node...>', 'only these nodes')
    .option('--count <n>', 'stop after this many events');
  remoteCommand(oms, 'console', "a guest's serial console in this terminal (Ctrl-] leaves)", chosen).argument('<node>', 'node name').argument('<vm>', 'guest name');
  oms
    .command('completion')
    .description('print the shell completion script: eval "$(oms completion bash)", or for zsh: source <(oms completion zsh)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .action((shell: string) => chosen({ cmd: 'remote', name: 'completion', args: [shell], opts: {} }));
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
