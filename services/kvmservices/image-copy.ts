/**
 * Disk copies of long operations (clone, template deploy, template from a guest) with real
 * progress: every source's virtual size is read first, so the task reports bytes done of a total
 * known before the first byte moves, and each copy's `qemu-img convert -p` steps move it on.
 */
import * as cmd from './commands.ts';
import { storageRun, type KvmNode } from './node.ts';
import { parseQemuImgInfo } from './parse.ts';
import { bytesAt, convertProgressSink, formatBytes } from './progress.ts';

export interface DiskCopy {
  /** What the log calls the disk: its target (vda) or its template file. */
  label: string;
  from: string;
  to: string;
  /** Output format: qcow2 or raw. */
  format: string;
}

/** The part of a task handle a copy reports to. */
export interface StepReport {
  log(line: string): void;
  progress(done: number, total: number): void;
}

/** A copy of many gigabytes takes a while; the task's own signal, not this, is what stops it. */
const COPY_TIMEOUT_MS = 6 * 60 * 60_000;

/** Virtual sizes of the sources, in order (bytes). */
export async function sourceSizes(n: KvmNode, copies: readonly DiskCopy[]): Promise<number[]> {
  const sizes: number[] = [];
  for (const c of copies) sizes.push(parseQemuImgInfo((await storageRun(n, cmd.imgInfo(c.from))).stdout).virtualSize);
  return sizes;
}

/**
 * Copies each disk in turn (full copies, no backing chain), logging a line per disk and reporting
 * bytes done of the sum of the virtual sizes. `onStart` is told each destination before its copy
 * begins: a half-made file (failure, cancel) is the caller's to remove, like a finished one.
 */
export async function copyDisks(n: KvmNode, copies: readonly DiskCopy[], report: StepReport, onStart: (to: string) => void = () => {}): Promise<{ total: number }> {
  const sizes = await sourceSizes(n, copies);
  const total = sizes.reduce((a, b) => a + b, 0);
  report.log(`${copies.length} disk${copies.length === 1 ? '' : 's'} to copy, ${formatBytes(total)} in all`);
  report.progress(0, total);
  let before = 0;
  for (const [i, c] of copies.entries()) {
    report.log(`copying disk ${i + 1}/${copies.length} ${c.label}: ${formatBytes(sizes[i])} to ${c.to} (${c.format})`);
    onStart(c.to);
    const sink = convertProgressSink((p) => report.progress(before + bytesAt(p, sizes[i]), total));
    await storageRun(n, cmd.imgConvert(c.from, c.to, c.format), { timeoutMs: COPY_TIMEOUT_MS, stdout: sink });
    before += sizes[i];
    report.progress(before, total);
  }
  return { total };
}
