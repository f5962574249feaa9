import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf, ttyPath, vncPort } from './parse.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('consoles/parse', () => {
  it('reads the VNC port of a running guest (captured)', () => {
    expect(vncPort(fixture('vncdisplay-running.out'))).to.deep.equal({ host: '127.0.0.1', port: 5900 });
  });
  it('displays, IPv6 and wildcard listens', () => {
    expect(vncPort('127.0.0.1:12\n')).to.deep.equal({ host: '127.0.0.1', port: 5912 });
    expect(vncPort('[::1]:1\n')).to.deep.equal({ host: '::1', port: 5901 });
    expect(vncPort(':3\n')).to.deep.equal({ host: '127.0.0.1', port: 5903 });
    expect(vncPort('0.0.0.0:4\n')).to.deep.equal({ host: '127.0.0.1', port: 5904 });
    expect(vncPort('[::]:5\n')).to.deep.equal({ host: '::1', port: 5905 });
    // Any spelling of the IPv6 wildcard is one; addresses come out canonical.
    expect(vncPort('[0:0::0]:6\n')).to.deep.equal({ host: '::1', port: 5906 });
    expect(vncPort('[FD13:0007::0001]:7\n')).to.deep.equal({ host: 'fd13:7::1', port: 5907 });
  });
  it('brackets hold an IPv6 address, nothing else', () => {
    for (const out of ['[1.2.3.4]:1', '[:::]:1', '[1:2:3:4:5:6:7:8:9]:1', '[]:1', '[::1:1']) expect(vncPort(out), out).to.equal(undefined);
  });
  it('nothing usable: empty, shut off, garbage, out of range', () => {
    expect(vncPort(fixture('vncdisplay-shutoff.out'))).to.equal(undefined);
    expect(vncPort('')).to.equal(undefined);
    expect(vncPort('error: x')).to.equal(undefined);
    expect(vncPort('127.0.0.1:99999')).to.equal(undefined);
    expect(vncPort('127.0.0.1:0; rm -rf /')).to.equal(undefined);
  });
  it('serial pty path (captured) and refusals', () => {
    expect(ttyPath(fixture('ttyconsole-running.out'))).to.match(/^\/dev\/pts\/\d+$/);
    expect(ttyPath('')).to.equal(undefined);
    expect(ttyPath('/dev/ttyS0')).to.equal(undefined);
  });
  it('error reasons: first line, no "error:" prefix, no control characters, bounded', () => {
    expect(reasonOf(fixture('vncdisplay-shutoff.err'))).to.equal('Domain is not running');
    expect(reasonOf(fixture('vncdisplay-missing.err'))).to.equal("failed to get domain 'no-such-vm'");
    expect(reasonOf('\x1b[31mbad\x07')).to.equal('?[31mbad?');
    expect(reasonOf('x'.repeat(500))).to.have.length(160);
    expect(reasonOf('')).to.equal('no reason given');
  });
});
