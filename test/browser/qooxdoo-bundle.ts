/**
 * qooxdoo's own RPC client for the browser test: the framework's class sources from the npm
 * package @qooxdoo/framework, unmodified, concatenated in an order they can load in. qx 6 is the
 * last release that ships qx.io.remote (qx 7 dropped it for qx.io.jsonrpc), and its npm package
 * has no compiler of its own, so this does what the qooxdoo compiler's source build does, in
 * small: start from the classes the page needs, follow every `qx.some.Class` reference, the
 * `@require`/`@use` hints and the classes providing each environment key asked for, and put a
 * class after everything it touches while it loads (extend, include, statics, defer); references
 * inside methods only have to be loaded by the time they run. Built once per framework version
 * and builder and cached under node_modules/.cache; offline, about a second when not cached.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../helpers/process.ts';

const frameworkDir = join(repoRoot, 'node_modules', '@qooxdoo', 'framework');
const classDir = join(frameworkDir, 'source', 'class');

/** The classes the test page uses; the rest comes in through their references. */
const roots = [
  'qx.Bootstrap',
  'qx.io.remote.Rpc',
  // The Exchange picks a transport among the registered ones; each registers itself on load.
  'qx.io.remote.transport.XmlHttp',
  'qx.io.remote.transport.Script',
  'qx.io.remote.transport.Iframe',
];

interface ClassInfo {
  name: string;
  source: string;
  /** Classes this file's code touches while it is evaluated (their defers must have run). */
  load: Set<string>;
  /** Classes named by `@require` hints: loaded before this one, nothing more. */
  before: Set<string>;
  /** Classes needed only once its methods run. */
  runtime: Set<string>;
}

const fileOf = (name: string) => join(classDir, ...name.split('.')) + '.js';
const isClass = (() => {
  const known = new Map<string, boolean>();
  return (name: string) => {
    let v = known.get(name);
    if (v === undefined) known.set(name, (v = existsSync(fileOf(name)) && statSync(fileOf(name)).isFile()));
    return v;
  };
})();

/** The longest prefix of a dotted path that names a class file: qx.io.remote.Exchange.registerType -> qx.io.remote.Exchange. */
function classIn(path: string): string | undefined {
  const parts = path.split('.');
  for (let n = parts.length; n >= 1; n--) {
    const name = parts.slice(0, n).join('.');
    if (isClass(name)) return name;
  }
  return undefined;
}

/** Environment key -> the class whose defer adds its check (qx.core.Environment.add("engine.name", ...)). */
function environmentProviders(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, ns: string[]) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name), [...ns, entry.name]);
      else if (entry.name.endsWith('.js') && entry.name !== '__init__.js') {
        const text = readFileSync(join(dir, entry.name), 'utf8');
        for (const m of text.matchAll(/qx\.core\.Environment\.add\(\s*"([^"]+)"/g)) out.set(m[1], [...ns, entry.name.slice(0, -3)].join('.'));
      }
    }
  };
  walk(join(classDir, 'qx'), ['qx']);
  return out;
}

const dotted = (e: ts.Expression): string | undefined => {
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) {
    const left = dotted(e.expression);
    return left === undefined ? undefined : `${left}.${e.name.text}`;
  }
  return undefined;
};

const envCall = /^qx\.core\.Environment\.(get|select|filter|getAsync|selectAsync)$/;

