/**
 * The import graph of the TypeScript sources, for the layering lint (layers.test.ts). Imports are
 * read by the TypeScript compiler's own scanner (ts.preProcessFile), so every form counts:
 * `import`, `import type`, `export ... from`, `import()` and `require()`. Type-only imports count
 * too: a type cycle is still a cycle between modules, and a reader must untangle it the same way.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** Module specifiers a source imports, in order of appearance. */
export function specifiersOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** Every .ts file under dir (tests and declaration files excluded: they are not layers). */
export function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'fixtures' ? [] : sourceFiles(path);
    return /\.[cm]?ts$/.test(name) && !/\.test\.[cm]?ts$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** A relative specifier as a root-relative path ('src/rpc/declare.ts'); undefined for packages. */
export function resolveSpecifier(root: string, fromFile: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(join(root, fromFile)), spec);
  const found = [base, `${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p) && statSync(p).isFile()) ?? base;
  return relative(root, found).split('\\').join('/');
}

/** file -> files it imports (root-relative), for the given files. */
export type Graph = Map<string, string[]>;

export function importGraph(root: string, files: string[], read: (file: string) => string = (f) => readFileSync(join(root, f), 'utf8')): Graph {
  const g: Graph = new Map();
  for (const file of files) {
    const deps = specifiersOf(read(file))
      .map((s) => resolveSpecifier(root, file, s))
      .filter((d): d is string => d !== undefined);
    g.set(file, [...new Set(deps)]);
  }
  return g;
}

/**
 * The import cycles of a graph: one per strongly connected component (Tarjan), each given as a
 * closed path `a -> b -> ... -> a` through it so the report names the edges to cut. Edges to
 * files outside the graph are ignored.
 */
export function findCycles(g: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (g.get(v) ?? []).includes(v)) components.push(c);
    }
  };
  for (const v of [...g.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => pathThrough(g, new Set(c)));
}

/** A shortest closed path from the component's first file (sorted) back to itself, inside the component. */
function pathThrough(g: Graph, component: Set<string>): string[] {
  const start = [...component].sort()[0];
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of g.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x: string | undefined = v; x !== undefined && x !== start; x = prev.get(x)) path.splice(1, 0, x);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
