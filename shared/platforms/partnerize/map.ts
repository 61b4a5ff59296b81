import type { ClickRow, ConversionRow, ConversionStatus, EntityRow, EntityStatus } from '../../model/canonical.js';
import { money, sumDecimals } from '../kit/decimal.js';
import { countryCode, redactRaw, subIds, userAgentHash } from '../kit/personal.js';
import { BadField, currencyCode, type Mapped, mapRecord, statusFrom, text } from '../kit/record.js';
import type { NormalizeContext } from '../types.js';
import { parseInstant, parseLocalTime, validWallClock } from '../../util/time.js';
import {
  ANNOTATION_KEY,
  advertiserSchema,
  campaignSchema,
  clickSchema,
  conversionSchema,
  publisherSchema,
  type PartnerizeConversion,
  type PartnerizeConversionItem,
} from './schemas.js';

/**
 * Partnerize records → canonical rows (docs/design.md §4). Pure functions; every failure is a
 * `{ ok: false, reason }` naming platform, stream, record, field and value.
 *
 * Decisions (the reference is silent on these):
 * - **One canonical conversion per Partnerize conversion** (not per basket item): the canonical key
 *   is `conversion_id`, and the duplicate rules compare orders (`conversion_reference`), not items.
 *   With items present:
 *   - status comes from the items: all rejected → `rejected`; else any pending among the
 *     non-rejected → `pending`; else `approved`. (Partnerize has no `invalid`.)
 *   - money is the exact decimal sum of the items that count: the non-rejected ones (a rejected item
 *     is not paid, so an approved basket with one rejected line owes only the rest), or all items
 *     when every item is rejected (so a rejected conversion still shows what was at stake, as other
 *     platforms report payout on rejected conversions). `revenue` falls back to
 *     `conversion_value.commission` when an item lacks `item_commission` (absent from the vendor
 *     schema, present in its example).
 *   - Without items, `conversion_value` and its `conversion_status` are used as they are.
 * - `commission` → revenue (the brand's cost = the network's revenue), `publisher_commission` →
 *   payout, `value` → sale_amount (docs/platform-apis.md §4.3, INFERRED there).
 * - `ref_conversion_metric` "Standard" is the base conversion (`is_event` false, `event_name` null);
 *   any other metric is a post-conversion event named by it.
 * - Times: offsetless strings are wall-clock times in the zone we asked for (the client records it
 *   in `_dualtrack.timezone`; the configured zone otherwise), converted DST-correctly; in the
 *   repeated autumn hour the earlier instant is chosen (shared/util/time.ts) — ask in UTC (the
 *   default) to avoid that ambiguity. Strings with an offset (v3) are read as instants.
 * - Money keeps every digit: values are decimal text from the client's number-preserving parser,
 *   summed exactly (shared/platforms/kit/decimal.ts), never as doubles.
 * - Personal data: `device_id`/`cookie_id`, the user agent and any e-mail address anywhere in the
 *   record are replaced by `hmac:<keyed hash>` in `raw`. IPs are kept (duplicate matching).
 * - Partnerize click rows carry no per-click uniqueness (only the report's aggregate
 *   `unique_click_count`), so `is_unique` is true for every click row.
 */

const label = (platform: string, stream: string, idKey: string) => ({ platform, stream, idKey });

/** A Partnerize time → UTC ISO with milliseconds. Offsetless text is wall-clock time in `zone`. */
export function partnerizeTimeToUtc(value: string, zone: string): string | null {
  const t = value.trim();
  let d: Date | null = null;
  if (/\d{2}:\d{2}/.test(t) && /(?:Z|[+-]\d{2}:?\d{2})$/i.test(t)) {
    try {
      d = parseInstant(t.replace(' ', 'T').replace(/z$/, 'Z'));
    } catch {
      d = null;
    }
  } else {
    // Partnerize writes `YYYY-MM-DD HH:MM:SS`; anything else (or an impossible date that a lenient
    // parser would roll over, like month 13) is a bad record, not a guess.
    const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$/.exec(t);
    if (!m || !validWallClock(+m[1], +m[2], +m[3], +m[4], +m[5], +(m[6] ?? 0))) return null;
    // UTC (the default) needs no zone lookup; the Intl-based one costs ~0.3 ms a call, per click row.
    if (UTC_ZONES.has(zone))
      return new Date(
        Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0), m[7] ? Number(`${m[7]}00`.slice(0, 3)) : 0),
      ).toISOString();
    try {
      d = parseLocalTime(t, zone);
    } catch {
      d = null; // an unknown zone: reported as a bad time below
    }
  }
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : null;
}

