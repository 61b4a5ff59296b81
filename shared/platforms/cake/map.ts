import type {
  ClickRow,
  ConversionRow,
  ConversionStatus,
  EntityRow,
  EntityStatus,
  Stream,
} from '../../model/canonical.js';
import { money } from '../kit/decimal.js';
import { countryCode, redactRaw, subIds, userAgentHash } from '../kit/personal.js';
import { BadField, firstEmail, mapRecord, type RecordLabel, statusFrom, text } from '../kit/record.js';
import type { NormalizeContext, NormalizeResult } from '../types.js';
import { zonedToUtc, parseLocalTime, zoneOffsetMs } from '../../util/time.js';
import {
  advertiserSchema,
  affiliateSchema,
  clickSchema,
  eventConversionSchema,
  offerSchema,
  type CakeClick,
  type CakeEventConversion,
  CAKE_ANNOTATION,
} from './schemas.js';

/**
 * CAKE records → canonical rows (docs/design.md §4). Decisions the reference leaves open, written down:
 *
 * **Dates.** JSON dates are Microsoft `/Date(ms)/`. The reference says CAKE's timezone is NOT FOUND
 * and to treat CAKE times as instance-local (unconfirmed, §2.5). So by default (`instance-wall`)
 * the ms value is read as the instance's *wall clock* written as if it were UTC (what ASP.NET's
 * serializer emits for a zone-less SQL datetime on a server whose OS clock is UTC), and converted
 * with `config.timezone`, DST-correct via `zonedToUtc`; in the autumn overlap (01:30 happens twice)
 * the earlier instant is chosen, since the wall clock alone cannot tell them apart.
 * `utc-epoch` (a connector option) reads ms as a true Unix epoch instead — choose it if a live
 * instance shows `/Date(ms)/` values that already equal UTC (one public export script adds a fixed
 * hour to `utcfromtimestamp`, which hints at that; unconfirmed either way). The offset form
 * `/Date(ms-0500)/` (.NET DataContractJsonSerializer) is always a true epoch and the offset only
 * says where it was written, so it is read as UTC whatever the setting. Offset-less ISO text (the
 * XML form, `2013-01-01T00:13:54.903`) is instance-local wall time.
 *
 * **Money.** Amounts arrive as the exact text of CAKE's JSON number (see `parseCakeJson`); an
 * exponent form (`1E-05`) is expanded by moving the decimal point in the string, never via float.
 *
 * **Status.** `current_disposition.disposition_type.disposition_type_name`:
 * approved → approved, pending → pending, rejected → rejected, returned → **invalid** (a CAKE
 * "return" is the advertiser/buyer sending a conversion back as bad after the fact — the payout is
 * not owed, which is what Everflow's `invalid` means), and the `returned` flag alone does the same.
 * No disposition at all → approved: dispositions are an optional workflow in CAKE and an
 * undispositioned conversion is paid. A `test` conversion (we ask for `non_tests`, so only if CAKE
 * sends one anyway) → invalid. Any other disposition name is an error naming it.
 *
 * **Ids.** `event_conversion_id` → conversion_id; `click_id` → click_id; CAKE's request id
 * (`click_request_session_id`, else `request_session_id`: the `#reqid#`/`#oreqid#` that the
 * Everflow parallel-tracking bridge carries) → transaction_id; `transaction_id` (pixel `t`, the
 * advertiser's order id) → order_id; `sub_id_1..5` → sub1..5 (empty → null).
 *
 * **Event.** `event_info.event_name` → event_name; `is_event` is true when `event_info.event_id`
 * is a non-zero id (the offer's base conversion has event id 0 — unconfirmed; v18's exact
 * advertiser-sub / event fields are NOT FOUND in the reference).
 *
 * **Currency.** `paid.currency_id` is CAKE's numeric currency id (resolved through
 * `get.asmx/Currencies`, which this connector does not call), so the record's currency is used
 * only when it carries an ISO code (`currency_abbr`, or a 3-letter `currency_id`); otherwise the
 * instance currency from config.
 *
 * **Personal data.** The user agent becomes `user_agent_hash` (ctx.hash). In `raw`, device ids
 * (`udid`), `user_id` (the pixel `u`, often an e-mail), user agents and any e-mail-looking string
 * anywhere in the record are replaced by `hmac:<hash>`. Entity exports keep partner contact e-mails
 * (business contacts, used for mapping suggestions) but never the partner's `api_key`.
 */

export type CakeDateSemantics = 'instance-wall' | 'utc-epoch';

export interface CakeMapOptions {
  /** Label for reasons (the platform key in config). */
  platform: string;
  timezone: string;
  /** Instance currency (config.currency). */
  currency: string;
  dateSemantics: CakeDateSemantics;
}

const MS_DATE = /^\/Date\((-?\d+)(?:([+-])(\d{2})(\d{2}))?\)\/$/;

