/**
 * `npm run client:gen`: writes clients/typescript/src/generated.ts from the method declarations.
 * `--check` writes nothing and exits 1 when the file on disk differs (what the unit test does).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoverFromDeclarations } from './discover.ts';
import { renderClient } from './render.ts';

export const generatedPath = join(import.meta.dirname, '..', 'src', 'generated.ts');

export const generate = (): string => renderClient(discoverFromDeclarations());

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const text = generate();
  let current = '';
  try {
    current = readFileSync(generatedPath, 'utf8');
  } catch {
    current = '';
  }
  if (process.argv.includes('--check')) {
    if (current !== text) {
      console.error(`${generatedPath} is out of date with the declarations: run npm run client:gen`);
      process.exit(1);
    }
    console.log('generated client is up to date');
  } else if (current === text) console.log(`${generatedPath} unchanged`);
  else {
    writeFileSync(generatedPath, text);
    console.log(`wrote ${generatedPath}`);
  }
}
