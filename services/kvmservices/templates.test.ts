import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseFindListing } from './parse.ts';
import { readDomain } from './domain.ts';
import { bareTemplateSettings, mergeSettings, parseTemplateJson, settingsFromVm, specFromTemplate, templateForVm, templatesFromListing } from './templates.ts';
import { checkVmSettings, systemMinMax, wholeNumber } from './settings.ts';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const node = { cpus: 2, memoryKiB: 4286240, arch: 'x86_64' };

describe('kvmservices templates and settings', () => {
  it('finds bare images and template directories; ignores other files and dirs', () => {
    const real = templatesFromListing(parseFindListing(fx('find-templates.out')));
    expect(real).to.deep.equal([{ name: 'lab-template', kind: 'file', file: 'lab-template.qcow2', format: 'qcow2' }]);
    const more = templatesFromListing([
      { type: 'd', path: 't1' },
      { type: 'f', path: 't1/template.json' },
      { type: 'f', path: 't1/t11.qcow2' },
      { type: 'f', path: 'raw.img' },
      { type: 'f', path: 'notes.txt' },
      { type: 'f', path: 't1.qcow2' },
      { type: 'd', path: 'empty' },
    ]);
    expect(more.map((t) => `${t.name}:${t.kind}`)).to.deep.equal(['raw:file', 't1:dir']);
  });

  it('system min/max from nodeinfo, MiB', () => {
    expect(systemMinMax(node)).to.deep.equal({ max_vcpu: '2', min_vcpu: '1', min_memory: '16', max_memory: '4185' });
  });

  it('update settings: per-field errors, valid ones kept', () => {
    expect(checkVmSettings({ vcpu: '2', memory: '96' }, node)).to.deep.equal({ apply: { vcpu: 2, memory: 96 }, errors: {} });
    expect(checkVmSettings({ vcpu: '3', memory: 64 }, node)).to.deep.equal({ apply: { memory: 64 }, errors: { vcpu: 'Virtual CPU count not correct' } });
    expect(checkVmSettings({ vcpu: '0', memory: '1e3', colour: 'red' }, node).errors).to.deep.equal({ vcpu: 'Virtual CPU count not correct', memory: 'Memory size not correct', colour: 'Unknown setting' });
    expect(['1', ' 2 ', 3, '1.5', '-1', '', 'x'].map(wholeNumber)).to.deep.equal([1, 2, 3, undefined, undefined, undefined, undefined]);
  });

  it('parse_template_for_vm dictionary of a bare image', () => {
    const d = templateForVm('lab-template', 'vm1', bareTemplateSettings('lab-template.qcow2', 'qcow2', 'x86_64'), [16777216], '/usr/bin/qemu-system-x86_64');
    expect(d).to.deep.include({ template_name: 'lab-template', vm_name: 'vm1', domain_type: 'kvm', virt_type: 'hvm', memory: '128', vcpu: '1', arch: 'x86_64', boot_dev: 'hd', interface: null });
    expect(d.disks).to.deep.equal([
      { template_name: 'lab-template.qcow2', template_format: 'qcow2', template_capacity: '16777216', deploy_type: 'file', type: 'file', device: 'disk', source_file: 'vm1-lab-template.qcow2', target_dev: 'vda', target_bus: 'virtio' },
    ]);
  });

  it('merges overrides, reporting each bad field', () => {
    const base = bareTemplateSettings('t.qcow2', 'qcow2', 'x86_64');
    const good = mergeSettings(base, { memory: '64', vcpu: 2, interface: { type: 'bridge', source_bridge: 'lxcbr0' }, on_reboot: 'reboot', template_name: 'x', vm_name: 'y' }, node);
    expect(good.errors).to.deep.equal({});
    expect(good.settings).to.deep.include({ memory: '64', vcpu: '2', on_reboot: 'restart', interface: { type: 'bridge', source_bridge: 'lxcbr0' } });
    const bad = mergeSettings(base, { memory: '99999', arch: 'aarch64', interface: { type: 'bridge', source_bridge: 'br0; rm -rf /' }, features: ['acpi', 'evil'], disks: [{ template_name: 'other.img' }], foo: 1 }, node);
    expect(Object.keys(bad.errors).sort()).to.deep.equal(['arch', 'disks', 'features', 'foo', 'interface', 'memory']);
    expect(base.memory).to.equal('128'); // the base is not changed
  });

  it('spec from a template keeps disks in order and the NIC', () => {
    const s = mergeSettings(bareTemplateSettings('t.qcow2', 'qcow2', 'x86_64'), { interface: { type: 'network', source_network: 'lab' } }, node).settings;
    const spec = specFromTemplate('vm1', s, ['/img/vm1-t.qcow2']);
    expect(spec.disks).to.deep.equal([{ type: 'file', device: 'disk', source: '/img/vm1-t.qcow2', format: 'qcow2', targetDev: 'vda', targetBus: 'virtio' }]);
    expect(spec.interfaces).to.deep.equal([{ type: 'network', source: 'lab' }]);
  });

  it('settings from a guest round-trip through template.json', () => {
    const d = readDomain(fx('dumpxml-inactive.xml'));
    const s = settingsFromVm('tpl', d, d.disks.filter((k) => k.device === 'disk'));
    expect(s).to.deep.include({ memory: '64', vcpu: '1', arch: 'x86_64', interface: { type: 'bridge', source_bridge: 'lxcbr0' } });
    expect(s.disks).to.deep.equal([{ template_name: 'tpl1.qcow2', template_format: 'qcow2', target_dev: 'vda', target_bus: 'virtio' }]);
    expect(parseTemplateJson(JSON.stringify(s))).to.deep.equal(s);
    expect(() => parseTemplateJson(JSON.stringify({ ...s, disks: [{ template_name: '../../etc/shadow' }] }))).to.throw(/bad disk file name/);
    expect(() => parseTemplateJson('{}')).to.throw(/missing/);
  });
});