/** A CAKE date → the UTC instant (see the module comment for the semantics). Throws naming the value. */
export function parseCakeDate(value: string, timezone: string, semantics: CakeDateSemantics): Date {
  const m = MS_DATE.exec(value);
  if (m) {
    const ms = Number(m[1]);
    if (!Number.isSafeInteger(ms) || Math.abs(ms) > 8.64e15)
      throw new Error(`date out of range: ${JSON.stringify(value)}`);
    if (m[2] !== undefined || semantics === 'utc-epoch') return new Date(ms);
    const w = new Date(ms);
    return zonedToUtc(
      timezone,
      w.getUTCFullYear(),
      w.getUTCMonth() + 1,
      w.getUTCDate(),
      w.getUTCHours(),
      w.getUTCMinutes(),
      w.getUTCSeconds(),
      w.getUTCMilliseconds(),
    );
  }
  const local = parseLocalTime(value, timezone);
  if (local && !Number.isNaN(local.getTime())) return local;
  throw new Error(`expected /Date(ms)/, got ${JSON.stringify(value)}`);
}

/** The instance's wall clock for a UTC instant as CAKE writes it in JSON (inverse of parseCakeDate). */
export function formatCakeDate(utcMs: number, timezone: string, semantics: CakeDateSemantics): string {
  return `/Date(${semantics === 'utc-epoch' ? utcMs : utcMs + zoneOffsetMs(timezone, utcMs)})/`;
}

const DISPOSITIONS: Record<string, ConversionStatus> = {
  approved: 'approved',
  pending: 'pending',
  rejected: 'rejected',
  returned: 'invalid',
};

export function conversionStatus(rec: CakeEventConversion): ConversionStatus {
  if (rec.test === true) return 'invalid';
  if (rec.returned === true) return 'invalid';
  const name = rec.current_disposition?.disposition_type?.disposition_type_name;
  if (name === undefined || name === null || name.trim() === '') return 'approved';
  return statusFrom(
    DISPOSITIONS,
    name,
    'current_disposition.disposition_type.disposition_type_name',
    'a disposition type approved, pending, rejected or returned',
  );
}

const ACCOUNT_STATUSES: Record<string, EntityStatus> = {
  active: 'active',
  inactive: 'inactive',
  pending: 'pending',
  rejected: 'inactive',
  suspended: 'inactive',
  deleted: 'inactive',
};
/** Offer statuses: Public / Private / Apply To Run are all live; Inactive is off. */
const OFFER_STATUSES: Record<string, EntityStatus> = {
  public: 'active',
  private: 'active',
  'apply to run': 'active',
  active: 'active',
  inactive: 'inactive',
  pending: 'pending',
};

function toIso(value: string, field: string, o: CakeMapOptions): string {
  try {
    return parseCakeDate(value, o.timezone, o.dateSemantics).toISOString();
  } catch (e) {
    throw new BadField(field, (e as Error).message, value);
  }
}

/**
 * The conversion's currency: an ISO code the record carries (`currency_abbr`, or a 3-letter
 * `currency_id`), else CAKE's numeric `currency_id` resolved through the instance's currency list
 * (the client's annotation); an id the list lacks is a bad record, never the config's currency.
 * Only a record that carries no currency at all (or did not come through our client) takes the
 * instance currency from config.
 */
function currencyOf(rec: CakeEventConversion, raw: unknown, fallback: string): string {
  for (const m of [rec.received, rec.paid]) {
    for (const c of [m.currency_abbr, m.currency_id]) {
      const t = text(c);
      if (t && /^[A-Za-z]{3}$/.test(t)) return t.toUpperCase();
    }
  }
  const note = (raw as Record<string, { currency_id?: string; currency?: string | null } | undefined>)[CAKE_ANNOTATION];
  if (note?.currency) return note.currency;
  if (note?.currency_id)
    throw new BadField(
      'received.currency_id',
      "not in this instance's currency list (get.asmx/Currencies)",
      note.currency_id,
    );
  return fallback;
}

/** Keys of device ids, the pixel's user id (often an e-mail) and user agents. */
export const PERSONAL_KEYS: ReadonlySet<string> = new Set([
  'udid',
  'user_id',
  'event_conversion_user_agent',
  'click_user_agent',
  'user_agent',
]);

const SECRET_KEYS = new Set(['api_key', 'password']);

/** Entity exports carry the partner's own API key (pycake SourceAffiliate.api_key): never stored. */
export function scrubEntityRaw(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) out[k] = SECRET_KEYS.has(k) && v !== null && v !== '' ? '[redacted]' : v;
  return out;
}