const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT']);

function time(value: string, zone: string, field: string): string {
  const iso = partnerizeTimeToUtc(value, zone);
  if (iso === null)
    throw new BadField(field, `expected a date-time (local time in ${zone}, or ISO-8601 with an offset)`, value);
  return iso;
}

const STATUS_WORDS: Record<string, Exclude<ConversionStatus, 'invalid'>> = {
  approved: 'approved',
  pending: 'pending',
  rejected: 'rejected',
  declined: 'rejected',
};

function conversionStatus(value: string, field: string): Exclude<ConversionStatus, 'invalid'> {
  return statusFrom(STATUS_WORDS, value, field, 'approved, pending or rejected');
}

// ---- personal data -----------------------------------------------------------------------------

/** Keys whose values identify an end user's device or browser. */
export const PERSONAL_KEYS: ReadonlySet<string> = new Set(['device_id', 'cookie_id', 'user_agent']);

function userAgentOf(r: { user_agent?: string | null; meta_data?: unknown }): string | null {
  const top = text(r.user_agent);
  if (top) return top;
  const meta = r.meta_data;
  if (meta && typeof meta === 'object' && !Array.isArray(meta)) {
    const ua = (meta as Record<string, unknown>).user_agent;
    if (typeof ua === 'string' && ua.trim() !== '') return ua.trim();
  }
  return null;
}

// ---- conversions -------------------------------------------------------------------------------

interface Totals {
  status: Exclude<ConversionStatus, 'invalid'>;
  revenue: string;
  payout: string;
  saleAmount: string;
}

function totalsFromItems(c: PartnerizeConversion, items: readonly PartnerizeConversionItem[]): Totals {
  const statuses = items.map((it, i) => conversionStatus(it.item_status, `conversion_items.${i}.item_status`));
  const allRejected = statuses.every((s) => s === 'rejected');
  const counted = items.map((it, i) => ({ it, i })).filter(({ i }) => allRejected || statuses[i] !== 'rejected');
  const status = allRejected ? 'rejected' : counted.some(({ i }) => statuses[i] === 'pending') ? 'pending' : 'approved';
  const sale = sumDecimals(counted.map(({ it, i }) => money(it.item_value, `conversion_items.${i}.item_value`)));
  const payout = sumDecimals(
    counted.map(({ it, i }) => money(it.item_publisher_commission, `conversion_items.${i}.item_publisher_commission`)),
  );
  const everyCommission = counted.every(({ it }) => it.item_commission !== null && it.item_commission !== undefined);
  const revenue = everyCommission
    ? sumDecimals(counted.map(({ it, i }) => money(it.item_commission, `conversion_items.${i}.item_commission`)))
    : money(c.conversion_value.commission, 'conversion_value.commission');
  return { status, revenue, payout, saleAmount: sale };
}

function totalsFromConversionValue(c: PartnerizeConversion): Totals {
  const v = c.conversion_value;
  return {
    status: conversionStatus(v.conversion_status, 'conversion_value.conversion_status'),
    revenue: money(v.commission, 'conversion_value.commission'),
    payout: money(v.publisher_commission, 'conversion_value.publisher_commission'),
    saleAmount: money(v.value, 'conversion_value.value'),
  };
}

