/**
 * The web console's first load (issue 15): the gzip size of what a browser fetches before the
 * console shows (page, entry script, stylesheet and the chunks the entry imports statically),
 * built afresh as `npm run ui:build` builds it. Screens loaded lazily later do not count.
 */
import { buildUi } from '../ui/build.ts';
import { against, type Target } from './lib.ts';

const TARGET: Target = { op: '<=', value: 150 };

export async function benchUi(out: (line: string) => void): Promise<void> {
  const b = await buildUi();
  out(`  initial load: ${against(b.initialGzipBytes / 1024, TARGET, 1, ' KiB gzip')}`);
  out(`       files: /, ${b.initial.join(', ')}`);
}
