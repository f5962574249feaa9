import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseAddrs, parseLinks, parseRoutes } from './parse.ts';
import { bridgeStates, renderBridge, renderConfig, writeConfigFile } from './persist.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** Runs the writer argv here (it is a plain sh script with positional params), content on stdin. */
const write = (dir: string, name: string, content: string): Promise<number> =>
  new Promise((resolve) => {
    const [prog, ...args] = writeConfigFile(dir, name) as string[];
    const child = execFile(prog, args, (err) => resolve(err ? Number((err as { code?: number }).code) : 0));
    // The script may exit before reading (missing directory): EPIPE is expected then, nothing else.
    child.stdin!.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
    child.stdin!.end(content);
  });

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
    expect(Object.keys(renderConfig(states, 'omsnode1'))).to.deep.equal(['oms-lxcbr0', 'oms-hbrcap']);
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
      const files = renderConfig(states, 'omsnode1');
      for (const [name, content] of Object.entries(files)) expect(await write(dir, name, content)).to.equal(0);
      expect(readdirSync(dir).sort()).to.deep.equal(['oms-hbrcap', 'oms-lxcbr0']);
      expect(readFileSync(join(dir, 'oms-hbrcap'), 'utf8')).to.equal(files['oms-hbrcap']);
      expect(statSync(join(dir, 'oms-hbrcap')).mode & 0o777).to.equal(0o644);
      expect(await write(dir, 'oms-hbrcap', 'auto hbrcap\n')).to.equal(0);
      expect(readFileSync(join(dir, 'oms-hbrcap'), 'utf8')).to.equal('auto hbrcap\n');
      expect(readdirSync(dir).sort()).to.deep.equal(['oms-hbrcap', 'oms-lxcbr0']);
      expect(await write(join(dir, 'missing'), 'oms-x', 'x')).to.equal(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
