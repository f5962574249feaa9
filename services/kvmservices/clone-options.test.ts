import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { vmName } from '../../src/rpc/fields.ts';
import { clonePassword, consoleProtection, freeCloneName, newVncPassword, parseNames, VNC_PASSWORD_LENGTH, withConsolePassword } from './clone-options.ts';
import { cloneXml } from './domain.ts';

const fx = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');

describe('clone options: name and console password', () => {
  it('reads whether the source has a console password only from --security-info output', () => {
    expect(consoleProtection(fx('dumpxml-secure-vnc.xml'))).to.deep.equal({ consoles: 1, password: true });
    // Without --security-info libvirt leaves passwd out: the same guest would look open.
    expect(consoleProtection(fx('dumpxml-inactive.xml'))).to.deep.equal({ consoles: 1, password: false });
    expect(consoleProtection("<domain><name>a</name><devices><graphics type='sdl'/></devices></domain>")).to.deep.equal({ consoles: 0, password: false });
  });

  it('a fresh password when the source had one or the caller asks; none without a console', () => {
    expect(clonePassword({ consoles: 1, password: true }, undefined)).to.equal(true);
    expect(clonePassword({ consoles: 1, password: true }, false)).to.equal(true);
    expect(clonePassword({ consoles: 1, password: false }, true)).to.equal(true);
    expect(clonePassword({ consoles: 1, password: false }, undefined)).to.equal(false);
    expect(clonePassword({ consoles: 1, password: false }, false)).to.equal(false);
    expect(clonePassword({ consoles: 0, password: false }, true)).to.equal(false);
  });

  it('the clone document never carries the source password, and carries the new one on every console', () => {
    const secure = fx('dumpxml-secure-vnc.xml');
    // Even a document read with --security-info (which cloneWork does not do) loses the old one.
    const none = withConsolePassword(cloneXml(secure, 'kst-c', {}), undefined);
    expect(none).to.not.include('srcpw123');
    expect(none).to.not.match(/passwd=/);
    expect(consoleProtection(none)).to.deep.equal({ consoles: 1, password: false });
    const set = withConsolePassword(cloneXml(secure, 'kst-c', {}), 'Nw3wPass');
    expect(set).to.not.include('srcpw123');
    expect(set).to.match(/<graphics type="vnc"[^>]* passwd="Nw3wPass"|<graphics type='vnc'[^>]* passwd='Nw3wPass'/);
    const two = "<domain><name>a</name><devices><graphics type='vnc' passwd='old' passwdValidTo='2030-01-01T00:00:00'/><graphics type='spice' passwd='old2'/><graphics type='sdl'/></devices></domain>";
    const out = withConsolePassword(two, 'Nw3wPass');
    expect(out.match(/passwd="Nw3wPass"/g)).to.have.length(2);
    expect(out).to.not.match(/old|passwdValidTo/);
  });

  it('generated passwords: 8 characters of the unambiguous alphabet, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = newVncPassword();
      expect(p).to.match(new RegExp(`^[A-HJ-NP-Za-km-z2-9]{${VNC_PASSWORD_LENGTH}}$`));
      seen.add(p);
    }
    expect(seen.size).to.equal(200);
  });

  it('a free clone name: the first <source>-clone-N without a guest or leftover disk files', () => {
    expect(freeCloneName('web', new Set(['web']), [])).to.equal('web-clone-1');
    expect(freeCloneName('web', new Set(['web', 'web-clone-1', 'web-clone-2']), [])).to.equal('web-clone-3');
    expect(freeCloneName('web', new Set(['web']), ['web-clone-1-vda.qcow2', 'web-clone-10-vda.qcow2'])).to.equal('web-clone-2');
    const long = `a${'b'.repeat(63)}`;
    const n = freeCloneName(long, new Set(), [])!;
    expect(n).to.have.length(64);
    expect(n.endsWith('-clone-1')).to.equal(true);
    expect(vmName.safeParse(n).success).to.equal(true);
    const all = new Set(Array.from({ length: 999 }, (_, i) => `x-clone-${i + 1}`));
    expect(freeCloneName('x', all, [])).to.equal(undefined);
  });

  it('virsh list --all --name', () => {
    expect(parseNames('a\nkvmt-b\n\n')).to.deep.equal(new Set(['a', 'kvmt-b']));
  });
});
