import { expect } from 'chai';
import { lineSink } from './lines.ts';

const run = async (chunks: (string | Buffer)[], opts = {}): Promise<{ lines: string[]; overlong: number }> => {
  const lines: string[] = [];
  let overlong = 0;
  const w = lineSink((l) => lines.push(l), { ...opts, onOverlong: () => overlong++ });
  for (const c of chunks) w.write(typeof c === 'string' ? Buffer.from(c) : c);
  await new Promise<void>((resolve, reject) => w.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return { lines, overlong };
};

describe('lineSink', () => {
  it('hands over whole lines across chunk boundaries, in order, without line ends', async () => {
    const { lines } = await run(['one\ntw', 'o\r\nthr', 'ee\n']);
    expect(lines).to.deep.equal(['one', 'two', 'three']);
  });

  it('keeps a character split between chunks whole', async () => {
    const b = Buffer.from('domain \u00e9t\u00e9\n');
    const { lines } = await run([b.subarray(0, 9), b.subarray(9)]);
    expect(lines).to.deep.equal(['domain \u00e9t\u00e9']);
  });

  it('hands over a last line without a line end when the stream ends', async () => {
    expect((await run(['a\nb'])).lines).to.deep.equal(['a', 'b']);
  });

  it('drops an overlong line up to its end instead of buffering it', async () => {
    const { lines, overlong } = await run(['x'.repeat(40), 'y'.repeat(40), 'z\nnext\n'], { maxLineBytes: 64 });
    expect(lines).to.deep.equal(['next']);
    expect(overlong).to.equal(1);
  });
});
