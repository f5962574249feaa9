/**
 * How results are printed: `--json` (one JSON document) and `--yaml` for scripts, a table (rows of
 * objects) or YAML-ish plain text for people. Tables only for lists of flat-ish rows; nested values
 * are shown as compact JSON in their cell.
 */
import Table from 'cli-table3';
import yaml from 'js-yaml';

export type Format = 'table' | 'json' | 'yaml';

export interface OutputOptions {
  json?: boolean;
  yaml?: boolean;
}

export const formatOf = (o: OutputOptions): Format => (o.json ? 'json' : o.yaml ? 'yaml' : 'table');

const cell = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** A table of rows with these columns (all keys of the rows when not given), plain ASCII borders off. */
export function table(rows: readonly Record<string, unknown>[], columns?: readonly string[]): string {
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const t = new Table({
    head: cols.map((c) => c.toUpperCase()),
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '' },
  });
  for (const r of rows) t.push(cols.map((c) => cell(r[c])));
  return `${t.toString().split('\n').map((l) => l.trimEnd()).join('\n')}\n`;
}

/** The text for a result: JSON, YAML, or for people a table of a list of objects, else YAML. */
export function render(value: unknown, format: Format, columns?: readonly string[]): string {
  if (format === 'json') return `${JSON.stringify(value ?? null, null, 2)}\n`;
  if (format === 'yaml') return yaml.dump(value ?? null, { noRefs: true, lineWidth: 120 });
  if (Array.isArray(value) && value.length > 0 && value.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))) return table(value as Record<string, unknown>[], columns);
  if (Array.isArray(value) && value.length === 0) return columns ? table([], columns) : '';
  if (value === null || value === undefined) return '';
  if (typeof value !== 'object') return `${String(value)}\n`;
  return yaml.dump(value, { noRefs: true, lineWidth: 120 });
}
