import { expect } from 'chai';
import { chooseGuestNetwork, guestNetworkParam } from './nics.ts';
import { findAddresses, type AddressSource, type FoundAddress } from './runtime.ts';
import { specFromTemplate, bareTemplateSettings } from './templates.ts';
import { readDomain } from './domain.ts';

describe('kvmservices guest NICs', () => {
  const withDefault = [
    { name: 'default', active: true },
    { name: 'lab', active: true },
  ];
  const defaultInactive = [
    { name: 'default', active: false },
    { name: 'lab', active: true },
  ];

  it('the call\'s network param comes first: a name, or none', () => {
    expect(chooseGuestNetwork('lab', 'other', withDefault)).to.deep.include({ network: 'lab', named: true });
    expect(chooseGuestNetwork('', 'lab', withDefault)).to.deep.include({ network: null, reason: 'the call asked for no NIC' });
    expect(chooseGuestNetwork(null, 'lab', withDefault).network).to.equal(null);
  });

  it('then the node setting defaultGuestNetwork: a name (which must exist: named), or empty for none', () => {
    expect(chooseGuestNetwork(undefined, 'kn-nat', withDefault)).to.deep.equal({ network: 'kn-nat', reason: 'the node setting defaultGuestNetwork', named: true });
    expect(chooseGuestNetwork(undefined, '', withDefault).network).to.equal(null);
  });

  it("unset: libvirt's default network when it is defined and active, else no NIC (never a failure)", () => {
    expect(chooseGuestNetwork(undefined, undefined, withDefault)).to.deep.include({ network: 'default', named: false });
    expect(chooseGuestNetwork(undefined, null, withDefault).network).to.equal('default');
    expect(chooseGuestNetwork(undefined, undefined, defaultInactive)).to.deep.equal({ network: null, reason: "libvirt's default network is not active (defaultGuestNetwork unset)", named: false });
    expect(chooseGuestNetwork(undefined, undefined, [{ name: 'lab', active: true }]).reason).to.equal('no libvirt network named default (defaultGuestNetwork unset)');
  });

  it('the network param takes a network name, empty or null, nothing else', () => {
    for (const ok of ['lab', 'kn-nat', '', null]) expect(guestNetworkParam.safeParse(ok).success, String(ok)).to.equal(true);
    for (const bad of ['../x', 'a b', '-x', 'x;y', 1, true, {}, 'a'.repeat(65)]) expect(guestNetworkParam.safeParse(bad).success, String(bad)).to.equal(false);
  });

  it('a running guest\'s NIC on a network reads as that network, not its bridge', () => {
    const live = "<domain type='kvm'><name>v</name><devices><interface type='network'><mac address='52:54:00:21:31:ab'/><source network='kn-nat' portid='0c5d' bridge='kn-nat0'/><target dev='vnet7'/><model type='virtio'/></interface></devices></domain>";
    expect(readDomain(live).interfaces).to.deep.equal([{ type: 'network', source: 'kn-nat', mac: '52:54:00:21:31:ab', model: 'virtio', targetDev: 'vnet7' }]);
  });

  it('a template guest\'s NIC carries the MAC it was given', () => {
    const s = { ...bareTemplateSettings('t.qcow2', 'qcow2', 'x86_64'), interface: { type: 'network' as const, source_network: 'kn-nat' } };
    expect(specFromTemplate('v', s, ['/img/v-t.qcow2'], '52:54:00:01:02:03').interfaces).to.deep.equal([{ type: 'network', source: 'kn-nat', mac: '52:54:00:01:02:03' }]);
    expect(specFromTemplate('v', { ...s, interface: null }, ['/img/v-t.qcow2']).interfaces).to.deep.equal([]);
  });
});

describe('kvmservices guest addresses: lease, then arp, then agent', () => {
  const a = (mac: string, address: string, prefix: number | null = 24): FoundAddress => ({ mac, family: 'ipv4', address, prefix });

  it('asks the next source only for the NICs still without an address, and says which answered', async () => {
    const asked: AddressSource[] = [];
    const answers: Record<AddressSource, FoundAddress[] | { error: string }> = {
      lease: [a('52:54:00:00:00:01', '192.168.213.136'), a('52:54:00:99:99:99', '192.168.213.7')],
      arp: [a('52:54:00:00:00:02', '192.168.214.50', null), a('52:54:00:00:00:01', '192.168.213.200', null)],
      agent: { error: 'argument unsupported: QEMU guest agent is not configured' },
    };
    const r = await findAddresses(['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03'], async (s) => {
      asked.push(s);
      return answers[s];
    });
    expect(asked).to.deep.equal(['lease', 'arp', 'agent']);
    expect(r.byMac.get('52:54:00:00:00:01')).to.deep.equal([{ family: 'ipv4', address: '192.168.213.136', prefix: 24, source: 'lease' }]);
    expect(r.byMac.get('52:54:00:00:00:02')).to.deep.equal([{ family: 'ipv4', address: '192.168.214.50', prefix: null, source: 'arp' }]);
    expect(r.byMac.has('52:54:00:00:00:03')).to.equal(false);
    expect(r.tried).to.deep.equal([
      { source: 'lease', answered: true, addresses: 1 },
      { source: 'arp', answered: true, addresses: 1 },
      { source: 'agent', answered: false, error: 'argument unsupported: QEMU guest agent is not configured' },
    ]);
  });

  it('a failing source is passed over; once every NIC has an address nothing more is asked', async () => {
    const asked: AddressSource[] = [];
    const r = await findAddresses(['52:54:00:00:00:01'], async (s) => {
      asked.push(s);
      return s === 'lease' ? { error: 'no leases' } : [a('52:54:00:00:00:01', '10.0.0.5', null)];
    });
    expect(asked).to.deep.equal(['lease', 'arp']);
    expect(r.byMac.get('52:54:00:00:00:01')![0].source).to.equal('arp');
    expect((await findAddresses([], async () => [])).tried).to.deep.equal([]);
  });
});
