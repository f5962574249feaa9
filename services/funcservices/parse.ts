/** Readers of FuncService command output. */

/** `which` prints one path per tool found. */
export function toolsFound(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((p) => p.slice(p.lastIndexOf('/') + 1));
}

/** Lines naming guests or containers; blank lines (virsh ends its list with one) do not count. */
export const countNames = (stdout: string): number => stdout.split('\n').filter((l) => l.trim() !== '').length;
