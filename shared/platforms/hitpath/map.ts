import type * as z from 'zod';
import type { ClickRow, ConversionRow, ConversionStatus } from '../../model/canonical.js';
import { money } from '../kit/decimal.js';
import { redactRaw, subIds } from '../kit/personal.js';
import { BadField, mapRecord, statusFrom } from '../kit/record.js';
import type { NormalizeContext, NormalizeResult } from '../types.js';
import { parseLocalTime, zoneOffsetMs } from '../../util/time.js';
import {
  hitpathClickRowSchema,
  hitpathSaleRowSchema,
  pickColumns,
  rawRecordSchema,
  type HitpathColumn,
  type HitpathColumnMap,
} from './schemas.js';

/**
 * HitPath report rows → canonical rows.
 *
 * - Times: HitPath writes wall-clock times in the instance's zone (config `timezone`; the API
 *   documents no zone at all, reference §3.5). Accepted forms are those the reference shows for
 *   dates (`2008-02-02`, `1/21/2008`) with an optional time (`2026-11-01 01:30:00`,
 *   `11/1/2026 1:30:00 AM`), optionally followed by a UTC offset (`-05:00`, `Z`) or the zone's
 *   abbreviation (`EST`/`EDT`). Without either, the repeated autumn hour is ambiguous and takes
 *   the earlier instant (shared/util/time.ts); a spring-gap time moves forward by the gap.
 * - Conversion id: HitPath has none — a sale row *is* the click row (reference §5). A base sale
 *   (empty event column) is `<hitid>`, since non-Multi-Sales campaigns record one sale per HitID;
 *   a Multi-Sales event is `<hitid>:<event>`, so every event is its own conversion and the base
 *   sale keeps its id when events arrive. Two fires of the *same* event on one HitID cannot be
 *   told apart by the report and collapse into one row (the later read wins).
 * - order_id: HitPath's Trans ID is the advertiser's transaction id. Manually added sales carry
 *   "added by admin (initials)" there instead (reference §3.4); that is not an order id, and
 *   keeping it would make every manual sale a "duplicate" of every other, so it becomes null
 *   (the text stays in `raw`). transaction_id stays null: HitPath's only own id is the HitID,
 *   which is click_id.
 * - revenue = the `amount` column (payin, docs/design.md §3); sale_amount is not in the report → null.
 */

/** HitPath's status words (case-insensitive) → canonical status. Anything else is quarantined, never guessed. */
export const HITPATH_STATUS_MAP: Readonly<Record<string, ConversionStatus>> = {
  approved: 'approved',
  paid: 'approved',
  pending: 'pending',
  unapproved: 'pending',
  hold: 'pending',
  'on hold': 'pending',
  rejected: 'rejected',
  declined: 'rejected',
  denied: 'rejected',
  reversed: 'rejected',
  returned: 'rejected',
  refunded: 'rejected',
  chargeback: 'rejected',
  void: 'rejected',
  voided: 'rejected',
  cancelled: 'rejected',
  canceled: 'rejected',
  invalid: 'invalid',
  fraud: 'invalid',
  duplicate: 'invalid',
  scrubbed: 'invalid',
};

export function mapHitpathStatus(value: string): ConversionStatus | null {
  return HITPATH_STATUS_MAP[value.trim().toLowerCase().replace(/\s+/g, ' ')] ?? null;
}

const TRUE_WORDS = new Set(['1', 'y', 'yes', 'true', 't']);
const FALSE_WORDS = new Set(['0', 'n', 'no', 'false', 'f']);

const abbrevFormatters = new Map<string, Intl.DateTimeFormat>();
function zoneAbbrev(zone: string, ms: number): string {
  let f = abbrevFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'short' });
    abbrevFormatters.set(zone, f);
  }
  return f.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? '';
}

/** Every UTC instant whose wall-clock time in `zone` is `wallMs` (two in the autumn overlap, none in the spring gap). */
function instantsForWall(zone: string, wallMs: number): number[] {
  const offsets = new Set([
    zoneOffsetMs(zone, wallMs - 86_400_000),
    zoneOffsetMs(zone, wallMs),
    zoneOffsetMs(zone, wallMs + 86_400_000),
  ]);
  return [...offsets].map((o) => wallMs - o).filter((t) => t + zoneOffsetMs(zone, t) === wallMs);
}

/**
 * Parses a HitPath time cell (see the module comment for the forms) in `zone` → UTC, or null when
 * the text is not a time or names an offset/abbreviation that does not exist at that wall time.
 */