function analyse(name: string, providers: Map<string, string>): ClassInfo {
  const source = readFileSync(fileOf(name), 'utf8');
  const info: ClassInfo = { name, source, load: new Set(), before: new Set(), runtime: new Set() };
  const add = (dep: string | undefined, atLoad: boolean) => {
    if (!dep || dep === name) return;
    (atLoad ? info.load : info.runtime).add(dep);
  };
  for (const m of source.matchAll(/@(require|use)\(\s*([\w.$]+)/g)) {
    const dep = classIn(m[2]);
    if (dep && dep !== name) (m[1] === 'require' ? info.before : info.runtime).add(dep);
  }

  const file = ts.createSourceFile(fileOf(name), source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const visit = (node: ts.Node, atLoad: boolean): void => {
    // A function's body runs later, unless it is the class's defer or is called on the spot.
    if (ts.isFunctionExpression(node) || ts.isArrowFunction(node) || ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) {
      const parent = node.parent;
      const isDefer = (ts.isPropertyAssignment(parent) || ts.isMethodDeclaration(node)) && (node.name ?? (parent as ts.PropertyAssignment).name)?.getText() === 'defer';
      let up: ts.Node = parent;
      while (ts.isParenthesizedExpression(up)) up = up.parent;
      const calledNow = ts.isCallExpression(up) && (up.expression === node || up.expression === node.parent);
      ts.forEachChild(node, (c) => visit(c, atLoad && (isDefer || calledNow)));
      return;
    }
    if (ts.isPropertyAccessExpression(node) && !ts.isPropertyAccessExpression(node.parent)) {
      const path = dotted(node);
      if (path?.startsWith('qx.') || path?.startsWith('qxWeb.')) add(classIn(path), atLoad);
    }
    // qxWeb is the one class outside the qx namespace (qx.module.* extend it).
    if (ts.isIdentifier(node) && node.text === 'qxWeb' && !ts.isPropertyAccessExpression(node.parent)) add('qxWeb', atLoad);
    if (ts.isCallExpression(node)) {
      const callee = dotted(node.expression);
      const key = node.arguments[0];
      if (callee && envCall.test(callee) && key && ts.isStringLiteral(key)) add(providers.get(key.text), atLoad);
    }
    ts.forEachChild(node, (c) => visit(c, atLoad));
  };
  visit(file, true);
  return info;
}

/** Every class reachable from the roots, in an order where each follows what it needs at load. */
function order(): ClassInfo[] {
  const providers = environmentProviders();
  const infos = new Map<string, ClassInfo>();
  const queue = [...roots];
  while (queue.length) {
    const name = queue.shift()!;
    if (infos.has(name)) continue;
    const info = analyse(name, providers);
    infos.set(name, info);
    queue.push(...info.load, ...info.before, ...info.runtime);
  }
  const out: ClassInfo[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const place = (name: string, path: string[]) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`qooxdoo classes need each other at load time: ${[...path, name].join(' -> ')}`);
    state.set(name, 'visiting');
    for (const dep of [...infos.get(name)!.load, ...infos.get(name)!.before].sort()) place(dep, [...path, name]);
    state.set(name, 'done');
    out.push(infos.get(name)!);
  };
  for (const name of [...roots, ...[...infos.keys()].sort()]) place(name, []);
  return out;
}

/**
 * One class file as the qooxdoo compiler emits it: in its own function scope, first running the
 * pending defers of the classes it needs at load (`executePendingDefers` with the compiler's
 * `$$dbClassInfo` map), and leaving that map on the class for the classes that need it in turn.
 */
function wrap(c: ClassInfo): string {
  if (c.name === 'qx.Bootstrap') return `\n// ---- ${c.name}\n${c.source}\n`;
  const dependsOn = Object.fromEntries([...c.load].sort().map((d) => [d, { require: true }]));
  return [
    `\n// ---- ${c.name}\n(function () {\nvar $$dbClassInfo = ${JSON.stringify({ dependsOn })};\nqx.Bootstrap.executePendingDefers($$dbClassInfo);\n`,
    c.source,
    `\n;var $$self = ${JSON.stringify(c.name)}.split(".").reduce(function (o, k) { return o && o[k]; }, window);\nif ($$self) $$self.$$dbClassInfo = $$dbClassInfo;\n})();\n`,
  ].join('');
}

/** The bundle's text, built or read from the cache. */
export function qooxdooBundle(): { script: string; version: string; classes: number } {
  const version = (JSON.parse(readFileSync(join(frameworkDir, 'package.json'), 'utf8')) as { version: string }).version;
  const builder = createHash('sha256').update(readFileSync(import.meta.filename)).digest('hex').slice(0, 12);
  const cacheDir = join(repoRoot, 'node_modules', '.cache', 'oms-qooxdoo');
  const cached = join(cacheDir, `qx-${version}-${builder}.js`);
  if (existsSync(cached)) {
    const script = readFileSync(cached, 'utf8');
    return { script, version, classes: Number(/^\/\/ classes: (\d+)/m.exec(script)?.[1] ?? 0) };
  }
  const classes = order();
  const parts = [
    `// qooxdoo ${version} framework classes from @qooxdoo/framework, in load order\n// classes: ${classes.length}\n`,
    // What a compiled qooxdoo application sets before its classes load.
    `window.qx = { $$environment: { "qx.application": "oms.Test", "qx.version": ${JSON.stringify(version)} }, $$libraries: { qx: { sourceUri: "/", resourceUri: "/" } }, $$resources: {}, $$translations: {}, $$locales: {}, $$loader: { delayDefer: true } };\n`,
    ...classes.map(wrap),
    // What qooxdoo's loader does once every class is there: the remaining defers, then start-up.
    `\nqx.Bootstrap.executePendingDefers();\nqx.$$loader.delayDefer = false;\nqx.event.handler.Application.onScriptLoaded();\n`,
  ];
  const script = parts.join('');
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(cached, script);
  return { script, version, classes: classes.length };
}
