/**
 * A guest's XML as its owner may have left it: a title and description with markup characters,
 * quotes and non-ASCII text, `<metadata>` of other applications (their own namespaces, a comment,
 * CDATA). Captured from libvirt 9.0 on the lab (fixtures/README.md). Reading must not fail, and
 * what OMS writes back (clone) must carry all of it unchanged and as text.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { cloneXml, readDomain } from './domain.ts';
import { child, elements, parseXml, serializeXml, textOf, writeXml, x } from './xml.ts';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const META = fx('dumpxml-metadata.xml');

const DESCRIPTION =
  "Owner: Jürgen <jb@example.org> & 'Team Ω' — \"prod\" ✓\n</description><devices><disk type='file'>injected</disk></devices>\nLine three: ]]> and &amp; stay text.";

/** The `<metadata>` block exactly as libvirt printed it (between its tags, indentation included). */
const metadataText = (xml: string): string => {
  const m = /<metadata>[\s\S]*<\/metadata>/.exec(xml);
  if (!m) throw new Error('no <metadata> in the document');
  return m[0];
};

describe('kvmservices domain XML with user metadata', () => {
  it('reads a guest whose XML carries other namespaces, a comment, CDATA and a free-text description', () => {
    const d = readDomain(META);
    expect(d).to.deep.include({ name: 'xmlcli-meta', domainType: 'kvm', memoryKiB: 65536, vcpu: 1, arch: 'x86_64', hasSerial: true });
    expect(d.disks.map((k) => k.source)).to.deep.equal(['/var/lib/oms-node/images/xmlcli-meta.qcow2']);
    expect(d.interfaces.map((n) => n.source)).to.deep.equal(['lxcbr0']);
  });

  it('the description and title are read as text, with every character as the owner wrote it', () => {
    const dom = parseXml(META);
    expect(textOf(child(dom, 'title'))).to.equal('Büro-Server "eins" & <zwei>');
    expect(child(dom, 'description')?.textContent).to.equal(DESCRIPTION);
    // The markup inside the description is text: the guest has one <devices> with one disk.
    expect(elements(dom, 'devices')).to.have.length(1);
    expect(elements(child(dom, 'devices'), 'disk')).to.have.length(1);
  });

  it('clone writes title, description and metadata back unchanged', () => {
    const out = cloneXml(META, 'xmlcli-copy', { vda: '/var/lib/oms-node/images/xmlcli-copy-vda.qcow2' });
    // The metadata block comes out byte for byte as libvirt wrote it: comment, CDATA, namespaces,
    // attribute values with entities, indentation.
    expect(metadataText(out)).to.equal(metadataText(META));
    const before = parseXml(META);
    const after = parseXml(out);
    for (const el of ['title', 'description', 'metadata']) expect(serializeXml(child(after, el)!), el).to.equal(serializeXml(child(before, el)!));
    expect(child(after, 'description')?.textContent).to.equal(DESCRIPTION);
    const note = child(after, 'metadata', 'app1:inventory', 'app1:note');
    expect(note?.textContent).to.equal('<b>bold</b> & raw "text" ');
    expect(note?.namespaceURI).to.equal('http://example.org/inventory/1');
    // What clone is for still happens.
    const d = readDomain(out);
    expect(d).to.deep.include({ name: 'xmlcli-copy', uuid: '' });
    expect(d.disks.map((k) => k.source)).to.deep.equal(['/var/lib/oms-node/images/xmlcli-copy-vda.qcow2']);
    expect(d.interfaces[0].mac).to.equal('');
    expect(elements(child(parseXml(out), 'devices'), 'disk')).to.have.length(1);
  });

  it('text OMS writes stays text: markup in it cannot add elements', () => {
    const doc = writeXml(x('domain', { type: 'kvm' }, x('name', {}, 'a'), x('description', {}, "</description><devices><disk type='x'/></devices><description>")));
    const back = parseXml(doc);
    expect(elements(back).map((e) => e.tagName)).to.deep.equal(['name', 'description']);
    expect(textOf(child(back, 'description'))).to.equal("</description><devices><disk type='x'/></devices><description>");
    const attrs = parseXml(writeXml(x('source', { file: "/a'/><devices foo='" })));
    expect(attrs.getAttribute('file')).to.equal("/a'/><devices foo='");
    expect(elements(attrs)).to.have.length(0);
  });

  it('an element with comments or CDATA beside its children is written by the library, not re-indented or dropped', () => {
    const md = child(parseXml(META), 'metadata')!;
    const written = writeXml(md);
    expect(written).to.include('<!-- set by the inventory tool; do not edit -->');
    expect(written).to.include('<![CDATA[<b>bold</b> & raw "text" ]]>');
    // Only the indentation of <metadata>'s own children may change; the inventory is as it was.
    expect(serializeXml(child(parseXml(written), 'app1:inventory')!)).to.equal(serializeXml(child(md, 'app1:inventory')!));
  });

  it('refuses what is not XML, without expanding entities a DOCTYPE declares', () => {
    expect(() => parseXml('<!DOCTYPE d [<!ENTITY x "boom">]><domain>&x;</domain>')).to.throw(/entity/);
    expect(() => parseXml('<domain><p:x/></domain>')).to.throw(/^XML: /);
    expect(() => parseXml('')).to.throw(/missing root/);
  });
});
