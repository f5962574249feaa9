import { expect } from 'chai';
import yaml from 'js-yaml';
import { render, table } from './output.ts';
import { bytes, duration, progress, progressLine } from './progress.ts';

describe('oms output and progress (remote/output.ts, progress.ts)', () => {
  const rows = [
    { name: 'web1', state: 'running', tags: ['web'] },
    { name: 'db1', state: 'shutdown', tags: [] },
  ];
  it('tables for people: a header and one aligned line per row, nested values as JSON', () => {
    const t = table(rows, ['name', 'state', 'tags']).split('\n');
    expect(t[0]).to.match(/^NAME +STATE +TAGS$/);
    expect(t[1]).to.match(/^web1 +running +\["web"\]$/);
    expect(t[0]!.indexOf('STATE')).to.equal(t[1]!.indexOf('running'));
  });
  it('--json and --yaml give the value itself, parseable back', () => {
    expect(JSON.parse(render(rows, 'json'))).to.deep.equal(rows);
    expect(yaml.load(render(rows, 'yaml'))).to.deep.equal(rows);
    expect(render(0, 'json')).to.equal('0\n');
  });
  it('a progress line has the bar, bytes, rate and ETA', () => {
    expect(bytes(1536)).to.equal('1.5 KiB');
    expect(duration(65)).to.equal('01:05');
    expect(progressLine('up', 5 * 1048576, 10 * 1048576, 5000, 'bytes')).to.equal('up [###############...............]  50% 5.0 MiB/10.0 MiB 1.0 MiB/s ETA 00:05');
  });
  it('rate and ETA count from when the display started, not from the first report (a task reporting only its end)', () => {
    let t = 1000;
    let shown = '';
    const p = progress('clone', { tty: true, write: (s) => (shown += s), now: () => t });
    t += 4000;
    p.update(20 * 1048576, 20 * 1048576);
    expect(shown).to.include('100% 20.0 MiB/20.0 MiB 5.0 MiB/s ETA 00:00');
    let steps = '';
    progress('x', { tty: false, write: (s) => (steps += s), now: () => t }).update(3, 4);
    expect(steps).to.match(/^x +75% 3\/4 ETA/);
  });

  it('redraws one line on a terminal, prints plain lines (each 10 %) elsewhere', () => {
    let t = 0;
    let tty = '';
    const a = progress('x', { tty: true, write: (s) => (tty += s), now: () => (t += 200) });
    for (let i = 1; i <= 4; i++) a.update(i * 25, 100);
    a.end('done');
    expect(tty).to.include('\r\x1b[2K').and.include('100%').and.match(/done\n$/);
    expect(tty.split('\n').length).to.equal(2);
    let plain = '';
    const b = progress('x', { tty: false, write: (s) => (plain += s), now: () => (t += 200) });
    for (let i = 1; i <= 100; i++) b.update(i, 100);
    expect(plain).to.not.include('\r').and.not.include('\x1b');
    expect(plain.trim().split('\n')).to.have.length(11); // 0 %, 10 % ... 100 %
  });
});
