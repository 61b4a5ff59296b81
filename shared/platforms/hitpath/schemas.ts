import * as z from 'zod';
import {
  HITPATH_DEFAULT_COLUMNS,
  HITPATH_OPTIONAL_COLUMNS,
  type HitpathColumnKey,
  type HitpathOptionalColumnKey,
  type PlatformConfig,
} from '../../config/schema.js';

/**
 * HitPath's Reporting API has no public column list (docs/platform-apis.md §3.3: the page with
 * the output columns was never published), so a report is read by header name through a column
 * map: docs/design.md §3's defaults, overridden per deployment under `platforms.<key>.columns`.
 *
 * A raw record is one report row exactly as HitPath sent it (its own header → cell text); that is
 * what travels through the queue and what `raw` keeps. The schemas below validate the row *after*
 * header mapping (logical column → cell text), which is what map.ts turns into canonical rows.
 */

export type HitpathConfig = Extract<PlatformConfig, { kind: 'hitpath' }>;
export type HitpathColumn = HitpathColumnKey | HitpathOptionalColumnKey;
/** Logical column → the header this deployment's report uses (undefined: not in this deployment's report). */
export type HitpathColumnMap = Record<HitpathColumn, string | undefined>;
export type HitpathReportType = 'clicks' | 'sales';

export function resolveColumns(overrides: HitpathConfig['columns'] | undefined): HitpathColumnMap {
  const map = { ...HITPATH_DEFAULT_COLUMNS } as Record<HitpathColumn, string | undefined>;
  for (const k of HITPATH_OPTIONAL_COLUMNS) map[k] = undefined;
  for (const [k, v] of Object.entries(overrides ?? {})) if (v) map[k as HitpathColumn] = v;
  return map;
}

/**
 * Columns a report of each type must have: without them a row cannot become a canonical row, so a
 * header row lacking one is a configuration problem, reported once for the whole reply.
 * (`status` is required for sales: mapping a missing status to "approved" would be a silent guess.)
 */
export const REQUIRED_COLUMNS: Record<HitpathReportType, readonly HitpathColumn[]> = {
  clicks: ['click_id', 'clicked_at', 'offer_id', 'affiliate_id'],
  sales: ['click_id', 'converted_at', 'offer_id', 'affiliate_id', 'revenue', 'payout', 'status'],
};

/** Columns read when present; a default header that is absent reads as null (an explicitly configured one must exist). */
export const OPTIONAL_COLUMNS: Record<HitpathReportType, readonly HitpathColumn[]> = {
  clicks: ['sub1', 'sub2', 'sub3', 'ip', 'is_unique'],
  sales: ['clicked_at', 'sub1', 'sub2', 'sub3', 'ip', 'order_id', 'event_name'],
};

/** The column whose time places a row in a window: click time for clicks, sale (pixel) time for sales. */
export const TIME_COLUMN: Record<HitpathReportType, HitpathColumn> = { clicks: 'clicked_at', sales: 'converted_at' };

/** Finds a header by name, ignoring case and surrounding spaces (`HitID` and `hitid` are the same column). */
export function findHeader(headers: readonly string[], name: string): string | undefined {
  const want = name.trim().toLowerCase();
  return headers.find((h) => h === name) ?? headers.find((h) => h.trim().toLowerCase() === want);
}

/** A raw report row: header → cell text. */
export const rawRecordSchema = z.record(z.string(), z.string());
export type HitpathRawRecord = z.infer<typeof rawRecordSchema>;

/** Logical column → cell text (null: column absent from this report). */
export type HitpathMappedRow = Partial<Record<HitpathColumn, string | null>>;

/** Reads the logical columns of one type from a raw record through the column map. */
export function pickColumns(
  record: HitpathRawRecord,
  columns: HitpathColumnMap,
  type: HitpathReportType,
): HitpathMappedRow {
  const headers = Object.keys(record);
  const out: HitpathMappedRow = {};
  for (const col of [...REQUIRED_COLUMNS[type], ...OPTIONAL_COLUMNS[type]]) {
    const name = columns[col];
    const header = name === undefined ? undefined : findHeader(headers, name);
    out[col] = header === undefined ? null : record[header];
  }
  return out;
}

const required = z.string('missing from the record').trim().min(1, 'is empty');
const optional = z
  .string()
  .nullable()
  .transform((v) => (v === null || v.trim() === '' ? null : v.trim()));
/** Money stays a decimal string: digits, optional sign and fraction; no thousands separators, no exponent, no currency sign. */
export const DECIMAL = /^-?\d+(\.\d+)?$/;
const decimal = z.string('missing from the record').trim().regex(DECIMAL, 'expected a decimal like 12.50');

export const hitpathClickRowSchema = z.object({
  click_id: required,
  clicked_at: required,
  offer_id: required,
  affiliate_id: required,
  sub1: optional,
  sub2: optional,
  sub3: optional,
  ip: optional,
  is_unique: optional,
});
export type HitpathClickRow = z.infer<typeof hitpathClickRowSchema>;

export const hitpathSaleRowSchema = z.object({
  click_id: required,
  converted_at: required,
  clicked_at: optional,
  offer_id: required,
  affiliate_id: required,
  sub1: optional,
  sub2: optional,
  sub3: optional,
  ip: optional,
  order_id: optional,
  revenue: decimal,
  payout: decimal,
  status: required,
  event_name: optional,
});
export type HitpathSaleRow = z.infer<typeof hitpathSaleRowSchema>;
