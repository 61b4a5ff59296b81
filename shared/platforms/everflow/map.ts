import type * as z from 'zod';
import type {
  ClickRow,
  ConversionRow,
  ConversionStatus,
  EntityRow,
  EntityStatus,
  Stream,
} from '../../model/canonical.js';
import { valueAt } from '../record-path.js';
import type { NormalizeContext, NormalizeResult } from '../types.js';
import {
  advertiserRecordSchema,
  affiliateRecordSchema,
  clickRecordSchema,
  conversionRecordSchema,
  offerRecordSchema,
  type EverflowAdvertiser,
  type EverflowAffiliate,
  type EverflowClick,
  type EverflowConversion,
  type EverflowOffer,
} from './schemas.js';
import { normalizeDecimalText, numberToDecimalText } from './wire.js';

/**
 * Everflow records → canonical rows (shared/model/canonical.ts). Pure; never throws: a record
 * that fails its schema or a mapping rule becomes `{ ok: false, reason }` naming platform,
 * stream, field and the (truncated) bad value.
 *
 * Mapping decisions (docs/platform-apis.md §1.3 and §5):
 * - times: `*_unix_timestamp` are UTC seconds (§1.5) → ISO with milliseconds;
 * - `transaction_id` is Everflow's click id (32 chars): it fills both `click_id` and
 *   `transaction_id` (the CAKE `s2` bridge of the cross-platform duplicate rule joins on it);
 * - `order_id` only from `order_id`. `adv1..adv5` are free-form advertiser sub ids whose meaning
 *   differs per advertiser, so guessing one as the order id would make false duplicates; they
 *   stay in `raw`;
 * - `event_name`: null for a base conversion (Everflow labels it "Base"), the event name for a
 *   post-conversion event (`is_event: true`);
 * - `ip`: the click IP (`session_user_ip`), else the conversion/postback IP — the click IP is what
 *   the other platforms report and what the IP+offer duplicate rule compares;
 * - `country_code`: `country_code` if present, else `country` when it is a 2-letter code or an
 *   English country name (resolved with Intl.DisplayNames);
 * - money: exact decimal text (wire.ts), never float arithmetic; must fit DECIMAL(18,6);
 * - personal data: the user agent becomes `ctx.hash(ua)`; in `raw`, end-user email, device ids
 *   (idfa / google_ad_id / android_id and their md5/sha1 forms, which are stable identifiers too)
 *   and the user agent are replaced by `hmac:<keyed hash>`.
 */

const PII_KEYS = new Set([
  'email',
  'idfa',
  'idfa_md5',
  'idfa_sha1',
  'google_ad_id',
  'google_ad_id_md5',
  'google_ad_id_sha1',
  'android_id',
  'android_id_md5',
  'android_id_sha1',
  'http_user_agent',
  'user_agent',
]);

const CONVERSION_STATUS: Record<string, ConversionStatus> = {
  approved: 'approved',
  pending: 'pending',
  rejected: 'rejected',
  invalid: 'invalid',
};

const ENTITY_STATUS: Record<string, EntityStatus> = {
  active: 'active',
  pending: 'pending',
  inactive: 'inactive',
  suspended: 'inactive',
  paused: 'inactive',
  deleted: 'inactive',
  archived: 'inactive',
};

