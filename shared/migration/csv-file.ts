import { parse } from 'csv-parse/sync';

/**
 * Reading the operator's CSV files (`mappings import`, `fx import`) with line numbers, so every
 * problem can be reported as `line N: …`. A header row is required and must name exactly the
 * expected columns (any order; extra or missing columns are an error), because a file with a
 * shifted or misspelt column would otherwise load the wrong values into the right places.
 */

export interface CsvProblem {
  /** 1-based line number in the file (the line a record ends on; records rarely span lines). */
  line: number;
  message: string;
}

export class CsvFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: CsvProblem[],
  ) {
    const shown = problems.slice(0, 50).map((p) => `  line ${p.line}: ${p.message}`);
    if (problems.length > 50) shown.push(`  …and ${problems.length - 50} more`);
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}, nothing was loaded:\n${shown.join('\n')}`,
    );
    this.name = 'CsvFileError';
  }
}

export interface CsvRecord {
  line: number;
  values: Record<string, string>;
}

/**
 * Parses `text` into records keyed by the expected column names. Structural problems (no header,
 * wrong columns, a row with the wrong number of fields, an unclosed quote) are collected with their
 * line numbers; the caller adds its own field checks and throws CsvFileError once for all of them.
 */
export function readCsv(text: string, expected: readonly string[]): { records: CsvRecord[]; problems: CsvProblem[] } {
  const problems: CsvProblem[] = [];
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(text, {
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      bom: true,
      trim: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    const err = e as Error & { lines?: number };
    return { records: [], problems: [{ line: err.lines ?? 1, message: `not valid CSV: ${err.message}` }] };
  }
  if (rows.length === 0)
    return { records: [], problems: [{ line: 1, message: `empty file: expected a header ${expected.join(',')}` }] };
  const header = rows[0].record.map((h) => h.toLowerCase());
  const headerLine = rows[0].info.lines;
  const missing = expected.filter((c) => !header.includes(c));
  const unknown = header.filter((h) => !expected.includes(h));
  const dup = header.filter((h, i) => header.indexOf(h) !== i);
  if (missing.length || unknown.length || dup.length) {
    const parts = [
      missing.length ? `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` : '',
      unknown.length
        ? `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => JSON.stringify(u)).join(', ')}`
        : '',
      dup.length ? `duplicate column${dup.length > 1 ? 's' : ''} ${dup.join(', ')}` : '',
    ].filter(Boolean);
    return {
      records: [],
      problems: [{ line: headerLine, message: `header must be ${expected.join(',')}: ${parts.join('; ')}` }],
    };
  }
  const records: CsvRecord[] = [];
  for (const row of rows.slice(1)) {
    const line = row.info.lines;
    if (row.record.length !== header.length) {
      problems.push({
        line,
        message: `expected ${header.length} fields (${header.join(',')}), got ${row.record.length}`,
      });
      continue;
    }
    const values: Record<string, string> = {};
    for (const [i, h] of header.entries()) values[h] = row.record[i];
    const empty = expected.filter((c) => values[c] === '');
    if (empty.length) {
      problems.push({ line, message: `empty ${empty.join(', ')}` });
      continue;
    }
    records.push({ line, values });
  }
  if (records.length === 0 && problems.length === 0)
    problems.push({ line: headerLine, message: 'no data rows after the header' });
  return { records, problems };
}
