import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseDu, parseFacts, parseInfo, parseInfoMany, parseList, parseSha256, parseTemplateList, splitBlocks } from './parse.ts';

const fx = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('ovzservices parse', () => {
  it('reads lxc-info of a running container: state, pid, raw CPU ns and memory bytes', () => {
    expect(parseInfo('9990', fx('lxc-info-running.out'))).to.deep.equal({ id: '9990', state: 'running', pid: 9754, cpuTimeNs: 8476817, memoryBytes: 782336 });
  });

  it('reads lxc-info of a stopped container as stopped with zero usage', () => {
    expect(parseInfo('9990', fx('lxc-info-stopped.out'))).to.deep.equal({ id: '9990', state: 'stopped', cpuTimeNs: 0, memoryBytes: 0 });
    expect(parseInfo('9990', fx('lxc-info-frozen.out'))).to.deep.equal({ id: '9990', state: 'frozen', pid: 19998, cpuTimeNs: 2551341, memoryBytes: 802816 });
    expect(parseInfo('9', 'State: WEIRD\n').state).to.equal('unknown');
  });

  it('reads the many-container script, leaving out ids that vanished', () => {
    const all = parseInfoMany(fx('lxc-info-many.out'));
    expect(all.map((i) => [i.id, i.state, i.pid])).to.deep.equal([['9990', 'running', 15012]]);
    expect(all[0].memoryBytes).to.equal(1249280);
    expect(parseInfoMany('')).to.deep.equal([]);
  });

  it('lists only numeric container names, in numeric order', () => {
    expect(parseList(fx('lxc-ls.out'))).to.deep.equal(['9990']);
    expect(parseList('1000\n101\nweb\n99\n0101\n9990\n')).to.deep.equal(['101', '1000', '9990']);
  });

  it('reads node facts: CPUs, memory, cgroup version, free disk', () => {
    expect(parseFacts(fx('facts-lab.out'))).to.deep.equal({ cpus: 2, memTotalKiB: 24683656, cgroup: 'v1', diskFreeKiB: 82685096 });
    expect(parseFacts('8\nMemTotal: 1024 kB\ncgroup2fs\n/dev/x 10 5 7 50% /var/lib/lxc\n').cgroup).to.equal('v2');
    expect(() => parseFacts('')).to.throw();
    expect(() => parseFacts('x\nMemTotal: 1 kB\ntmpfs\n/dev 1 1 1 1% /\n')).to.throw();
  });

  it('reads du, sha256sum, template listings and config blocks', () => {
    expect(parseDu(fx('du-sm.out'))).to.equal(3);
    expect(() => parseDu('du: cannot access')).to.throw();
    expect(parseSha256(`${'a'.repeat(64)}  -\n`)).to.equal('a'.repeat(64));
    expect(() => parseSha256('oops')).to.throw();
    expect(parseTemplateList('ovzt-b.tar.gz\nx.json\nx.tar.gz.oms-part\n-bad.tar.gz\na.tar.gz\n')).to.deep.equal(['a', 'ovzt-b']);
    expect([...splitBlocks('== 101\nlxc.uts.name = a\n== 102\n').entries()]).to.deep.equal([['101', 'lxc.uts.name = a\n'], ['102', '']]);
  });
});
