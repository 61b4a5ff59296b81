import type { Config } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import { decimal } from '../db/port.js';
import { toSqlDateTime } from '../util/time.js';
import { CsvFileError, readCsv, type CsvProblem } from './csv-file.js';

/**
 * `dualtrack fx import FILE.csv`: monthly FX rates as `currency,month,rate` (header required), where
 * `rate` is units of the base currency per unit of `currency` (fx_rates' meaning) and `month` is
 * `YYYY-MM` (or the first day, `YYYY-MM-01`). The reporting views convert each conversion with the
 * rate of its currency for the UTC month it converted in.
 *
 * Validated whole before anything is written (every problem with its line number): ISO 4217 code
 * (three capital letters), a real month, a positive plain decimal with ≤ 10 integer and ≤ 8
 * fractional digits (DECIMAL(18,8)), no (currency, month) twice, and the base currency only with rate
 * 1 (it needs no row; a different rate would be a contradiction). Then one transaction upserts the
 * rows; an unchanged row keeps its `updated_at`, so re-importing a file changes nothing.
 */

export const FX_COLUMNS = ['currency', 'month', 'rate'] as const;

export interface FxEntry {
  line: number;
  currency: string;
  /** First day of the month, `YYYY-MM-01`. */
  month: string;
  rate: string;
}

export function parseFxCsv(text: string, config: Pick<Config, 'baseCurrency'>, file = 'fx file'): FxEntry[] {
  const { records, problems } = readCsv(text, FX_COLUMNS);
  const out: FxEntry[] = [];
  const seen = new Map<string, number>();
  for (const { line, values } of records) {
    const bad: string[] = [];
    const currency = values.currency.toUpperCase();
    if (!/^[A-Z]{3}$/.test(currency))
      bad.push(`currency ${JSON.stringify(values.currency)} is not an ISO 4217 code like EUR`);
    const m = /^(\d{4})-(\d{2})(?:-01)?$/.exec(values.month);
    const month = m && Number(m[2]) >= 1 && Number(m[2]) <= 12 ? `${m[1]}-${m[2]}-01` : null;
    if (!month) bad.push(`month ${JSON.stringify(values.month)} is not YYYY-MM (or YYYY-MM-01)`);
    const rate = values.rate;
    if (!/^\d{1,10}(\.\d{1,8})?$/.test(rate))
      bad.push(`rate ${JSON.stringify(rate)} is not a positive decimal with at most 8 decimals`);
    else if (/^0+(\.0+)?$/.test(rate)) bad.push('rate must be greater than 0');
    else if (currency === config.baseCurrency && Number(rate) !== 1)
      bad.push(`${currency} is the base currency: its rate is 1 (got ${rate})`);
    if (bad.length) {
      problems.push({ line, message: bad.join('; ') });
      continue;
    }
    const key = `${currency}\u0000${month}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({ line, message: `duplicate ${currency} ${month!.slice(0, 7)} (first on line ${first})` });
      continue;
    }
    seen.set(key, line);
    out.push({ line, currency, month: month!, rate });
  }
  if (problems.length)
    throw new CsvFileError(
      file,
      [...problems].sort((a: CsvProblem, b: CsvProblem) => a.line - b.line),
    );
  return out;
}

export async function importFxRates(
  db: Db,
  names: DbNames,
  entries: readonly FxEntry[],
  now: Date,
): Promise<{ inserted: number; updated: number; unchanged: number }> {
  return db.transaction(async (tx) => {
    const stored = await tx.query<{ currency: string; month: string; rate: string }>(
      `SELECT currency, DATE_FORMAT(month, '%Y-%m-%d') AS month, rate FROM ${names.core}.fx_rates FOR UPDATE`,
    );
    const byKey = new Map(stored.map((r) => [`${r.currency}\u0000${r.month}`, r.rate]));
    const result = { inserted: 0, updated: 0, unchanged: 0 };
    const changed: FxEntry[] = [];
    for (const e of entries) {
      const prior = byKey.get(`${e.currency}\u0000${e.month}`);
      if (prior === undefined) result.inserted++;
      else if (sameDecimal(prior, e.rate)) {
        result.unchanged++;
        continue;
      } else result.updated++;
      changed.push(e);
    }
    if (changed.length) {
      await tx.batch(
        `INSERT INTO ${names.core}.fx_rates (currency, month, rate, updated_at) VALUES (:currency, :month, :rate, :now)
         ON DUPLICATE KEY UPDATE rate = VALUES(rate), updated_at = VALUES(updated_at)`,
        changed.map((e) => ({ currency: e.currency, month: e.month, rate: decimal(e.rate), now: toSqlDateTime(now) })),
      );
    }
    return result;
  });
}

/** "1.10000000" equals "1.1". */
function sameDecimal(a: string, b: string): boolean {
  const norm = (s: string) => {
    const [w, f = ''] = s.split('.');
    return `${w.replace(/^0+(?=\d)/, '')}.${f.replace(/0+$/, '')}`;
  };
  return norm(a) === norm(b);
}
