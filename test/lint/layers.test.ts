/**
 * Lint: layers import downward only. The HTTP layer, the RPC core, tasks and the node transport
 * (src/) know nothing of any service: only the composition root, src/app.ts, imports services/
 * (it lists them, services/index.ts). And no file in src/ is part of an import cycle, type-only
 * imports included. See imports.ts for how imports are read.
 */
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { findCycles, importGraph, sourceFiles, type Graph } from './imports.ts';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const COMPOSITION_ROOT = 'src/app.ts';

const srcFiles = () => sourceFiles(join(root, 'src')).map((f) => relative(root, f).split('\\').join('/'));

/** "file imports dep" for every import of services/ by a file in src/ other than the composition root. */
function serviceImports(g: Graph): string[] {
  return [...g].flatMap(([file, deps]) => (file === COMPOSITION_ROOT ? [] : deps.filter((d) => d.startsWith('services/')).map((d) => `${file} imports ${d}`)));
}

/** An in-memory tree for the negative samples: path -> source. */
const sample = (files: Record<string, string>): Graph => importGraph(root, Object.keys(files), (f) => files[f]);

describe('lint: layers import downward only', () => {
  it('only src/app.ts imports from services/', () => {
    const found = serviceImports(importGraph(root, srcFiles()));
    expect(found, `src/ must not import services/ (declare HTTP routes in the service's declaration instead):\n${found.join('\n')}`).to.deep.equal([]);
  });

  it('src/app.ts does import services/index.ts (the check looks at real imports)', () => {
    expect(importGraph(root, [COMPOSITION_ROOT]).get(COMPOSITION_ROOT)).to.include('services/index.ts');
  });

  it('there is no import cycle among the files of src/', () => {
    const cycles = findCycles(importGraph(root, srcFiles()));
    expect(cycles.map((c) => c.join(' -> ')), 'import cycles in src/ (move the shared declaration below both files)').to.deep.equal([]);
  });

  it('catches every import form of services/ outside the composition root', () => {
    const g = sample({
      'src/http/a.ts': "import { x } from '../../services/isoservices/http-upload.ts';",
      'src/http/b.ts': "import type { Y } from '../../services/index.ts';",
      'src/rpc/c.ts': "export { z } from '../../services/rpc/index.ts';",
      'src/rpc/d.ts': "const m = await import('../../services/kvmservices/index.ts');",
      'src/rpc/e.ts': "import { oms } from './errors.ts'; // services/ in a comment is fine",
      'src/app.ts': "import { allServices } from '../services/index.ts';",
    });
    expect(serviceImports(g)).to.deep.equal([
      'src/http/a.ts imports services/isoservices/http-upload.ts',
      'src/http/b.ts imports services/index.ts',
      'src/rpc/c.ts imports services/rpc/index.ts',
      'src/rpc/d.ts imports services/kvmservices/index.ts',
    ]);
  });

  it('finds cycles through type-only imports and re-exports, and none in a layered tree', () => {
    const cyclic = sample({
      'src/app.ts': "import { Registry } from './rpc/registry.ts';\nexport interface AppServices { registry: Registry }",
      'src/rpc/registry.ts': "import type { ServiceDecl } from './declare.ts';",
      'src/rpc/declare.ts': "import type { CallContext } from './context.ts';",
      'src/rpc/context.ts': "import type { AppServices } from '../app.ts';",
      'src/consoles/store.ts': "import { poolBase } from './settings.ts';",
      'src/consoles/settings.ts': "export type { ConsoleKind } from './store.ts';",
      'src/log.ts': "import pino from 'pino';",
    });
    expect(findCycles(cyclic).map((c) => c.join(' -> ')).sort()).to.deep.equal([
      'src/app.ts -> src/rpc/registry.ts -> src/rpc/declare.ts -> src/rpc/context.ts -> src/app.ts',
      'src/consoles/settings.ts -> src/consoles/store.ts -> src/consoles/settings.ts',
    ]);
    const layered = sample({
      'src/app.ts': "import { Registry } from './rpc/registry.ts';\nimport type { AppServices } from './rpc/declare.ts';",
      'src/rpc/registry.ts': "import type { ServiceDecl } from './declare.ts';",
      'src/rpc/declare.ts': "import type { Tasks } from '../tasks/tasks.ts';",
      'src/rpc/context.ts': "export type { CallContext } from './declare.ts';",
      'src/tasks/tasks.ts': "import { internal } from '../rpc/errors.ts';",
      'src/rpc/errors.ts': '',
    });
    expect(findCycles(layered)).to.deep.equal([]);
  });
});
