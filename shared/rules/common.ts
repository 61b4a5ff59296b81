import type { Config } from '../config/schema.js';
import { DAY_MS, HOUR_MS, toSqlDateTime } from '../util/time.js';
import { MAX_EVIDENCE } from './types.js';

/**
 * Windows shared by the rules. Conventions (documented once, here):
 * - Rollup hours are buckets [hour, hour + 1 h). A rule counts an hour only when it is complete
 *   before `at` (hour + 1 h ≤ at), so a rule never sees events at or after `at`, and evaluating at
 *   10:30 and at 10:59 gives the same answer.
 * - Raw conversions are counted when `converted_at < at`.
 * - Days are UTC days.
 */

/** Start of the first hour that is NOT complete at `at` (rollup rows with hour < this are complete). */
export function hourCutoff(at: Date): Date {
  return new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
}

/** 00:00 UTC of the day containing `at`. */
export function utcDayStart(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}

export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function dateOf(day: string): Date {
  return new Date(`${day}T00:00:00.000Z`);
}

/**
 * The lookback start of the money-at-risk rules (docs/design.md §6): migration.startDate 00:00 UTC,
 * but never more than `maxLookbackDays` before `at`.
 */
export function moneyLookbackStart(config: Config, at: Date, maxLookbackDays: number): Date {
  const start = dateOf(config.migration.startDate).getTime();
  const cap = at.getTime() - maxLookbackDays * DAY_MS;
  return new Date(Math.max(start, cap));
}

/** Configured platform keys, legacy first (config order), then others, the target last. */
export function orderedPlatforms(config: Config): string[] {
  const keys = Object.keys(config.platforms);
  const { legacy, target } = config.migration;
  const rest = keys.filter((k) => !legacy.includes(k) && k !== target);
  return [...legacy.filter((k) => keys.includes(k)), ...rest, ...(keys.includes(target) ? [target] : [])];
}

/** Sorts two platforms into subject order (legacy first, target last). */
export function platformPair(config: Config, a: string, b: string): [string, string] {
  const order = orderedPlatforms(config);
  return order.indexOf(a) <= order.indexOf(b) ? [a, b] : [b, a];
}

export function sqlTime(d: Date): string {
  return toSqlDateTime(d);
}

/** DATETIME string from the database → ISO with Z (`2026-10-12 13:02:11.000` → `2026-10-12T13:02:11.000Z`). */
export function isoFromSql(s: unknown): string | null {
  if (s === null || s === undefined) return null;
  const str = String(s);
  const [date, time = '00:00:00'] = str.split(' ');
  const [hms, frac = ''] = time.split('.');
  return `${date}T${hms}.${(`${frac}000`).slice(0, 3)}Z`;
}

export function takeEvidence<T>(rows: readonly T[]): T[] {
  return rows.slice(0, MAX_EVIDENCE);
}

export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? word : pluralWord}`;
}

export function pct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}

/** Short display of a subject's ids: `hitpath 1001 / everflow 57`. */
export function idsText(ids: Record<string, string> | undefined): string {
  if (!ids) return '?';
  return Object.entries(ids)
    .map(([p, id]) => `${p} ${id}`)
    .join(' / ');
}

/** Numbers in metrics are rounded so that reruns print the same JSON and humans can read them. */
export function round(x: number, digits = 6): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Orders subject ids legacy-first (config order), so JSON output is stable. */
export function orderIds(config: Config, ids: Record<string, string>): Record<string, string> {
  const order = orderedPlatforms(config);
  const keys = Object.keys(ids).sort((a, b) => {
    const ia = order.indexOf(a) === -1 ? 99 : order.indexOf(a);
    const ib = order.indexOf(b) === -1 ? 99 : order.indexOf(b);
    return ia - ib || (a < b ? -1 : a > b ? 1 : 0);
  });
  return Object.fromEntries(keys.map((k) => [k, ids[k]]));
}
