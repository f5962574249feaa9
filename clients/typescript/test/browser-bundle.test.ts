/**
 * The browser entry bundles with esbuild for a browser (what the web UI does) and pulls in no Node
 * module: no node:tls, no ws. A Node import sneaking into the shared code turns this red.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');

describe('client: the browser entry', function () {
  this.timeout(30_000);

  it('bundles for the browser with esbuild, free of Node modules', async () => {
    const out = await build({ entryPoints: [join(root, 'src/browser.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', metafile: true });
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.filter((i) => /node_modules|platform-node/.test(i))).to.deep.equal([]);
    const text = out.outputFiles[0].text;
    expect(text).to.not.match(/from\s*["'](node:|ws["'])/);
    expect(text).to.include('WebSocket');
  });

  it('is what the package exports under the browser condition', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.exports['.'].browser).to.equal('./dist/browser.js');
    expect(pkg.exports['.'].default).to.equal('./dist/index.js');
  });
});
