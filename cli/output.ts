import { UsageError } from './context.js';
import type { ParsedArgs } from './args.js';

/**
 * Report output in three forms (docs/design.md §8 `--json|--csv`): an aligned table for people, JSON
 * lines (one object per row, exactly as given — nested objects stay nested) for scripts, and CSV
 * (RFC 4180 quoting) for spreadsheets, where a nested object becomes one column per key
 * (`affiliate.hitpath`, `revenue_last_7d.everflow`) and null an empty cell.
 */

export type OutputFormat = 'table' | 'json' | 'csv';

/** `--json` / `--csv` (not both) → format. */
export function outputFormat(args: ParsedArgs): OutputFormat {
  if (args.flags.json && args.flags.csv) throw new UsageError('give --json or --csv, not both');
  return args.flags.json ? 'json' : args.flags.csv ? 'csv' : 'table';
}

type Obj = Record<string, unknown>;

/** Flattens nested plain objects into dotted keys; arrays become JSON text. */
export function flatten(row: Obj, prefix = '', out: Obj = {}): Obj {
  for (const [k, v] of Object.entries(row)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Obj, key, out);
    else out[key] = Array.isArray(v) ? JSON.stringify(v) : v;
  }
  return out;
}

/** Columns in first-seen order over all rows (a nested key missing from one row is an empty cell). */
export function columnsOf(rows: readonly Obj[]): string[] {
  const cols: string[] = [];
  const seen = new Set<string>();
  for (const r of rows)
    for (const k of Object.keys(r))
      if (!seen.has(k)) {
        seen.add(k);
        cols.push(k);
      }
  return cols;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return String(v);
}

/**
 * A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR first: an affiliate
 * can name itself `=HYPERLINK(…)`) gets a leading `'`, which spreadsheets show as text. Plain
 * numbers (`-12.50`) are left as they are.
 */
export function neutralizeFormula(s: string): string {
  return /^[=+\-@\t\r]/.test(s) && !/^[+-]?\d+(?:\.\d+)?$/.test(s) ? `'${s}` : s;
}

export function csvEscape(raw: string): string {
  const s = neutralizeFormula(raw);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: readonly Obj[], columns?: string[]): string {
  const flat = rows.map((r) => flatten(r));
  const cols = columns ?? columnsOf(flat);
  const lines = [cols.map(csvEscape).join(',')];
  for (const r of flat) lines.push(cols.map((c) => csvEscape(cell(r[c]))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function toJsonLines(rows: readonly Obj[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** Aligned columns; numbers and money right-aligned; nested objects shown as `hitpath 1001 / everflow 57`. */
export function toTable(rows: readonly Obj[], columns?: string[]): string {
  const shown = rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [
        k,
        v !== null && typeof v === 'object' && !Array.isArray(v)
          ? Object.entries(v as Obj)
              .map(([p, x]) => `${p} ${cell(x)}`)
              .join(' / ')
          : v,
      ]),
    ),
  );
  const cols = columns ?? columnsOf(shown);
  const text = shown.map((r) => cols.map((c) => (r[c] === null || r[c] === undefined ? '-' : String(r[c]))));
  const width = cols.map((c, i) => Math.max(c.length, ...text.map((t) => t[i].length)));
  const numeric = cols.map(
    (_, i) => text.length > 0 && text.every((t) => t[i] === '-' || /^-?\d+(\.\d+)?(e-?\d+)?$/.test(t[i])),
  );
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (numeric[i] ? v.padStart(width[i]) : v.padEnd(width[i])))
      .join('  ')
      .trimEnd();
  return `${[line(cols), line(width.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n')}\n`;
}

export function writeRows(
  out: NodeJS.WritableStream,
  rows: readonly Obj[],
  format: OutputFormat,
  options: { columns?: string[]; empty?: string } = {},
): void {
  if (format === 'json') out.write(toJsonLines(rows));
  else if (format === 'csv') out.write(toCsv(rows, options.columns));
  else out.write(rows.length ? toTable(rows, options.columns) : `${options.empty ?? 'nothing to show'}\n`);
}
