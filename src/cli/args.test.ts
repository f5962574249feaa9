import { expect } from 'chai';
import { parseCli, USAGE_EXIT, type CliParse } from './args.ts';

function parse(...argv: string[]): { r: CliParse; out: string; err: string } {
  let out = '';
  let err = '';
  const r = parseCli(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { r, out, err };
}

/** Every command path, groups included. */
const PATHS = [[], ['serve'], ['migrate'], ['user'], ['user', 'list'], ['user', 'add'], ['user', 'passwd'], ['node'], ['node', 'key'], ['node', 'list'], ['node', 'request']];

describe('oms command line', () => {
  it('each subcommand parses to the command it names, with its arguments and options', () => {
    const run = (...argv: string[]) => {
      const { r, out, err } = parse(...argv);
      expect(out + err, argv.join(' ')).to.equal('');
      return r;
    };
    expect(run('serve')).to.deep.equal({ run: { cmd: 'serve' } });
    expect(run('migrate')).to.deep.equal({ run: { cmd: 'migrate' } });
    expect(run('user', 'list')).to.deep.equal({ run: { cmd: 'user list' } });
    expect(run('user', 'add', 'alice')).to.deep.equal({ run: { cmd: 'user add', name: 'alice', role: undefined } });
    expect(run('user', 'add', 'alice', '--role', 'Operator')).to.deep.equal({ run: { cmd: 'user add', name: 'alice', role: 'Operator' } });
    expect(run('user', 'add', '--role=Operator', 'alice')).to.deep.equal({ run: { cmd: 'user add', name: 'alice', role: 'Operator' } });
    expect(run('user', 'passwd', 'alice')).to.deep.equal({ run: { cmd: 'user passwd', name: 'alice' } });
    expect(run('node', 'key')).to.deep.equal({ run: { cmd: 'node key' } });
    expect(run('node', 'list')).to.deep.equal({ run: { cmd: 'node list' } });
    expect(run('node', 'request', 'node1', '192.0.2.10')).to.deep.equal({ run: { cmd: 'node request', name: 'node1', address: '192.0.2.10', port: undefined, authorizedKeysFile: undefined } });
    expect(run('node', 'request', 'node1', '192.0.2.10', '--port', '2222', '--authorized-keys-file', '/root/.ssh/authorized_keys2')).to.deep.equal({
      run: { cmd: 'node request', name: 'node1', address: '192.0.2.10', port: '2222', authorizedKeysFile: '/root/.ssh/authorized_keys2' },
    });
  });

  it('--help on every command and group: its usage on stdout, exit 0, nothing run', () => {
    for (const path of PATHS) {
      const { r, out, err } = parse(...path, '--help');
      expect(r, path.join(' ')).to.deep.equal({ exit: 0 });
      expect(out).to.include(`Usage: ${['oms', ...path].join(' ')} `);
      expect(err).to.equal('');
    }
    expect(parse('user', 'add', '--help').out).to.include('--role <role>').and.include('standard input');
    expect(parse('node', 'request', '--help').out).to.include('--port <port>').and.include('--authorized-keys-file <file>');
    const top = parse('--help').out;
    for (const c of ['serve', 'migrate', 'user', 'node']) expect(top).to.match(new RegExp(`^  ${c} `, 'm'));
    expect(parse('-h').r).to.deep.equal({ exit: 0 });
    // `oms help user add` and `oms user help add` say the same as `oms user add --help`.
    expect(parse('help', 'user').out).to.equal(parse('user', '--help').out);
    expect(parse('user', 'help', 'add').out).to.equal(parse('user', 'add', '--help').out);
  });

  it('usage errors: the message and the usage on stderr, exit 2, nothing run', () => {
    const cases: [string[], RegExp][] = [
      [['frob'], /error: unknown command 'frob'/],
      [['user', 'frob'], /error: unknown command 'frob'/],
      [['user', 'list', '--foo'], /error: unknown option '--foo'/],
      [['--port', '22'], /error: unknown option '--port'/],
      [['user', 'add'], /error: missing required argument 'name'/],
      [['user', 'add', 'alice', 'bob'], /error: too many arguments/],
      [['user', 'add', 'alice', '--role'], /error: option '--role <role>' argument missing/],
      [['node', 'request', 'node1'], /error: missing required argument 'address'/],
      [['migrate', 'now'], /error: too many arguments/],
    ];
    for (const [argv, message] of cases) {
      const { r, out, err } = parse(...argv);
      expect(r, argv.join(' ')).to.deep.equal({ exit: USAGE_EXIT });
      expect(err, argv.join(' ')).to.match(message).and.include('Usage: oms');
      expect(out).to.equal('');
    }
  });

  it('a group or nothing at all: the usage on stderr, exit 2, as before', () => {
    for (const argv of [[], ['user'], ['node']]) {
      const { r, out, err } = parse(...argv);
      expect(r).to.deep.equal({ exit: USAGE_EXIT });
      expect(err).to.include(`Usage: ${['oms', ...argv].join(' ')} `);
      expect(out).to.equal('');
    }
  });

  it('remote commands parse to {cmd: remote, name, args, opts}, under the same parser as the local ones', () => {
    const run = (...argv: string[]) => {
      const { r, out, err } = parse(...argv);
      expect(out + err, argv.join(' ')).to.equal('');
      return (r as { run: unknown }).run;
    };
    expect(run('login', 'https://gw:8000', '--user', 'admin', '--profile', 'lab', '--yes')).to.deep.equal({
      cmd: 'remote', name: 'login', args: ['https://gw:8000'], opts: { user: 'admin', profile: 'lab', yes: true },
    });
    expect(run('call', 'kvm.start_vm', 'n1', 'v1', '--json')).to.deep.equal({ cmd: 'remote', name: 'call', args: ['kvm.start_vm', 'n1', 'v1'], opts: { json: true } });
    expect(run('vm', 'shutdown', 'n1', 'v1', '--no-wait')).to.deep.equal({ cmd: 'remote', name: 'vm shutdown', args: ['n1', 'v1'], opts: { wait: false } });
    expect(run('vm', 'ls', '--node', 'n1', 'n2', '--filter', 'state:running tag:web')).to.deep.equal({ cmd: 'remote', name: 'vm ls', args: [], opts: { node: ['n1', 'n2'], filter: 'state:running tag:web' } });
    expect(run('node', 'ls', '--yaml')).to.deep.equal({ cmd: 'remote', name: 'node ls', args: [], opts: { yaml: true } });
    expect(run('events', '--since', '5', '--type', 'kvm', 'task')).to.deep.equal({ cmd: 'remote', name: 'events', args: [], opts: { since: '5', type: ['kvm', 'task'] } });
    expect(run('completion', 'zsh')).to.deep.equal({ cmd: 'remote', name: 'completion', args: ['zsh'], opts: {} });
    // The local commands are still there beside them.
    expect(run('node', 'list')).to.deep.equal({ cmd: 'node list' });
  });

  it('remote usage errors exit 2 before anything runs', () => {
    for (const argv of [['login'], ['login', 'https://x', '--user', 'a', '--token'], ['vm', 'start', 'n1'], ['call'], ['completion', 'fish'], ['node', 'ls', '--json', '--yaml'], ['task', 'ls', '--state', 'sleeping']]) {
      const { r, err } = parse(...argv);
      expect(r, argv.join(' ')).to.deep.equal({ exit: USAGE_EXIT });
      expect(err, argv.join(' ')).to.include('Usage: oms');
    }
  });
});
