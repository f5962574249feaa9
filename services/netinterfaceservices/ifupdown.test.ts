import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { shellLine } from '../../src/nodes/command.ts';
import { readConfigFiles, shellWords } from './ifupdown.ts';
import { parseAddrs, parseLinks, parseRoutes } from './parse.ts';
import { netConfig, renderConfig, renderRouted, type NetConfig } from './persist.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/**
 * Captured on omsnode3 with, besides the lab's own routes: bridge hbrp1 (10.213.244.1/24 and
 * 10.213.245.1/25, port hbrpa), static routes 10.213.240.0/24 via 10.213.7.5 metric 20 and
 * 10.213.241.0/24 on eth0, 10.213.243.0/24 via 10.213.244.9 and a default via 10.213.244.254
 * metric 100 on hbrp1, a proto dhcp route 10.213.242.0/24 on eth0 and a blackhole 10.213.239.0/24.
 */
const live = () => netConfig(parseLinks(fixture('link-persist.json')), parseAddrs(fixture('addr-persist.json')), parseRoutes(fixture('route-persist.json')));

/** Every route a config persists, one comparable string each, independent of how it is grouped. */
const flat = (c: NetConfig): string[] =>
  [
    ...c.bridges.flatMap((b) => [...b.routes, ...(b.gateway ? [{ destination: '0.0.0.0', prefix: 0, gateway: b.gateway, dev: b.name, metric: 0 }] : [])]),
    ...c.routed.flatMap((i) => i.routes),
  ]
    .map((r) => `${r.destination}/${r.prefix} via ${r.gateway ?? '-'} dev ${r.dev} metric ${r.metric}`)
    .sort();

