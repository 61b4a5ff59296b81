import type * as z from 'zod';
import type { ClickRow, ConversionRow, ConversionStatus, EntityRow, EntityStatus } from '../../model/canonical.js';
import { valueAt } from '../record-path.js';
import type { NormalizeContext } from '../types.js';
import { parseInstant, parseLocalTime } from '../../util/time.js';
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
 *   summed with BigInt, never as doubles.
 * - Personal data: `device_id`/`cookie_id`, the user agent and any e-mail address anywhere in the
 *   record are replaced by `hmac:<keyed hash>` in `raw`. IPs are kept (duplicate matching).
 * - Partnerize click rows carry no per-click uniqueness (only the report's aggregate
 *   `unique_click_count`), so `is_unique` is true for every click row.
 */

type Result<T> = { ok: true; row: T } | { ok: false; reason: string };

class MapFailure extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly value: unknown,
  ) {
    super(`${field}: ${problem}`);
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function recordLabel(record: unknown, idKey: string): string {
  const id = valueAt(record, [idKey]);
  return typeof id === 'string' || typeof id === 'number' ? ` ${idKey} ${String(id)}` : '';
}

function fail(
  platform: string,
  stream: string,
  record: unknown,
  idKey: string,
  field: string,
  problem: string,
  value: unknown,
): { ok: false; reason: string } {
  return {
    ok: false,
    reason: `${platform} ${stream}:${recordLabel(record, idKey)}: ${field}: ${problem}, got ${show(value)}`,
  };
}

function parseWith<T>(
  schema: z.ZodType<T>,
  platform: string,
  stream: string,
  record: unknown,
  idKey: string,
): Result<T> {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return { ok: false, reason: `${platform} ${stream}: record: expected an object, got ${show(record)}` };
  }
  const parsed = schema.safeParse(record);
  if (parsed.success) return { ok: true, row: parsed.data };
  const issue = parsed.error.issues[0];
  const field = issue.path.length ? issue.path.map(String).join('.') : 'record';
  return fail(platform, stream, record, idKey, field, issue.message, valueAt(record, issue.path));
}

function guard<T>(platform: string, stream: string, record: unknown, idKey: string, build: () => T): Result<T> {
  try {
    return { ok: true, row: build() };
  } catch (e) {
    if (e instanceof MapFailure) return fail(platform, stream, record, idKey, e.field, e.problem, e.value);
    throw e;
  }
}

// ---- decimals ------------------------------------------------------------------------------------

/** A decimal as an unscaled BigInt and a scale: 12.50 = { units: 1250n, scale: 2 }. */
interface Decimal {
  units: bigint;
  scale: number;
}

const DECIMAL_TEXT = /^([+-]?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

export function parseDecimal(value: unknown): Decimal | null {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    text = String(value); // shortest round-trip text; only reached for records parsed outside our client
  } else if (typeof value === 'string') text = value.trim();
  else return null;
  const m = DECIMAL_TEXT.exec(text);
  if (!m) return null;
  const [, sign, int, frac = '', exp = '0'] = m;
  const e = Number(exp);
  if (!Number.isSafeInteger(e) || Math.abs(e) > 40) return null;
  let digits = int + frac;
  let scale = frac.length - e;
  if (scale < 0) {
    digits += '0'.repeat(-scale);
    scale = 0;
  }
  const units = BigInt(digits) * (sign === '-' ? -1n : 1n);
  return { units, scale };
}

export function formatDecimal(d: Decimal): string {
  const neg = d.units < 0n;
  const digits = (neg ? -d.units : d.units).toString().padStart(d.scale + 1, '0');
  const int = digits.slice(0, digits.length - d.scale);
  const frac = digits.slice(digits.length - d.scale);
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

export function addDecimals(values: readonly Decimal[]): Decimal {
  const scale = Math.max(0, ...values.map((v) => v.scale));
  let units = 0n;
  for (const v of values) units += v.units * 10n ** BigInt(scale - v.scale);
  return { units, scale };
}

function money(value: unknown, field: string): Decimal {
  const d = parseDecimal(value);
  if (d === null) throw new MapFailure(field, 'expected a decimal amount', value);
  return d;
}

// ---- small field helpers -----------------------------------------------------------------------

function text(v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  const t = v.trim();
  return t === '' ? null : t;
}

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

function validWallClock(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth && h < 24 && mi < 60 && s < 60;
}

function time(value: string, zone: string, field: string): string {
  const iso = partnerizeTimeToUtc(value, zone);
  if (iso === null)
    throw new MapFailure(field, `expected a date-time (local time in ${zone}, or ISO-8601 with an offset)`, value);
  return iso;
}

function currency(value: string): string {
  const c = value.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(c)) throw new MapFailure('currency', 'expected an ISO 4217 code', value);
  return c;
}

