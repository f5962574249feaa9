/**
 * Builds the web console: ui/src bundled by esbuild into ui/dist/assets (content-hashed names,
 * minified, ES modules split so later screens can load lazily), and ui/dist/index.html pointing
 * at them. Run by `npm run ui:build`, which install (prepare), start (prestart) and test run, so
 * the output is never committed. The typed client is bundled from its source (@oms/client/browser,
 * mapped in ui/tsconfig.json): the UI talks to the gateway through nothing else.
 *
 * `tsx ui/build.ts` prints the gzip size of what the first page load fetches.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = import.meta.dirname;

export interface UiBuild {
  dir: string;
  /** Files the page loads at once (the entry's JS and CSS and the chunks it imports statically). */
  initial: string[];
  /** Their total size, gzip-compressed. */
  initialGzipBytes: number;
}

export async function buildUi(dir = join(here, 'dist')): Promise<UiBuild> {
  rmSync(dir, { recursive: true, force: true });
  const assets = join(dir, 'assets');
  mkdirSync(assets, { recursive: true });
  const out = await build({
    entryPoints: { app: join(here, 'src/main.tsx') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    outdir: assets,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: '[name]-[hash]',
    tsconfig: join(here, 'tsconfig.json'),
    jsx: 'automatic',
    jsxImportSource: 'preact',
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  const outputs = out.metafile.outputs;
  const entry = Object.keys(outputs).find((f) => outputs[f].entryPoint !== undefined && f.endsWith('.js'));
  if (!entry) throw new Error('esbuild produced no entry script');
  const css = outputs[entry].cssBundle;
  // What the first load fetches: the entry, its CSS, and what it imports statically (not dynamic chunks).
  const initial = new Set<string>([entry, ...(css ? [css] : [])]);
  const walk = (f: string) => {
    for (const i of outputs[f].imports) if (i.kind === 'import-statement' && !initial.has(i.path)) (initial.add(i.path), walk(i.path));
  };
  walk(entry);
  const url = (f: string) => `/ui/${relative(assets, f)}`;
  const page = readFileSync(join(here, 'index.html'), 'utf8')
    .replace('%JS%', url(entry))
    .replace('%CSS%', css ? url(css) : '');
  writeFileSync(join(dir, 'index.html'), page);
  const initialGzipBytes = [...initial].reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0) + gzipSync(page).length;
  return { dir, initial: [...initial].map(url), initialGzipBytes };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const b = await buildUi();
  process.stdout.write(`ui: built ${relative(process.cwd(), b.dir)}; initial load ${(b.initialGzipBytes / 1024).toFixed(1)} KiB gzip (${b.initial.length + 1} files)\n`);
}