describe('netinterfaceservices/ifupdown: persisted routes read back', () => {
  it('persists static and default routes of non-bridge interfaces, not kernel, dhcp or reject routes', () => {
    const c = live();
    expect(c.routed).to.deep.equal([
      {
        name: 'eth0',
        routes: [
          { destination: '0.0.0.0', prefix: 0, gateway: '10.213.7.1', dev: 'eth0', metric: 0 },
          { destination: '10.213.240.0', prefix: 24, gateway: '10.213.7.5', dev: 'eth0', metric: 20 },
          { destination: '10.213.241.0', prefix: 24, dev: 'eth0', metric: 0 },
        ],
      },
    ]);
    const hb = c.bridges.find((b) => b.name === 'hbrp1')!;
    expect(hb).to.deep.equal({
      name: 'hbrp1',
      addresses: [
        { address: '10.213.244.1', prefix: 24 },
        { address: '10.213.245.1', prefix: 25 },
      ],
      members: ['hbrpa'],
      // metric 100: not ifupdown's metric-0 `gateway`, an ordinary route line.
      routes: [
        { destination: '0.0.0.0', prefix: 0, gateway: '10.213.244.254', dev: 'hbrp1', metric: 100 },
        { destination: '10.213.243.0', prefix: 24, gateway: '10.213.244.9', dev: 'hbrp1', metric: 0 },
      ],
    });
  });

  it('renders the routes of eth0 as an auto stanza of their own that brings eth0 up first (golden)', () => {
    expect(renderRouted(live().routed[0], 'omsnode3')).to.equal(
      [
        '# Written by OMS from the live state of node omsnode3. Changes made here are not read back by OMS.',
        "# The static and default routes through eth0; eth0's own stanza stays the distribution's.",
        'auto oms-routes-via-eth0',
        'iface oms-routes-via-eth0 inet manual',
        '    pre-up ifup eth0',
        '    up ip route replace 0.0.0.0/0 via 10.213.7.1 dev eth0 proto static',
        '    up ip route replace 10.213.240.0/24 via 10.213.7.5 dev eth0 metric 20 proto static',
        '    up ip route replace 10.213.241.0/24 dev eth0 proto static',
        '    down ip route del 0.0.0.0/0 via 10.213.7.1 dev eth0 || true',
        '    down ip route del 10.213.240.0/24 via 10.213.7.5 dev eth0 metric 20 || true',
        '    down ip route del 10.213.241.0/24 dev eth0 || true',
        '',
      ].join('\n'),
    );
    expect(Object.keys(renderConfig(live(), 'omsnode3'))).to.deep.equal(['oms-lxcbr0', 'oms-hbrp1', 'oms-eth0']);
  });

  it('rendering and reading back gives the live state exactly', () => {
    for (const c of [
      live(),
      netConfig(parseLinks(fixture('link-extra.json')), new Map([...parseAddrs(fixture('addr-hbrcap.json')), ...parseAddrs(fixture('addr-lxcbr0.json'))]), parseRoutes(fixture('route-extra.json'))),
      netConfig(parseLinks(fixture('link-omsnode1.json')), new Map(), parseRoutes(fixture('route-omsnode1.json'))),
      { bridges: [{ name: 'hbrt9', addresses: [], members: [], routes: [] }], routed: [] },
      {
        bridges: [{ name: 'a.b-c_9', addresses: [{ address: '10.0.0.1', prefix: 8 }], members: ['x', 'y'], gateway: '10.0.0.254', routes: [{ destination: '10.213.1.5', prefix: 32, dev: 'a.b-c_9', metric: 3 }] }],
        routed: [{ name: 'en_p1.5', routes: [{ destination: '0.0.0.0', prefix: 0, dev: 'en_p1.5', metric: 7 }] }],
      },
    ] as NetConfig[]) {
      expect(readConfigFiles(renderConfig(c, 'n'))).to.deep.equal(c);
    }
  });

  it('the files hold every persistable route of the raw `ip -j route` table, each once', () => {
    const raw = JSON.parse(fixture('route-persist.json')) as { dst: string; gateway?: string; dev?: string; protocol?: string; metric?: number; type?: string }[];
    // Independent of persist.ts's filter: what an administrator or OMS added by hand.
    const expected = raw
      .filter((r) => !r.type && (r.protocol === undefined || r.protocol === 'static'))
      .map((r) => `${r.dst === 'default' ? '0.0.0.0/0' : r.dst} via ${r.gateway ?? '-'} dev ${r.dev} metric ${r.metric ?? 0}`)
      .sort();
    expect(expected).to.have.length(6);
    expect(flat(readConfigFiles(renderConfig(live(), 'n')))).to.deep.equal(expected);
  });

  it('reads back what shellLine quoted', () => {
    for (const argv of [
      ['ip', 'route', 'add', "it's", 'a b'],
      ['ifup', "''"],
      ['x', 'a\\b', '%@+:,./-'],
    ]) {
      expect(shellWords(shellLine(argv)).words).to.deep.equal(argv);
    }
    expect(shellWords('ip route del 10.0.0.0/8 dev eth0 || true')).to.deep.equal({ words: ['ip', 'route', 'del', '10.0.0.0/8', 'dev', 'eth0'], tolerant: true });
  });

  it('refuses what OMS does not write rather than dropping it', () => {
    const ok = renderConfig(live(), 'n');
    const eth0 = ok['oms-eth0'];
    const bridge = ok['oms-hbrp1'];
    const cases: Record<string, string>[] = [
      { 'oms-eth0': eth0.replace('    down ip route del 10.213.241.0/24 dev eth0 || true\n', '') }, // up without down
      { 'oms-eth0': eth0.replace('auto oms-routes-via-eth0\n', '') }, // nothing brings it up at boot
      { 'oms-eth0': eth0.replace('    pre-up ifup eth0\n', '') }, // would run before eth0 has its address
      { 'oms-eth0': eth0.replace('up ip route replace 10.213.241.0/24', 'up ip route add 10.213.241.0/24') }, // clashes at boot
      { 'oms-eth0': eth0.replace('10.213.241.0/24 dev eth0 || true', '10.213.241.0/24 dev eth0') }, // a down that can stop ifdown
      { 'oms-eth0': eth0.replace('proto static', 'proto static; reboot') },
      { 'oms-eth0': eth0.replace('dev eth0 proto', 'dev eth1 proto') },
      { 'oms-eth1': eth0 }, // file named for another interface
      { 'oms-hbrp1': bridge.replace('    bridge_fd 0\n', '    bridge_fd 0\n    mtu 9000\n') },
      { 'oms-hbrp1': bridge.replace('    bridge_ports hbrpa\n', '') },
      // Addresses and gateways are read as dotted quads, not as digits and dots.
      { 'oms-hbrp1': bridge.replace('address 10.213.244.1/24', 'address 10.213.244.999/24') },
      { 'oms-hbrp1': bridge.replace('address 10.213.244.1/24', 'address 010.213.244.1/24') },
      { 'oms-hbrp1': bridge.replace(/via 10\.213\.244\.9 /g, 'via 10.213.244.300 ') },
      { 'oms-hbrp1': bridge + bridge },
      { interfaces: bridge },
    ];
    for (const files of cases) expect(() => readConfigFiles(files), JSON.stringify(files)).to.throw();
    expect(() => readConfigFiles(ok)).to.not.throw();
  });
});
