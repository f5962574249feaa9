import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { dominfoMany, virshListAll } from './commands.ts';
import { parseDominfo, parseDominfoMany, parseVirshList } from './parse.ts';

const fx = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('kvmplusovzservices parse', () => {
  it('reads virsh list --all, running and shut off, state words with spaces', () => {
    expect(parseVirshList(fx('virsh-list-all.out'))).to.deep.equal([
      { id: 1, name: 'cons-vm1', state: 'running' },
      { name: 'kvmt-fx', state: 'shut off' },
    ]);
    expect(parseVirshList(fx('virsh-list-empty.out'))).to.deep.equal([]);
    expect(parseVirshList('')).to.deep.equal([]);
  });

  it('reads dominfo of a running and a shut-off guest', () => {
    expect(parseDominfo(fx('dominfo-running.out'))).to.deep.equal({ name: 'cons-vm1', state: 'running', vcpu: 1, maxMemKiB: 65536, usedMemKiB: 65536, cpuTimeS: 11.9, autostart: false });
    expect(parseDominfo(fx('dominfo-shutoff.out'))).to.deep.include({ name: 'kvmt-fx', state: 'shut off', cpuTimeS: 0 });
    expect(parseDominfo('garbage')).to.equal(undefined);
  });

  it('reads the many-domain script output, skipping vanished guests', () => {
    const text = `== cons-vm1\n${fx('dominfo-running.out')}== gone\n== kvmt-fx\n${fx('dominfo-shutoff.out')}`;
    expect(parseDominfoMany(text).map((d) => d.name)).to.deep.equal(['cons-vm1', 'kvmt-fx']);
  });

  it('passes domain names as argv elements to a fixed script', () => {
    expect(virshListAll('qemu:///system')).to.deep.equal(['virsh', '-c', 'qemu:///system', 'list', '--all']);
    const argv = dominfoMany('qemu:///system', ["a'b", '$(x)']);
    expect(argv.slice(3)).to.deep.equal(['oms-dominfo', 'qemu:///system', "a'b", '$(x)']);
  });
});