function countryCode(value: string | null | undefined): string | null {
  const c = text(value)?.toUpperCase() ?? null;
  return c !== null && /^[A-Z]{2}$/.test(c) ? c : null;
}

const STATUS_WORDS: Record<string, Exclude<ConversionStatus, 'invalid'>> = {
  approved: 'approved',
  pending: 'pending',
  rejected: 'rejected',
  declined: 'rejected',
};

function conversionStatus(value: string, field: string): Exclude<ConversionStatus, 'invalid'> {
  const s = STATUS_WORDS[value.trim().toLowerCase()];
  if (!s) throw new MapFailure(field, 'expected approved, pending or rejected', value);
  return s;
}

// ---- personal data -----------------------------------------------------------------------------

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Keys whose values identify an end user's device or browser. */
const DEVICE_KEYS = new Set(['device_id', 'cookie_id', 'user_agent']);

/** The record with device ids, user agents and e-mail addresses replaced by keyed hashes. */
export function redactRaw(value: unknown, ctx: NormalizeContext, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => redactRaw(v, ctx));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactRaw(v, ctx, k);
    return out;
  }
  if (
    typeof value === 'string' &&
    value !== '' &&
    ((key !== undefined && DEVICE_KEYS.has(key)) || EMAIL.test(value.trim()))
  ) {
    return `hmac:${ctx.hash(value)}`;
  }
  return value;
}

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
  const sale = addDecimals(counted.map(({ it, i }) => money(it.item_value, `conversion_items.${i}.item_value`)));
  const payout = addDecimals(
    counted.map(({ it, i }) => money(it.item_publisher_commission, `conversion_items.${i}.item_publisher_commission`)),
  );
  const everyCommission = counted.every(({ it }) => it.item_commission !== null && it.item_commission !== undefined);
  const revenue = everyCommission
    ? addDecimals(counted.map(({ it, i }) => money(it.item_commission, `conversion_items.${i}.item_commission`)))
    : money(c.conversion_value.commission, 'conversion_value.commission');
  return { status, revenue: formatDecimal(revenue), payout: formatDecimal(payout), saleAmount: formatDecimal(sale) };
}

function totalsFromConversionValue(c: PartnerizeConversion): Totals {
  const v = c.conversion_value;
  return {
    status: conversionStatus(v.conversion_status, 'conversion_value.conversion_status'),
    revenue: formatDecimal(money(v.commission, 'conversion_value.commission')),
    payout: formatDecimal(money(v.publisher_commission, 'conversion_value.publisher_commission')),
    saleAmount: formatDecimal(money(v.value, 'conversion_value.value')),
  };
}

