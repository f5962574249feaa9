import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseAddrs, parseLinks, parseRoutes } from './parse.ts';
import { bridgeStates, CONFIG_HEADER, NO_DIR_EXIT, parseRemoved, removeStaleConfigFiles, renderBridge, renderConfig, writeConfigFile, type BridgeState } from './persist.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** Runs a persist.ts argv here (plain sh scripts with positional params), content on stdin. */
const run = (argv: readonly unknown[], content = ''): Promise<{ code: number; stdout: string }> =>
  new Promise((resolve) => {
    const [prog, ...args] = argv as string[];
    const child = execFile(prog, args, (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout }));
    // The script may exit before reading (missing directory): EPIPE is expected then, nothing else.
    child.stdin!.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
    child.stdin!.end(content);
  });

const write = async (dir: string, name: string, content: string): Promise<number> => (await run(writeConfigFile(dir, name), content)).code;

describe('netinterfaceservices/persist', () => {
  const addrs = new Map([...parseAddrs(fixture('addr-hbrcap.json')), ...parseAddrs(fixture('addr-lxcbr0.json'))]);
  const states = bridgeStates(parseLinks(fixture('link-extra.json')), addrs, parseRoutes(fixture('route-extra.json')));

  it('collects per bridge: addresses, members, static routes (not kernel or reject routes)', () => {
    expect(states.map((s) => s.name)).to.deep.equal(['lxcbr0', 'hbrcap']);
    const hb = states[1];
    expect(hb.addresses).to.deep.equal([{ address: '10.213.250.1', prefix: 24 }]);
    expect(hb.members).to.deep.equal(['hbrcapa']);
    expect(hb.routes.map((r) => `${r.destination}/${r.prefix}`)).to.deep.equal(['10.213.251.0/24', '10.213.252.5/32']);
    expect(hb.gateway).to.equal(undefined);
  });

  it('renders an ifupdown stanza (golden)', () => {
    expect(renderBridge(states[1], 'omsnode1')).to.equal(
      [
        '# Written by OMS from the live state of node omsnode1. Changes made here are not read back by OMS.',
        'auto hbrcap',
        'iface hbrcap inet static',
        '    address 10.213.250.1/24',
        '    bridge_ports hbrcapa',
        '    bridge_stp off',
        '    bridge_fd 0',
        '    up ip route add 10.213.251.0/24 via 10.213.250.254 dev hbrcap proto static',
        '    down ip route del 10.213.251.0/24 via 10.213.250.254 dev hbrcap',
        '    up ip route add 10.213.252.5/32 dev hbrcap metric 7 proto static',
        '    down ip route del 10.213.252.5/32 dev hbrcap metric 7',
        '',
      ].join('\n'),
    );
    expect(Object.keys(renderConfig({ bridges: states, routed: [] }, 'omsnode1'))).to.deep.equal(['oms-lxcbr0', 'oms-hbrcap']);
  });

  it('a bridge without address is manual; a default route through it becomes its gateway; extra addresses are up lines', () => {
    const text = renderBridge({ name: 'hbrt9', addresses: [], members: [], routes: [] }, 'n');
    expect(text).to.include('iface hbrt9 inet manual\n').and.include('bridge_ports none').and.not.include('address');
    const gw = renderBridge({ name: 'hbrt9', addresses: [{ address: '10.213.250.1', prefix: 24 }, { address: '10.213.251.1', prefix: 25 }], members: ['a', 'b'], gateway: '10.213.250.254', routes: [] }, 'n');
    expect(gw).to.include('    gateway 10.213.250.254\n').and.include('    bridge_ports a b\n').and.include('    up ip addr add 10.213.251.1/25 dev hbrt9\n');
  });

  it('writes files atomically in a directory (temp name, then rename), replacing the old one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oms-ifaces-'));
    try {
      const files = renderConfig({ bridges: states, routed: [] }, 'omsnode1');
      for (const [name, content] of Object.entries(files)) expect(await write(dir, name, content)).to.equal(0);
      expect(readdirSync(dir).sort()).to.deep.equal(['oms-hbrcap', 'oms-lxcbr0']);
      expect(readFileSync(join(dir, 'oms-hbrcap'), 'utf8')).to.equal(files['oms-hbrcap']);
      expect(statSync(join(dir, 'oms-hbrcap')).mode & 0o777).to.equal(0o644);
      expect(await write(dir, 'oms-hbrcap', 'auto hbrcap\n')).to.equal(0);
      expect(readFileSync(join(dir, 'oms-hbrcap'), 'utf8')).to.equal('auto hbrcap\n');
      expect(readdirSync(dir).sort()).to.deep.equal(['oms-hbrcap', 'oms-lxcbr0']);
      expect(await write(join(dir, 'missing'), 'oms-x', 'x')).to.equal(NO_DIR_EXIT);
      // A symlink left at the temp name is replaced, never written through.
      const outside = join(dir, 'outside');
      writeFileSync(outside, 'untouched\n');
      symlinkSync(outside, join(dir, '.oms-hbrcap.oms-tmp'));
      expect(await write(dir, 'oms-hbrcap', 'auto hbrcap\n# again\n')).to.equal(0);
      expect(readFileSync(outside, 'utf8')).to.equal('untouched\n');
      expect(readFileSync(join(dir, 'oms-hbrcap'), 'utf8')).to.equal('auto hbrcap\n# again\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the remover is a fixed script: directory, header and keep-list only as positional args', () => {
    const a = removeStaleConfigFiles('/x/$(id)', ['oms-a b', "oms-'"]);
    const b = removeStaleConfigFiles('/y', []);
    expect(a.slice(0, 2)).to.deep.equal(['sh', '-c']);
    expect(a[2]).to.equal(b[2]);
    expect(a.slice(3)).to.deep.equal(['oms-remove-configs', '/x/$(id)', CONFIG_HEADER, 'oms-a b', "oms-'"]);
    expect(parseRemoved('oms-hbrt1\noms-x\n')).to.deep.equal(['oms-hbrt1', 'oms-x']);
    expect(parseRemoved('')).to.deep.equal([]);
  });

  it('removes only files OMS wrote for bridges not kept; everything else stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oms-ifaces-'));
    try {
      const bridge = (name: string): BridgeState => ({ name, addresses: [], members: [], routes: [] });
      for (const name of ['hbrkeep', 'hbrgone', 'hbrgone2', 'a.b-c_9']) expect(await write(dir, `oms-${name}`, renderBridge(bridge(name), 'n'))).to.equal(0);
      const written = readFileSync(join(dir, 'oms-hbrkeep'), 'utf8');
      // Not OMS's: other names, hand-made oms-* files, names no interface can have, non-files.
      const others: Record<string, string> = {
        'interfaces.local': written,
        'oms-handmade': 'auto handmade\n',
        oms: written,
        'oms-': written,
        'oms-a b': written,
        'oms-$(id)': written,
        'oms-x..y': written,
        'oms--rf': written,
        'oms-abcdefghijklmnop': written, // 16 characters: longer than an interface name
        'oms-hbrх': written, // Cyrillic х
        'oms-nl\nx': written,
        '.oms-hbrgone.oms-tmp': written, // the writer's temp file
        'oms-empty': '',
      };
      for (const [name, content] of Object.entries(others)) writeFileSync(join(dir, name), content);
      mkdirSync(join(dir, 'oms-adir'));
      symlinkSync(join(dir, 'oms-hbrgone'), join(dir, 'oms-link'));
      const before = readdirSync(dir).sort();

      const r = await run(removeStaleConfigFiles(dir, ['oms-hbrkeep', 'oms-a.b-c_9', 'oms-nothere']));
      expect(r.code).to.equal(0);
      expect(parseRemoved(r.stdout)).to.deep.equal(['oms-hbrgone', 'oms-hbrgone2']);
      expect(readdirSync(dir).sort()).to.deep.equal(before.filter((n) => n !== 'oms-hbrgone' && n !== 'oms-hbrgone2'));
      for (const [name, content] of Object.entries(others)) expect(readFileSync(join(dir, name), 'utf8'), name).to.equal(content);
      expect(readFileSync(join(dir, 'oms-hbrkeep'), 'utf8')).to.equal(written);

      // Nothing kept: every OMS file goes, still nothing else; a second run finds nothing.
      expect(parseRemoved((await run(removeStaleConfigFiles(dir, []))).stdout)).to.deep.equal(['oms-a.b-c_9', 'oms-hbrkeep']);
      expect((await run(removeStaleConfigFiles(dir, []))).stdout).to.equal('');
      expect(readdirSync(dir).filter((n) => !Object.hasOwn(others, n)).sort()).to.deep.equal(['oms-adir', 'oms-link']);

      expect((await run(removeStaleConfigFiles(join(dir, 'missing'), []))).code).to.equal(NO_DIR_EXIT);
      expect((await run(removeStaleConfigFiles(join(dir, 'interfaces.local'), []))).code).to.equal(NO_DIR_EXIT);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
