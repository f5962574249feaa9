import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { META_NS, metaSchema, metaXml, readMeta } from './meta.ts';
import { liveLimits, runningRefusals } from './edit.ts';
import { elements, parseXml } from './xml.ts';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('kvmservices guest meta', () => {
  const META = { owner: "Jürgen <jb@example.org> & 'Team' \"x\"", 'rack:pos': '7', empty: '', inject: "</entry></meta><meta><entry key='x'>y" };

  it('golden: one line, keys sorted, values as text', () => {
    expect(metaXml({ b: '2', a: 'x & <y>' })).to.equal('<meta><entry key="a">x &amp; &lt;y&gt;</entry><entry key="b">2</entry></meta>');
    expect(metaXml({})).to.equal('<meta/>');
  });

  it('markup in a value stays text: the element has exactly one entry per key', () => {
    const el = parseXml(metaXml(META));
    expect(elements(el).map((n) => n.getAttribute('key'))).to.deep.equal(['empty', 'inject', 'owner', 'rack:pos']);
  });

  it('reads back what libvirt stored (captured), and nothing from other namespaces', () => {
    expect(readMeta(fx('dumpxml-meta-inactive.xml'))).to.deep.equal(META);
    // dumpxml-metadata.xml holds other applications' metadata and OMS's own oms:os, but no meta.
    expect(readMeta(fx('dumpxml-metadata.xml'))).to.deep.equal({});
    expect(readMeta("<domain><metadata><m:meta xmlns:m='urn:other'><m:entry key='a'>b</m:entry></m:meta></metadata></domain>")).to.deep.equal({});
    expect(readMeta(`<domain><metadata><z:meta xmlns:z='${META_NS}'><z:entry key='a'>b</z:entry></z:meta></metadata></domain>`)).to.deep.equal({ a: 'b' });
  });

  it('refuses keys that are not words, control characters, long values and too many entries', () => {
    for (const k of ['', ' a', 'a b', '-a', 'a/b', "a'", 'a"', 'a<b', 'ä', 'k'.repeat(65)]) expect(metaSchema.safeParse({ [k]: 'v' }).success, k).to.equal(false);
    for (const v of ['a\u0000b', 'a\u001bb', 'x'.repeat(257)]) expect(metaSchema.safeParse({ k: v }).success, JSON.stringify(v)).to.equal(false);
    expect(metaSchema.safeParse({ k: 1 }).success).to.equal(false);
    expect(metaSchema.safeParse(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']))).success).to.equal(false);
    expect(metaSchema.safeParse({ 'a.b:c-d_e': 'tab\tand\nnewline fine' }).success).to.equal(true);
  });
});

describe('kvmservices edit rules for a running guest', () => {
  it('reads the limits a running guest was started with', () => {
    expect(liveLimits(fx('dumpxml-running.xml'))).to.deep.equal({ maxVcpus: 1, maxMemoryKiB: 65536 });
    expect(liveLimits("<domain><vcpu placement='static' current='1'>4</vcpu><memory unit='MiB'>256</memory></domain>")).to.deep.equal({ maxVcpus: 4, maxMemoryKiB: 262144 });
  });

  it('name never, cpus and memory up to the maximum; each refusal names its field', () => {
    const lim = { maxVcpus: 2, maxMemoryKiB: 131072 };
    expect(runningRefusals({}, lim)).to.deep.equal([]);
    expect(runningRefusals({ cpus: 2, memory: 128 }, lim)).to.deep.equal([]);
    expect(runningRefusals({ cpus: 1, memory: 64 }, lim)).to.deep.equal([]);
    expect(runningRefusals({ cpus: 3, memory: 129, rename: 'x' }, lim)).to.deep.equal([
      'name: libvirt renames only a stopped guest',
      "cpus: 3 is above the running guest's maximum of 2 vCPUs, which changes only while it is stopped",
      "memory: 129 MiB is above the running guest's maximum of 128 MiB, which changes only while it is stopped",
    ]);
  });
});