export function mapConversion(
  platform: string,
  stream: string,
  record: unknown,
  ctx: NormalizeContext,
  defaultZone: string,
): Result<ConversionRow> {
  const parsed = parseWith(conversionSchema, platform, stream, record, 'conversion_id');
  if (!parsed.ok) return parsed;
  const c = parsed.row;
  return guard(platform, stream, record, 'conversion_id', () => {
    const zone = c[ANNOTATION_KEY]?.timezone ?? defaultZone;
    const items = c.conversion_items ?? [];
    const totals = items.length > 0 ? totalsFromItems(c, items) : totalsFromConversionValue(c);
    const metric = text(c.ref_conversion_metric);
    const isEvent = metric !== null && metric.toLowerCase() !== 'standard';
    const clickTime = text(c.click?.set_time);
    const ua = userAgentOf(c);
    return {
      conversion_id: c.conversion_id,
      click_id: c.click?.click_id ?? null,
      transaction_id: null,
      order_id: text(c.conversion_reference),
      converted_at: time(c.conversion_time, zone, 'conversion_time'),
      clicked_at: clickTime === null ? null : time(clickTime, zone, 'click.set_time'),
      affiliate_id: c.publisher_id,
      offer_id: c.campaign_id,
      advertiser_id: text(c[ANNOTATION_KEY]?.advertiser_id),
      sub1: text(c.clickref) ?? text(c.click?.clickref),
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
      event_name: isEvent ? metric : null,
      is_event: isEvent,
      status: totals.status,
      revenue: totals.revenue,
      payout: totals.payout,
      sale_amount: totals.saleAmount,
      currency: currency(c.currency),
      ip: text(c.referer_ip) ?? text(c.click?.set_ip),
      user_agent_hash: ua === null ? null : ctx.hash(ua),
      country_code: countryCode(c.country),
      raw: redactRaw(record, ctx),
    };
  });
}

// ---- clicks ------------------------------------------------------------------------------------

export function mapClick(
  platform: string,
  record: unknown,
  ctx: NormalizeContext,
  defaultZone: string,
): Result<ClickRow> {
  const parsed = parseWith(clickSchema, platform, 'clicks', record, 'click_id');
  if (!parsed.ok) return parsed;
  const k = parsed.row;
  return guard(platform, 'clicks', record, 'click_id', () => {
    const zone = k[ANNOTATION_KEY]?.timezone ?? defaultZone;
    const ua = text(k.user_agent);
    return {
      click_id: k.click_id,
      clicked_at: time(k.set_time, zone, 'set_time'),
      affiliate_id: k.publisher_id,
      offer_id: k.campaign_id,
      advertiser_id: text(k[ANNOTATION_KEY]?.advertiser_id),
      sub1: text(k.clickref),
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
      ip: text(k.set_ip),
      user_agent_hash: ua === null ? null : ctx.hash(ua),
      country_code: countryCode(k.country),
      is_unique: true,
    };
  });
}

// ---- entities ----------------------------------------------------------------------------------

/** Campaign and brand status codes (a/p/r/n) and the words some endpoints use instead. */
function entityStatus(value: string | null | undefined, field: string): EntityStatus {
  const s = (value ?? '').trim().toLowerCase();
  if (s === 'a' || s === 'active' || s === 'approved') return 'active';
  if (s === 'p' || s === 'pending') return 'pending';
  if (s === 'r' || s === 'n' || s === 'rejected' || s === 'inactive' || s === 'paused' || s === 'deleted')
    return 'inactive';
  throw new MapFailure(field, 'expected a status a, p, r or n', value);
}

export function mapCampaign(platform: string, record: unknown): Result<EntityRow> {
  const parsed = parseWith(campaignSchema, platform, 'offers', record, 'campaign_id');
  if (!parsed.ok) return parsed;
  const c = parsed.row;
  return guard(platform, 'offers', record, 'campaign_id', () => ({
    id: c.campaign_id,
    name: c.title,
    status: entityStatus(c.status, 'status'),
    email: null,
    raw: record,
  }));
}

export function mapPublisher(platform: string, record: unknown): Result<EntityRow> {
  const parsed = parseWith(publisherSchema, platform, 'affiliates', record, 'id');
  if (!parsed.ok) return parsed;
  const p = parsed.row;
  return guard(platform, 'affiliates', record, 'id', () => {
    const name = text(p.name) ?? text(p.company_name);
    if (name === null) throw new MapFailure('name', 'expected a partner name (name or company_name)', p.name);
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

export function mapAdvertiser(platform: string, record: unknown): Result<EntityRow> {
  const parsed = parseWith(advertiserSchema, platform, 'advertisers', record, 'advertiser_id');
  if (!parsed.ok) return parsed;
  const a = parsed.row;
  return guard(platform, 'advertisers', record, 'advertiser_id', () => {
    const name = text(a.company_name) ?? text(a.name) ?? text(a.advertiser_name);
    if (name === null)
      throw new MapFailure(
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