class MapFailure extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function show(field: string, value: unknown): string {
  const last = field.split('.').pop() ?? field;
  if (PII_KEYS.has(last)) return '(redacted)';
  let s: string;
  try {
    s = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function validate<T>(
  platform: string,
  stream: Stream,
  schema: z.ZodType<T>,
  record: unknown,
): { ok: true; value: T } | { ok: false; reason: string } {
  const r = schema.safeParse(record);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(record)';
  const got =
    issue.path.length > 0
      ? show(field, valueAt(record, issue.path))
      : show('', Array.isArray(record) ? 'an array' : record === null ? null : typeof record);
  const more = r.error.issues.length > 1 ? ` (+${r.error.issues.length - 1} more)` : '';
  return { ok: false, reason: `${platform} ${stream}: ${field}: ${issue.message}, got ${got}${more}` };
}

function run<R>(platform: string, stream: Stream, f: () => R, record: unknown): R | { ok: false; reason: string } {
  try {
    return f();
  } catch (e) {
    if (e instanceof MapFailure)
      return {
        ok: false,
        reason: `${platform} ${stream}: ${e.field}: ${e.message}, got ${show(e.field, valueAt(record, e.field.split('.')))}`,
      };
    return { ok: false, reason: `${platform} ${stream}: unexpected mapping error: ${(e as Error).message}` };
  }
}

/** Unix seconds → `2026-10-12T13:02:11.000Z`. */
export function unixToIso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** DECIMAL(18,6) holds 12 integer digits. */
const MAX_INT_DIGITS = 12;

/** Money (decimal text or number) → decimal string, or a MapFailure naming the field. */
export function toMoney(field: string, v: string | number): string {
  const s = typeof v === 'number' ? numberToDecimalText(v) : normalizeDecimalText(v);
  if (s === null) throw new MapFailure(field, 'expected a decimal');
  const intDigits = s.replace(/^-/, '').split('.')[0].replace(/^0+/, '').length;
  if (intDigits > MAX_INT_DIGITS) throw new MapFailure(field, 'out of range for DECIMAL(18,6)');
  return s;
}

/** "" and null → null; numbers (sub ids like 123) → their text. */
function optText(v: string | number | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  const s = typeof v === 'number' ? String(v) : v.trim();
  return s === '' ? null : s;
}

function id(v: string | number): string {
  return typeof v === 'number' ? String(v) : v.trim();
}

let countryNames: Map<string, string> | null = null;
/** English country name → ISO 3166-1 alpha-2, built once from ICU's region names. */
function countryCodeFromName(name: string): string | null {
  if (!countryNames) {
    countryNames = new Map();
    const dn = new Intl.DisplayNames(['en'], { type: 'region' });
    for (let a = 65; a <= 90; a++) {
      for (let b = 65; b <= 90; b++) {
        const code = String.fromCharCode(a, b);
        let label: string | undefined;
        try {
          label = dn.of(code);
        } catch {
          label = undefined;
        }
        if (label && label !== code) countryNames.set(label.toLowerCase(), code);
      }
    }
  }
  return countryNames.get(name.trim().toLowerCase()) ?? null;
}

function countryCode(code: string | null | undefined, name: string | null | undefined): string | null {
  const c = optText(code);
  if (c && /^[A-Za-z]{2}$/.test(c)) return c.toUpperCase();
  const n = optText(name);
  if (!n) return null;
  if (/^[A-Za-z]{2}$/.test(n)) return n.toUpperCase();
  return countryCodeFromName(n);
}

/** A copy of the record with end-user emails, device ids and user agents replaced by keyed hashes. */
export function redactRaw(record: unknown, ctx: NormalizeContext): unknown {
  if (Array.isArray(record)) return record.map((v) => redactRaw(v, ctx));
  if (record === null || typeof record !== 'object') return record;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record as Record<string, unknown>)) {
    if (PII_KEYS.has(k) && typeof v === 'string' && v !== '') out[k] = `hmac:${ctx.hash(v)}`;
    else if (k === 'relationship' || (v !== null && typeof v === 'object')) out[k] = redactRaw(v, ctx);
    else out[k] = v;
  }
  return out;
}

function hashOrNull(v: string | null | undefined, ctx: NormalizeContext): string | null {
  const s = optText(v);
  return s === null ? null : ctx.hash(s);
}

export function mapConversion(
  platform: string,
  stream: 'conversions' | 'conversion_changes',
  record: unknown,
  ctx: NormalizeContext,
): NormalizeResult<'conversions'> {
  const v = validate(platform, stream, conversionRecordSchema, record);
  if (!v.ok) return v;
  return run(platform, stream, () => ({ ok: true, row: conversionRow(v.value, record, ctx) }), record);
}

function conversionRow(r: EverflowConversion, record: unknown, ctx: NormalizeContext): ConversionRow {
  const status = CONVERSION_STATUS[r.status.trim().toLowerCase()];
  if (!status) throw new MapFailure('status', 'expected approved, pending, rejected or invalid');
  const isEvent = r.is_event === true;
  const txn = optText(r.transaction_id);
  const ua = r.http_user_agent;
  return {
    conversion_id: id(r.conversion_id),
    click_id: txn,
    transaction_id: txn,
    order_id: optText(r.order_id),
    converted_at: unixToIso(r.conversion_unix_timestamp),
    clicked_at: r.click_unix_timestamp ? unixToIso(r.click_unix_timestamp) : null,
    affiliate_id: id(r.relationship.affiliate.network_affiliate_id),
    offer_id: id(r.relationship.offer.network_offer_id),
    advertiser_id: r.relationship.advertiser
      ? id(r.relationship.advertiser.network_advertiser_id)
      : r.relationship.offer.network_advertiser_id != null
        ? id(r.relationship.offer.network_advertiser_id)
        : null,
    sub1: optText(r.sub1),
    sub2: optText(r.sub2),
    sub3: optText(r.sub3),
    sub4: optText(r.sub4),
    sub5: optText(r.sub5),
    event_name: isEvent ? optText(r.event) : null,
    is_event: isEvent,
    status,
    revenue: toMoney('revenue', r.revenue),
    payout: toMoney('payout', r.payout),
    sale_amount:
      r.sale_amount === null || r.sale_amount === undefined || r.sale_amount === ''
        ? null
        : toMoney('sale_amount', r.sale_amount),
    currency: r.currency_id.toUpperCase(),
    ip: optText(r.session_user_ip) ?? optText(r.conversion_user_ip),
    user_agent_hash: hashOrNull(ua, ctx),
    country_code: countryCode(r.country_code, r.country),
    raw: redactRaw(record, ctx),
  };
}