export function mapConversion(
  platform: string,
  stream: string,
  record: unknown,
  ctx: NormalizeContext,
  defaultZone: string,
): Mapped<ConversionRow> {
  return mapRecord(label(platform, stream, 'conversion_id'), conversionSchema, record, (c) => {
    const zone = c[ANNOTATION_KEY]?.timezone ?? defaultZone;
    const items = c.conversion_items ?? [];
    const totals = items.length > 0 ? totalsFromItems(c, items) : totalsFromConversionValue(c);
    const metric = text(c.ref_conversion_metric);
    const isEvent = metric !== null && metric.toLowerCase() !== 'standard';
    const clickTime = text(c.click?.set_time);
    return {
      conversion_id: c.conversion_id,
      click_id: c.click?.click_id ?? null,
      transaction_id: null,
      order_id: text(c.conversion_reference),
      converted_at: time(c.conversion_time, zone, 'conversion_time'),
      // The embedded click is context: an unreadable click time leaves clicked_at empty, the conversion loads.
      clicked_at: clickTime === null ? null : partnerizeTimeToUtc(clickTime, zone),
      affiliate_id: c.publisher_id,
      offer_id: c.campaign_id,
      advertiser_id: text(c[ANNOTATION_KEY]?.advertiser_id),
      ...subIds([text(c.clickref) ?? text(c.click?.clickref)], ctx),
      event_name: isEvent ? metric : null,
      is_event: isEvent,
      status: totals.status,
      revenue: totals.revenue,
      payout: totals.payout,
      sale_amount: totals.saleAmount,
      currency: currencyCode(c.currency),
      ip: text(c.referer_ip) ?? text(c.click?.set_ip),
      user_agent_hash: userAgentHash(userAgentOf(c), ctx),
      country_code: countryCode(c.country),
      raw: redactRaw(record, ctx, PERSONAL_KEYS),
    };
  });
}

// ---- clicks ------------------------------------------------------------------------------------

export function mapClick(
  platform: string,
  record: unknown,
  ctx: NormalizeContext,
  defaultZone: string,
): Mapped<ClickRow> {
  return mapRecord(label(platform, 'clicks', 'click_id'), clickSchema, record, (k) => {
    const zone = k[ANNOTATION_KEY]?.timezone ?? defaultZone;
    return {
      click_id: k.click_id,
      clicked_at: time(k.set_time, zone, 'set_time'),
      affiliate_id: k.publisher_id,
      offer_id: k.campaign_id,
      advertiser_id: text(k[ANNOTATION_KEY]?.advertiser_id),
      ...subIds([k.clickref], ctx),
      ip: text(k.set_ip),
      user_agent_hash: userAgentHash(k.user_agent, ctx),
      country_code: countryCode(k.country),
      is_unique: true,
    };
  });
}

// ---- entities ----------------------------------------------------------------------------------

/** Campaign and brand status codes (a/p/r/n) and the words some endpoints use instead. */
const ENTITY_STATUS: Readonly<Record<string, EntityStatus>> = {
  a: 'active',
  active: 'active',
  approved: 'active',
  p: 'pending',
  pending: 'pending',
  r: 'inactive',
  n: 'inactive',
  rejected: 'inactive',
  inactive: 'inactive',
  paused: 'inactive',
  deleted: 'inactive',
};

function entityStatus(value: string | null | undefined, field: string): EntityStatus {
  return statusFrom(ENTITY_STATUS, value, field, 'a status a, p, r or n');
}

export function mapCampaign(platform: string, record: unknown): Mapped<EntityRow> {
  return mapRecord(label(platform, 'offers', 'campaign_id'), campaignSchema, record, (c) => ({
    id: c.campaign_id,
    name: c.title,
    status: entityStatus(c.status, 'status'),
    email: null,
    raw: record,
  }));
}

export function mapPublisher(platform: string, record: unknown): Mapped<EntityRow> {
  return mapRecord(label(platform, 'affiliates', 'id'), publisherSchema, record, (p) => {
    const name = text(p.name) ?? text(p.company_name);
    if (name === null) throw new BadField('name', 'expected a partner name (name or company_name)', p.name);
    return {
      id: p.id,
      name,
      // `active` null: the network has not approved or rejected the partner yet.
      status: p.active === true ? 'active' : p.active === false ? 'inactive' : 'pending',
      email: text(p.contact_email),
      raw: record,
    };
  });
}

export function mapAdvertiser(platform: string, record: unknown): Mapped<EntityRow> {
  return mapRecord(label(platform, 'advertisers', 'advertiser_id'), advertiserSchema, record, (a) => {
    const name = text(a.company_name) ?? text(a.name) ?? text(a.advertiser_name);
    if (name === null)
      throw new BadField(
        'company_name',
        'expected a brand name (company_name, name or advertiser_name)',
        a.company_name,
      );
    return {
      id: a.advertiser_id,
      name,
      // A brand list without a status: listed brands are live ones.
      status: a.status === null || a.status === undefined ? 'active' : entityStatus(a.status, 'status'),
      email: text(a.contact_email),
      raw: record,
    };
  });
}
