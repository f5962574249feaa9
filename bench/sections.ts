/**
 * How `npm run bench` runs its sections: each apart, so one that fails (a peer that will not
 * install, a node that does not answer) prints its error and the others still run; the run fails
 * at the end when any section did.
 */
import { parseArgs } from 'node:util';

export interface Section<C> {
  /** Short name for `--only`. */
  name: string;
  /** The heading printed as `== title`. */
  title: string;
  run(ctx: C): Promise<void>;
}

/**
 * An error thrown or emitted outside the section's own promise (an 'error' event nobody listens
 * to, a rejected promise nobody awaits) would otherwise end the whole run: it fails the section
 * that is running instead.
 */
function strayErrors(): { failed: Promise<never>; dispose(): void } {
  let fail!: (e: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  const onError = (e: unknown) => fail(e);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    failed,
    dispose: () => {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Runs every section in order; resolves with the names of those that failed. */
export async function runSections<C>(sections: readonly Section<C>[], ctx: C, out: (line: string) => void): Promise<string[]> {
  const failed: string[] = [];
  for (const s of sections) {
    out(`== ${s.title}`);
    const stray = strayErrors();
    try {
      await Promise.race([s.run(ctx), stray.failed]);
    } catch (e) {
      out(`FAILED: ${messageOf(e)}`);
      failed.push(s.name);
    } finally {
      stray.dispose();
    }
  }
  return failed;
}

export interface BenchArgs {
  nodes: number;
  only?: string[];
  quick: boolean;
}

export const DEFAULT_NODES = 20;

export const usage = `usage: npm run bench -- [--nodes N] [--only SECTION[,SECTION...]] [--quick]
  --nodes N   lab nodes to use (default ${DEFAULT_NODES}, or OMS_BENCH_NODES); the lab is brought up
              with N nodes only when fewer are up
  --only S    run only these sections (repeatable or comma-separated)
  --quick     short durations and fewer rounds (development; figures are noisier)`;

/** Parses the command line (and OMS_BENCH_NODES); throws with the usage on anything unknown. */
export function parseBenchArgs(argv: string[], env: NodeJS.ProcessEnv, known: readonly string[]): BenchArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { nodes: { type: 'string' }, only: { type: 'string', multiple: true }, quick: { type: 'boolean' } }, strict: true, allowPositionals: false });
  } catch (e) {
    throw new Error(`${messageOf(e)}\n${usage}`);
  }
  const { values } = parsed;
  const nodesText = values.nodes ?? env.OMS_BENCH_NODES ?? String(DEFAULT_NODES);
  const nodes = Number(nodesText);
  // lab.sh makes at most 50 nodes.
  if (!/^\d+$/.test(nodesText) || nodes < 1 || nodes > 50) throw new Error(`--nodes must be 1..50, not ${JSON.stringify(nodesText)}\n${usage}`);
  const only = values.only?.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((s) => !known.includes(s)) ?? [];
  if (unknown.length) throw new Error(`unknown section ${unknown.join(', ')}; sections: ${known.join(', ')}\n${usage}`);
  return { nodes, only, quick: values.quick ?? false };
}
