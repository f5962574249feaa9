import { expect } from 'chai';
import { checkSettings, MESSAGES, narrow, nodeBounds, showSettings, type Bounds } from './settings.ts';

const facts = { cpus: 2, memTotalKiB: 1024 * 1024, cgroup: 'v1' as const, diskFreeKiB: 10 * 1024 * 1024 };
const b: Bounds = nodeBounds(facts, 3);

describe('ovzservices settings', () => {
  it('bounds come from the node: CPUs, 100% per CPU, memory, free disk plus current use', () => {
    expect(b).to.deep.equal({ vcpu: [1, 2], vcpulimit: [0, 200], memory: [16, 1024], disk: [64, 3 + 10240] });
    expect(nodeBounds(facts, 500).disk[0]).to.equal(500);
    expect(narrow(b, { min_memory: 32, max_memory: 99999, max_vcpu: 1 })).to.deep.include({ memory: [32, 1024], vcpu: [1, 1] });
  });

  it('uses the OMS document wording for every wrong field', () => {
    const r = checkSettings({ memory: '0', vcpu: '3', vcpulimit: '201', disk: '63', ip_address: '10.0.0.256', nameserver: '127.0.0.1', password: '', onboot: 'true', searchdomain: '-x.com', bogus: '1' }, b);
    expect(r.errors).to.deep.equal({
      memory: 'Memory size not correct',
      vcpu: 'Virtual CPU count not correct',
      vcpulimit: 'Virtual CPU limit not correct',
      disk: 'Disk size not correct',
      ip_address: 'IP address not correct',
      nameserver: 'Nameserver address not correct',
      password: 'Password can not be zero length',
      onboot: 'Onboot configuration has to be yes or no',
      searchdomain: 'Search domain not correct',
      bogus: 'Unknown setting',
    });
    expect(r.changes).to.deep.equal({});
    expect(r).not.to.have.property('password');
  });

  it('accepts right values as numbers or strings, at the bounds', () => {
    const r = checkSettings({ memory: 1024, vcpu: '2', vcpulimit: '0', disk: '64', ip_address: '10.213.101.91', nameserver: '10.213.101.1', onboot: 'no', searchdomain: 'oms.test', passwd: 'pw with spaces' }, b);
    expect(r.errors).to.deep.equal({});
    expect(r.changes).to.deep.equal({ memory: 1024, vcpu: 2, vcpulimit: 0, disk: 64, ip_address: '10.213.101.91', nameserver: '10.213.101.1', onboot: false, searchdomain: 'oms.test' });
    expect(r.password).to.equal('pw with spaces');
  });

  it('refuses hostile values per field, whatever they try to smuggle', () => {
    const r = checkSettings({ memory: '64\n', vcpu: '1; reboot', ip_address: '1.2.3.4\nlxc.mount.entry = / x', nameserver: '$(id)', searchdomain: 'a`id`.com', onboot: 'yes\n', passwd: 'x\nroot2:y', disk: '1e3', vcpulimit: '-1' }, b);
    expect(Object.keys(r.errors).sort()).to.deep.equal(['disk', 'ip_address', 'memory', 'nameserver', 'onboot', 'passwd', 'searchdomain', 'vcpu', 'vcpulimit']);
    expect(r.errors.passwd).to.equal(MESSAGES.password);
    expect(r.changes).to.deep.equal({});
  });

  it('addresses: a host address, not 0.x, loopback, multicast or reserved; dotted quads only', () => {
    for (const ip of ['10.213.101.91', '1.0.0.1', '223.255.255.254', '192.0.2.10']) expect(checkSettings({ ip_address: ip, nameserver: ip }, b).changes, ip).to.deep.equal({ ip_address: ip, nameserver: ip });
    for (const ip of ['0.1.2.3', '127.0.0.53', '224.0.0.1', '240.0.0.1', '255.255.255.255', '010.0.0.1', '10.1', 'fd13::1']) {
      expect(checkSettings({ ip_address: ip, nameserver: ip }, b).errors, ip).to.deep.equal({ ip_address: MESSAGES.ip_address, nameserver: MESSAGES.nameserver });
    }
  });

  it('ignores what parse_* results echo back', () => {
    expect(checkSettings({ vm_id: '101', vm_name: 'x', template_name: 't', domain_type: 'openvz', min_memory: '1', max_disk: '9' }, b)).to.deep.equal({ changes: {}, errors: {} });
  });

  it('shows settings as strings with bounds', () => {
    const s = showSettings({ id: '101', name: 'n', vcpu: 1, vcpulimit: 50, memory: 64, disk: 128, onboot: true, haltSignal: 'SIGPWR' }, b);
    expect(s).to.deep.equal({ vm_id: '101', vcpu: '1', min_vcpu: '1', max_vcpu: '2', vcpulimit: '50', min_vcpulimit: '0', max_vcpulimit: '200', memory: '64', min_memory: '16', max_memory: '1024', disk: '128', min_disk: '64', max_disk: '10243', ip_address: '', nameserver: '', searchdomain: '', onboot: 'yes' });
  });
});
