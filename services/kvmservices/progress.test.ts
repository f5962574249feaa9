import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { bytesAt, convertProgressSink, formatBytes, parseConvertOutput, parseConvertStep } from './progress.ts';

/** Captured on a lab node: see fixtures/README.md. */
const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('qemu-img convert progress', () => {
  it('reads every step of a real `qemu-img convert -p` (carriage returns, no newlines until the end)', () => {
    const out = fx('qemu-img-convert-p.out');
    expect(out).to.include('\r');
    const steps = parseConvertOutput(out);
    expect(steps[0]).to.equal(0);
    expect(steps).to.include(6.25);
    expect(steps.at(-1)).to.equal(100);
    expect(steps.length).to.be.greaterThan(10);
    for (let i = 1; i < steps.length; i++) expect(steps[i]).to.be.at.least(steps[i - 1]);
  });

  it('one step; noise and impossible values are not steps', () => {
    expect(parseConvertStep('    (12.50/100%)')).to.equal(12.5);
    expect(parseConvertStep('(100.00/100%)')).to.equal(100);
    expect(parseConvertStep('')).to.equal(undefined);
    expect(parseConvertStep('qemu-img: error (12/100)')).to.equal(undefined);
    expect(parseConvertStep('(150.00/100%)')).to.equal(undefined);
  });

  it('bytes done of a disk: never past its size', () => {
    expect(bytesAt(50, 64 * 1024 * 1024)).to.equal(32 * 1024 * 1024);
    expect(bytesAt(100, 1000)).to.equal(1000);
    expect(bytesAt(33.33, 3)).to.equal(1);
  });

  it('the stream sink reports each new step once, also when a step is split across chunks', async () => {
    const seen: number[] = [];
    const sink = convertProgressSink((p) => seen.push(p));
    const out = fx('qemu-img-convert-p.out');
    // Odd chunk sizes cut steps in half.
    for (let i = 0; i < out.length; i += 7) sink.write(out.slice(i, i + 7));
    await new Promise<void>((resolve) => sink.end(resolve));
    expect(seen).to.deep.equal([...new Set(parseConvertOutput(out))]);
    expect(seen.at(-1)).to.equal(100);
  });

  it('a failed command destroys the sink with an error; that is no unhandled error event', async () => {
    const sink = convertProgressSink(() => {});
    sink.destroy(new Error('the command failed'));
    // The 'error' event comes on a later tick; without a listener mocha would see it as uncaught.
    await new Promise((r) => setImmediate(r));
    expect(sink.destroyed).to.equal(true);
  });

  it('sizes for log lines', () => {
    expect(formatBytes(0)).to.equal('0 B');
    expect(formatBytes(512)).to.equal('512 B');
    expect(formatBytes(64 * 1024 * 1024)).to.equal('64 MiB');
    expect(formatBytes(10 * 1024 ** 3)).to.equal('10 GiB');
    expect(formatBytes(1.5 * 1024 * 1024)).to.equal('1.5 MiB');
  });
});
