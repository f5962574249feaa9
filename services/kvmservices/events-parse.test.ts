import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { actionOf, changesOf, parseEventLine, parseStates, readerError } from './events-parse.ts';

const fixture = (name: string): string[] => readFileSync(new URL(`./fixtures/events/${name}`, import.meta.url), 'utf8').split('\n').filter((l) => l !== '');
/** Events of one guest, as action(reason/details) strings, in order. */
const story = (lines: string[], domain: string): string[] =>
  lines
    .map(parseEventLine)
    .filter((e) => e?.domain === domain)
    .map((e) => {
      const { action, data } = actionOf(e!);
      const d = Object.values(data).join(', ');
      return d ? `${action}(${d})` : action;
    });

describe('kvmservices events-parse: virsh event --all --loop --timestamp (libvirt 9.0.0, captured on a lab node)', () => {
  it('reads define, start (Resumed before Started, as libvirt delivers it), suspend, resume, metadata, a host-requested shutdown, destroy, device-added and undefine', () => {
    expect(story(fixture('virsh-event-9.0.0-a.txt'), 'evn-capture')).to.deep.equal([
      'defined(Added)',
      'resumed(Unpaused)',
      'started(Booted)',
      'suspended(Paused)',
      'resumed(Unpaused)',
      'metadata-changed(element, http://example.invalid/evn)',
      'metadata-changed(title)',
      'shutdown(Finished after host request)',
      'stopped(Destroyed)',
      'resumed(Unpaused)',
      'started(Booted)',
      'device-added(ua-evn0)',
      'shutdown(Finished after host request)',
      'stopped(Destroyed)',
      'undefined(Removed)',
    ]);
  });

  it('reads reboot, device-removed, a guest-requested shutdown and a paused start', () => {
    expect(story(fixture('virsh-event-9.0.0-b.txt'), 'evn-capture2')).to.deep.equal([
      'defined(Added)',
      'resumed(Unpaused)',
      'started(Booted)',
      'reboot',
      'reboot',
      'device-added(ua-evnusb)',
      'device-removed(ua-evnusb)',
      'shutdown(Finished after guest request)',
      'stopped(Shutdown)',
      'started(Booted)',
      'suspended(Paused)',
      'shutdown(Finished after host request)',
      'stopped(Destroyed)',
      'undefined(Removed)',
    ]);
  });

  it("keeps libvirt's own time of each event", () => {
    const e = parseEventLine("2026-11-29 11:58:05.253+0000: event 'lifecycle' for domain 'evn-capture2': Started Booted");
    expect(e).to.deep.equal({ time: Date.UTC(2026, 10, 29, 11, 58, 5, 253), event: 'lifecycle', domain: 'evn-capture2', detail: 'Started Booted' });
    expect(parseEventLine("2026-11-29 13:58:05.253+0200: event 'reboot' for domain 'g'")?.time).to.equal(Date.UTC(2026, 10, 29, 11, 58, 5, 253));
  });

  it('reads the unquoted domain name of older libvirt, with and without details and timestamp', () => {
    // Constructed in older libvirt's format (the lab runs 9.0.0, which quotes the name).
    expect(parseEventLine("event 'lifecycle' for domain evn-old: Stopped Destroyed")).to.deep.equal({ event: 'lifecycle', domain: 'evn-old', detail: 'Stopped Destroyed' });
    expect(parseEventLine("2026-11-29 11:58:07.736+0000: event 'reboot' for domain evn-old")).to.include({ event: 'reboot', domain: 'evn-old' });
  });

  it('keeps a quoted name that holds a colon or spaces whole', () => {
    expect(parseEventLine("event 'lifecycle' for domain 'a: b c': Started Booted")).to.deep.equal({ event: 'lifecycle', domain: 'a: b c', detail: 'Started Booted' });
  });

  it('is not fooled by what the reader prints besides events (errors, its summary)', () => {
    const lines = fixture('virsh-event-connect-failed.txt');
    expect(lines.map(parseEventLine).filter(Boolean)).to.deep.equal([]);
    expect(readerError(lines[0])).to.equal('failed to connect to the hypervisor');
    for (const l of ['events received: 0', 'event loop timed out', '', "event 'lifecycle' for domain"]) expect(parseEventLine(l), l).to.equal(undefined);
  });

  it('reads the state of each guest of a domstats listing in the get_vm_state model (captured listings)', () => {
    const raw = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');
    const rename = (text: string, name: string) => text.replace("Domain: 'kvmt-fx'", `Domain: '${name}'`);
    const s = parseStates([rename(raw('domstats-running.out'), 'a'), rename(raw('domstats-paused.out'), 'b'), rename(raw('domstats-inactive.out'), 'c')].join('\n'));
    expect([...s]).to.deep.equal([
      ['a', 'RUNNING'],
      ['b', 'PAUSED'],
      ['c', 'STOPPED'],
    ]);
  });

  it('tells what changed between two listings, a new running guest as defined then started', () => {
    const before = new Map([
      ['gone', 'STOPPED'],
      ['ran', 'RUNNING'],
      ['paused', 'PAUSED'],
      ['same', 'RUNNING'],
      ['stopped', 'STOPPED'],
    ]);
    const after = new Map([
      ['new', 'RUNNING'],
      ['ran', 'STOPPED'],
      ['paused', 'RUNNING'],
      ['same', 'RUNNING'],
      ['stopped', 'PAUSED'],
    ] as const);
    expect(changesOf(before, after)).to.deep.equal([
      { target: 'gone', action: 'undefined', state: null },
      { target: 'new', action: 'defined', state: 'RUNNING' },
      { target: 'new', action: 'started', state: 'RUNNING' },
      { target: 'paused', action: 'resumed', state: 'RUNNING' },
      { target: 'ran', action: 'stopped', state: 'STOPPED' },
      { target: 'stopped', action: 'suspended', state: 'PAUSED' },
    ]);
  });
});