export function parseHitpathTime(value: string, zone: string): Date | null {
  const s = value.trim();
  const offset = /^(.*\d)\s*(Z|[+-]\d{2}:?\d{2})$/i.exec(s);
  if (offset) {
    const wall = parseLocalTime(offset[1], 'UTC');
    if (!wall) return null;
    if (offset[2].toUpperCase() === 'Z') return wall;
    const sign = offset[2][0] === '-' ? -1 : 1;
    const digits = offset[2].slice(1).replace(':', '');
    const ms = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
    return new Date(wall.getTime() - ms);
  }
  const abbrev = /^(.*?)\s+([A-Za-z]{1,5}(?:[+-]\d{1,2})?)$/.exec(s);
  if (abbrev && !/^(AM|PM)$/i.test(abbrev[2])) {
    const wall = parseLocalTime(abbrev[1], 'UTC');
    if (!wall) return null;
    const tag = abbrev[2].toUpperCase();
    if (tag === 'UTC' || tag === 'GMT') return wall;
    const hit = instantsForWall(zone, wall.getTime()).find((t) => zoneAbbrev(zone, t).toUpperCase() === tag);
    return hit === undefined ? null : new Date(hit);
  }
  return parseLocalTime(s, zone);
}

export interface MapContext {
  /** The platform key (for reasons: `hitpath conversions: …`). */
  platform: string;
  columns: HitpathColumnMap;
  timezone: string;
  currency: string;
}

/** How a reason names a column: the report's header and the canonical field it fills. */
function column(ctx: MapContext, col: HitpathColumn): string {
  return `column "${ctx.columns[col] ?? col}" (${col})`;
}

/** The report row's columns picked and validated; a bad column is a `BadField` naming it. */
function pick<T>(ctx: MapContext, raw: Record<string, string>, type: 'clicks' | 'sales', schema: z.ZodType<T>): T {
  const picked = pickColumns(raw, ctx.columns, type);
  const parsed = schema.safeParse(picked);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const col = String(issue.path[0]) as HitpathColumn;
  throw new BadField(column(ctx, col), issue.message, picked[col] ?? undefined);
}

function time(ctx: MapContext, col: HitpathColumn, value: string): string {
  const d = parseHitpathTime(value, ctx.timezone);
  if (d === null)
    throw new BadField(
      column(ctx, col),
      `expected a time in ${ctx.timezone} like 2026-11-01 13:30:00 or 11/1/2026 1:30:00 PM`,
      value,
    );
  return d.toISOString();
}

/** No personal-data keys of its own: a HitPath row is report columns; e-mails typed into sub ids are hashed. */
export const PERSONAL_KEYS: ReadonlySet<string> = new Set();

/** One `type=sales` row → a conversion (base sale or Multi-Sales event). */
export function mapHitpathSale(
  record: unknown,
  ctx: MapContext,
  norm: NormalizeContext,
): NormalizeResult<'conversions'> {
  return mapRecord({ platform: ctx.platform, stream: 'conversions' }, rawRecordSchema, record, (raw): ConversionRow => {
    const r = pick(ctx, raw, 'sales', hitpathSaleRowSchema);
    return {
      conversion_id: hitpathConversionId(r.click_id, r.event_name),
      click_id: r.click_id,
      transaction_id: null,
      order_id: r.order_id !== null && /^added by admin\b/i.test(r.order_id) ? null : r.order_id,
      converted_at: time(ctx, 'converted_at', r.converted_at),
      clicked_at: r.clicked_at === null ? null : time(ctx, 'clicked_at', r.clicked_at),
      affiliate_id: r.affiliate_id,
      offer_id: r.offer_id,
      advertiser_id: null,
      ...subIds([r.sub1, r.sub2, r.sub3], norm),
      event_name: r.event_name,
      is_event: r.event_name !== null,
      status: statusFrom(
        HITPATH_STATUS_MAP,
        r.status,
        column(ctx, 'status'),
        `a known status (${Object.keys(HITPATH_STATUS_MAP).join(', ')})`,
      ),
      revenue: money(r.revenue, column(ctx, 'revenue')),
      payout: money(r.payout, column(ctx, 'payout')),
      sale_amount: null,
      currency: ctx.currency,
      ip: r.ip,
      user_agent_hash: null,
      country_code: null,
      raw: redactRaw(record, norm, PERSONAL_KEYS),
    };
  });
}

export function hitpathConversionId(hitid: string, eventName: string | null): string {
  return eventName === null ? hitid : `${hitid}:${eventName}`;
}

/** One `type=clicks` row → a click. Sale columns on the clicks report are ignored (sales come from type=sales). */
export function mapHitpathClick(record: unknown, ctx: MapContext, norm: NormalizeContext): NormalizeResult<'clicks'> {
  return mapRecord({ platform: ctx.platform, stream: 'clicks' }, rawRecordSchema, record, (raw): ClickRow => {
    const r = pick(ctx, raw, 'clicks', hitpathClickRowSchema);
    let isUnique = true;
    if (r.is_unique !== null) {
      const w = r.is_unique.toLowerCase();
      if (FALSE_WORDS.has(w)) isUnique = false;
      else if (!TRUE_WORDS.has(w))
        throw new BadField(column(ctx, 'is_unique'), 'expected 1/0, yes/no or true/false', r.is_unique);
    }
    return {
      click_id: r.click_id,
      clicked_at: time(ctx, 'clicked_at', r.clicked_at),
      affiliate_id: r.affiliate_id,
      offer_id: r.offer_id,
      advertiser_id: null,
      ...subIds([r.sub1, r.sub2, r.sub3], norm),
      ip: r.ip,
      user_agent_hash: null,
      country_code: null,
      is_unique: isUnique,
    };
  });
}