function mapConversion(
  rec: CakeEventConversion,
  raw: unknown,
  o: CakeMapOptions,
  ctx: NormalizeContext,
): ConversionRow {
  const eventId = text(rec.event_info?.event_id ?? null);
  return {
    conversion_id: rec.event_conversion_id,
    click_id: text(rec.click_id ?? null),
    transaction_id: text(rec.click_request_session_id ?? null) ?? text(rec.request_session_id ?? null),
    order_id: text(rec.transaction_id),
    converted_at: toIso(rec.event_conversion_date, 'event_conversion_date', o),
    clicked_at: rec.click_date ? toIso(rec.click_date, 'click_date', o) : null,
    affiliate_id: rec.source_affiliate.source_affiliate_id,
    offer_id: rec.site_offer.site_offer_id,
    advertiser_id: rec.brand_advertiser ? rec.brand_advertiser.brand_advertiser_id : null,
    ...subIds([rec.sub_id_1, rec.sub_id_2, rec.sub_id_3, rec.sub_id_4, rec.sub_id_5], ctx),
    event_name: text(rec.event_info?.event_name),
    is_event: eventId !== null && !/^0+$/.test(eventId),
    status: conversionStatus(rec),
    revenue: money(rec.received.amount, 'received.amount'),
    payout: money(rec.paid.amount, 'paid.amount'),
    sale_amount:
      rec.order_total === null || rec.order_total === undefined ? null : money(rec.order_total, 'order_total'),
    currency: currencyOf(rec, raw, o.currency),
    ip: text(rec.event_conversion_ip_address) ?? text(rec.click_ip_address),
    user_agent_hash: userAgentHash(text(rec.event_conversion_user_agent) ?? text(rec.click_user_agent), ctx),
    country_code: countryCode(rec.country?.country_code),
    raw: redactRaw(raw, ctx, PERSONAL_KEYS),
  };
}

function mapClick(rec: CakeClick, o: CakeMapOptions, ctx: NormalizeContext): ClickRow {
  return {
    click_id: rec.click_id,
    clicked_at: toIso(rec.click_date, 'click_date', o),
    affiliate_id: rec.source_affiliate.source_affiliate_id,
    offer_id: rec.site_offer.site_offer_id,
    advertiser_id: rec.brand_advertiser ? rec.brand_advertiser.brand_advertiser_id : null,
    ...subIds([rec.sub_id_1, rec.sub_id_2, rec.sub_id_3, rec.sub_id_4, rec.sub_id_5], ctx),
    ip: text(rec.ip_address),
    user_agent_hash: userAgentHash(rec.user_agent, ctx),
    country_code: countryCode(rec.country?.country_code),
    is_unique: rec.duplicate !== true,
  };
}

const statusOf = (table: Record<string, EntityStatus>, value: string, field: string) =>
  statusFrom(table, value, field, `a known status (${Object.keys(table).join(', ')})`);

/** Affiliate and advertiser exports: an account status and contacts whose first e-mail is the contact. */
function accountRow(
  id: string,
  name: string,
  r: { account_status: { account_status_name: string }; contacts?: { email_address?: string | null }[] | null },
  record: unknown,
): EntityRow {
  return {
    id,
    name,
    status: statusOf(ACCOUNT_STATUSES, r.account_status.account_status_name, 'account_status.account_status_name'),
    email: firstEmail(r.contacts, 'email_address'),
    raw: scrubEntityRaw(record),
  };
}

/** Validates and maps one record of a stream. Never throws for bad input: a bad record is `{ ok: false, reason }`. */
export function normalizeCakeRecord<S extends Stream>(
  stream: S,
  record: unknown,
  o: CakeMapOptions,
  ctx: NormalizeContext,
): NormalizeResult<S> {
  const label = (idKey: string): RecordLabel => ({ platform: o.platform, stream, idKey });
  const mapped = (() => {
    switch (stream) {
      case 'conversions':
      case 'conversion_changes':
        return mapRecord(label('event_conversion_id'), eventConversionSchema, record, (r) =>
          mapConversion(r, record, o, ctx),
        );
      case 'clicks':
        return mapRecord(label('click_id'), clickSchema, record, (r) => mapClick(r, o, ctx));
      case 'affiliates':
        return mapRecord(label('affiliate_id'), affiliateSchema, record, (r) =>
          accountRow(r.affiliate_id, r.affiliate_name, r, record),
        );
      case 'advertisers':
        return mapRecord(label('advertiser_id'), advertiserSchema, record, (r) =>
          accountRow(r.advertiser_id, r.advertiser_name, r, record),
        );
      case 'offers':
        return mapRecord(
          label('offer_id'),
          offerSchema,
          record,
          (r): EntityRow => ({
            id: r.offer_id,
            name: r.offer_name,
            status: statusOf(OFFER_STATUSES, r.offer_status.offer_status_name, 'offer_status.offer_status_name'),
            email: null,
            raw: scrubEntityRaw(record),
          }),
        );
      default:
        return { ok: false as const, reason: `${o.platform} ${stream}: stream not offered by CAKE` };
    }
  })();
  return mapped as NormalizeResult<S>;
}