export function mapClick(platform: string, record: unknown, ctx: NormalizeContext): NormalizeResult<'clicks'> {
  const v = validate(platform, 'clicks', clickRecordSchema, record);
  if (!v.ok) return v;
  return run(platform, 'clicks', () => ({ ok: true, row: clickRow(v.value, ctx) }), record);
}

function clickRow(r: EverflowClick, ctx: NormalizeContext): ClickRow {
  const affiliate = r.relationship.affiliate?.network_affiliate_id ?? r.network_affiliate_id;
  if (affiliate === null || affiliate === undefined)
    throw new MapFailure(
      'relationship.affiliate.network_affiliate_id',
      'expected the affiliate id (relationship.affiliate or network_affiliate_id)',
    );
  const adv = r.relationship.offer.network_advertiser_id;
  return {
    click_id: r.transaction_id.trim(),
    clicked_at: unixToIso(r.unix_timestamp),
    affiliate_id: id(affiliate),
    offer_id: id(r.relationship.offer.network_offer_id),
    advertiser_id: adv === null || adv === undefined ? null : id(adv),
    sub1: optText(r.sub1),
    sub2: optText(r.sub2),
    sub3: optText(r.sub3),
    sub4: optText(r.sub4),
    sub5: optText(r.sub5),
    ip: optText(r.user_ip),
    user_agent_hash: hashOrNull(r.http_user_agent ?? r.user_agent, ctx),
    country_code: countryCode(r.relationship.geolocation?.country_code, null),
    is_unique: r.is_unique === true || r.is_unique === 1,
  };
}

function entityStatus(s: string, field: string): EntityStatus {
  const st = ENTITY_STATUS[s.trim().toLowerCase()];
  if (!st) throw new MapFailure(field, `expected one of ${Object.keys(ENTITY_STATUS).join(', ')}`);
  return st;
}

function firstEmail(users: { email?: string | null }[] | null | undefined): string | null {
  for (const u of users ?? []) {
    const e = optText(u.email);
    if (e) return e;
  }
  return null;
}

export function mapAffiliate(platform: string, record: unknown): NormalizeResult<'affiliates'> {
  const v = validate(platform, 'affiliates', affiliateRecordSchema, record);
  if (!v.ok) return v;
  const r: EverflowAffiliate = v.value;
  return run(
    platform,
    'affiliates',
    () => ({
      ok: true,
      row: entityRow(
        id(r.network_affiliate_id),
        r.name,
        entityStatus(r.account_status, 'account_status'),
        firstEmail(r.relationship?.users),
        record,
      ),
    }),
    record,
  );
}

export function mapOffer(platform: string, record: unknown): NormalizeResult<'offers'> {
  const v = validate(platform, 'offers', offerRecordSchema, record);
  if (!v.ok) return v;
  const r: EverflowOffer = v.value;
  return run(
    platform,
    'offers',
    () => ({
      ok: true,
      row: entityRow(id(r.network_offer_id), r.name, entityStatus(r.offer_status, 'offer_status'), null, record),
    }),
    record,
  );
}

export function mapAdvertiser(platform: string, record: unknown): NormalizeResult<'advertisers'> {
  const v = validate(platform, 'advertisers', advertiserRecordSchema, record);
  if (!v.ok) return v;
  const r: EverflowAdvertiser = v.value;
  return run(
    platform,
    'advertisers',
    () => ({
      ok: true,
      row: entityRow(
        id(r.network_advertiser_id),
        r.name,
        entityStatus(r.account_status, 'account_status'),
        firstEmail(r.relationship?.users),
        record,
      ),
    }),
    record,
  );
}

/**
 * Entities keep their raw record as is: affiliate and advertiser contacts are business partners
 * (the crosswalk suggester matches on their email), not the end users docs/design.md §4 protects.
 */
function entityRow(
  entityId: string,
  name: string,
  status: EntityStatus,
  email: string | null,
  raw: unknown,
): EntityRow {
  return { id: entityId, name: name.trim(), status, email, raw };
}
