import { expect } from 'chai';
import { DEFAULT_META, metaOf, parseMeta, renderMeta, tarballOf, templateBounds } from './templates.ts';
import { nextFreeId } from './ct.ts';

describe('ovzservices templates', () => {
  it('lives in the template cache as NAME.tar.gz + NAME.json', () => {
    expect(tarballOf('ovzt-busybox')).to.equal('/var/lib/oms-node/templates/cache/ovzt-busybox.tar.gz');
    expect(metaOf('ovzt-busybox')).to.equal('/var/lib/oms-node/templates/cache/ovzt-busybox.json');
  });

  it('reads the metadata lab.sh writes, and round-trips its own', () => {
    const m = parseMeta('{"memory":64,"min_memory":32,"vcpu":1,"vcpulimit":0,"disk":64,"halt_signal":"SIGUSR1"}\n');
    expect(m).to.deep.equal({ memory: 64, min_memory: 32, vcpu: 1, vcpulimit: 0, disk: 64, halt_signal: 'SIGUSR1' });
    expect(parseMeta(renderMeta(m))).to.deep.equal(m);
    expect(templateBounds(m)).to.deep.equal({ min_memory: 32 });
  });

  it('falls back to defaults key by key on missing, broken or hostile metadata', () => {
    expect(parseMeta(undefined)).to.deep.equal(DEFAULT_META);
    expect(parseMeta('not json')).to.deep.equal(DEFAULT_META);
    expect(parseMeta('[1]')).to.deep.include({ memory: 128 });
    expect(parseMeta('{"memory":"96","vcpu":-1,"disk":1.5,"halt_signal":"SIGKILL; reboot"}')).to.deep.equal({ ...DEFAULT_META, memory: 96 });
  });

  it('suggests the lowest free id from 101', () => {
    expect(nextFreeId([])).to.equal('101');
    expect(nextFreeId(['101', '102', '104'])).to.equal('103');
    expect(nextFreeId(['9101'])).to.equal('101');
  });
});
