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
import { BadField, currencyCode, firstEmail, idText as id, mapRecord, statusFrom, text } from '../kit/record.js';
import type { NormalizeContext, NormalizeResult } from '../types.js';
import {
  advertiserRecordSchema,
  affiliateRecordSchema,
  clickRecordSchema,
  conversionRecordSchema,
  offerRecordSchema,
  type EverflowClick,
  type EverflowConversion,
} from './schemas.js';

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
 *   English country name (shared/platforms/kit/personal.ts);
 * - money: exact decimal text (the client reads money keys losslessly), never float arithmetic;
 *   must fit DECIMAL(18,6);
 * - personal data: the user agent becomes `ctx.hash(ua)`; in `raw`, end-user email, device ids
 *   (idfa / google_ad_id / android_id and their md5/sha1 forms, which are stable identifiers too)
 *   and the user agent are replaced by `hmac:<keyed hash>`.
 */

export const PERSONAL_KEYS: ReadonlySet<string> = new Set([
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

const label = (platform: string, stream: Stream, idKey?: string) => ({
  platform,
  stream,
  idKey,
  hidden: PERSONAL_KEYS,
});

/** Unix seconds → `2026-10-12T13:02:11.000Z`. */
export function unixToIso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function countryOf(code: string | null | undefined, name: string | null | undefined): string | null {
  return countryCode(code) ?? countryCode(name);
}

export function mapConversion(
  platform: string,
  stream: 'conversions' | 'conversion_changes',
  record: unknown,
  ctx: NormalizeContext,
): NormalizeResult<'conversions'> {
  return mapRecord(label(platform, stream, 'conversion_id'), conversionRecordSchema, record, (r) =>
    conversionRow(r, record, ctx),
  );
}

function conversionRow(r: EverflowConversion, record: unknown, ctx: NormalizeContext): ConversionRow {
  const status = statusFrom(CONVERSION_STATUS, r.status, 'status', 'approved, pending, rejected or invalid');
  const isEvent = r.is_event === true;
  const txn = text(r.transaction_id);
  return {
    conversion_id: id(r.conversion_id),
    click_id: txn,
    transaction_id: txn,
    order_id: text(r.order_id),
    converted_at: unixToIso(r.conversion_unix_timestamp),
    clicked_at: r.click_unix_timestamp ? unixToIso(r.click_unix_timestamp) : null,
    affiliate_id: id(r.relationship.affiliate.network_affiliate_id),
    offer_id: id(r.relationship.offer.network_offer_id),
    advertiser_id: r.relationship.advertiser
      ? id(r.relationship.advertiser.network_advertiser_id)
      : r.relationship.offer.network_advertiser_id != null
        ? id(r.relationship.offer.network_advertiser_id)
        : null,
    ...subIds([r.sub1, r.sub2, r.sub3, r.sub4, r.sub5], ctx),
    event_name: isEvent ? text(r.event) : null,
    is_event: isEvent,
    status,
    revenue: money(r.revenue, 'revenue'),
    payout: money(r.payout, 'payout'),
    sale_amount:
      r.sale_amount === null || r.sale_amount === undefined || r.sale_amount === ''
        ? null
        : money(r.sale_amount, 'sale_amount'),
    currency: currencyCode(r.currency_id, 'currency_id'),
    ip: text(r.session_user_ip) ?? text(r.conversion_user_ip),
    user_agent_hash: userAgentHash(r.http_user_agent, ctx),
    country_code: countryOf(r.country_code, r.country),
    raw: redactRaw(record, ctx, PERSONAL_KEYS),
  };
}

export function mapClick(platform: string, record: unknown, ctx: NormalizeContext): NormalizeResult<'clicks'> {
  return mapRecord(label(platform, 'clicks', 'transaction_id'), clickRecordSchema, record, (r) => clickRow(r, ctx));
}

function clickRow(r: EverflowClick, ctx: NormalizeContext): ClickRow {
  const affiliate = r.relationship.affiliate?.network_affiliate_id ?? r.network_affiliate_id;
  if (affiliate === null || affiliate === undefined)
    throw new BadField(
      'relationship.affiliate.network_affiliate_id',
      'expected the affiliate id (relationship.affiliate or network_affiliate_id)',
      undefined,
    );
  const adv = r.relationship.offer.network_advertiser_id;
  return {
    click_id: r.transaction_id.trim(),
    clicked_at: unixToIso(r.unix_timestamp),
    affiliate_id: id(affiliate),
    offer_id: id(r.relationship.offer.network_offer_id),
    advertiser_id: adv === null || adv === undefined ? null : id(adv),
    ...subIds([r.sub1, r.sub2, r.sub3, r.sub4, r.sub5], ctx),
    ip: text(r.user_ip),
    user_agent_hash: userAgentHash(r.http_user_agent ?? r.user_agent, ctx),
    country_code: countryOf(r.relationship.geolocation?.country_code, null),
    is_unique: r.is_unique === true || r.is_unique === 1,
  };
}

/** Affiliates and advertisers: a name, an account status and users whose first e-mail is the contact. */
function accountRow(
  entityId: string | number,
  r: { name: string; account_status: string; relationship?: { users?: { email?: string | null }[] | null } | null },
  record: unknown,
): EntityRow {
  const status = statusFrom(ENTITY_STATUS, r.account_status, 'account_status');
  return entityRow(id(entityId), r.name, status, firstEmail(r.relationship?.users, 'email'), record);
}

export function mapAffiliate(platform: string, record: unknown): NormalizeResult<'affiliates'> {
  return mapRecord(label(platform, 'affiliates', 'network_affiliate_id'), affiliateRecordSchema, record, (r) =>
    accountRow(r.network_affiliate_id, r, record),
  );
}

export function mapOffer(platform: string, record: unknown): NormalizeResult<'offers'> {
  return mapRecord(label(platform, 'offers', 'network_offer_id'), offerRecordSchema, record, (r) =>
    entityRow(id(r.network_offer_id), r.name, statusFrom(ENTITY_STATUS, r.offer_status, 'offer_status'), null, record),
  );
}

export function mapAdvertiser(platform: string, record: unknown): NormalizeResult<'advertisers'> {
  return mapRecord(label(platform, 'advertisers', 'network_advertiser_id'), advertiserRecordSchema, record, (r) =>
    accountRow(r.network_advertiser_id, r, record),
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
