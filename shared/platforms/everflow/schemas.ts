import * as z from 'zod';

/**
 * zod schemas for Everflow's Network API replies (docs/platform-apis.md §1.2–1.3).
 *
 * Two levels, on purpose:
 * - envelopes (`{"conversions":[…],"paging":{…}}`) are checked by the client; a reply that fails
 *   one is a PlatformApiError for the whole call (the API changed or answered something else);
 * - records are checked one by one in `normalize`, so one odd record is quarantined with its
 *   reason and the rest of its page still loads.
 *
 * Records are loose objects: Everflow adds fields over time and we keep them in `raw`. Ids come
 * as integers (`network_offer_id: 12`) or strings; both are accepted and mapped to strings.
 * Money arrives as the exact decimal text (MONEY_KEYS below) or, if a caller parsed the JSON itself,
 * as a number.
 */

/** An id as Everflow gives it: integer or string, never empty. */
export const idValue = z.union([
  z.string().min(1, 'expected a non-empty id'),
  z.number().int('expected an integer id'),
]);
/** Keys whose JSON numbers the client keeps as their exact text (money; ids stay numbers). */
export const MONEY_KEYS: ReadonlySet<string> = new Set(['payout', 'revenue', 'sale_amount']);

/** Money: decimal text (the client reads MONEY_KEYS losslessly) or a JSON number. */
export const moneyValue = z.union([z.string(), z.number()]);
/** Optional free text that Everflow sends as "" when unset; numbers (sub ids like 123) are accepted. */
const text = z.union([z.string(), z.number()]).nullish();
const unixSeconds = z.number().int('expected whole Unix seconds').positive('expected Unix seconds > 0');

const paging = z.looseObject({
  page: z.number().int().min(1),
  page_size: z.number().int().min(1),
  total_count: z.number().int().min(0),
});
export type EverflowPaging = z.infer<typeof paging>;

// ---------------------------------------------------------------------------------------------
// Envelopes

export const conversionsReplySchema = z.looseObject({
  conversions: z.array(z.unknown()),
  paging,
  incomplete_results: z.boolean().optional(),
});

/** `clicks/stream` has no paging: at most 10,000 rows and nothing says whether more exist. */
export const clicksReplySchema = z.looseObject({
  clicks: z.array(z.unknown()),
  incomplete_results: z.boolean().optional(),
});

export const affiliatesReplySchema = z.looseObject({ affiliates: z.array(z.unknown()), paging });
export const offersReplySchema = z.looseObject({ offers: z.array(z.unknown()), paging });
export const advertisersReplySchema = z.looseObject({ advertisers: z.array(z.unknown()), paging });

/**
 * A `/v1/meta/timezones` row. Two shapes are published: the metadata page's example
 * (`timezone_id`, `timezone_name`, `timezone`, `utc_offset`) and the OpenAPI listing's
 * (`timezone_id`, `timezone`, `offset`, `label`); both are read.
 */
export const timezoneSchema = z.looseObject({
  timezone_id: z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.number().int()),
  timezone_name: z.string().nullish(),
  label: z.string().nullish(),
  /** IANA name (`UTC`, `America/New_York`). */
  timezone: z.string().nullish(),
  utc_offset: z.union([z.string(), z.number()]).nullish(),
  offset: z.union([z.string(), z.number()]).nullish(),
});
export const timezonesReplySchema = z.looseObject({ timezones: z.array(timezoneSchema) });
export type EverflowTimezone = z.infer<typeof timezoneSchema>;

/** Everflow's error body: `{"error": "descriptive error message"}`. */
export const errorReplySchema = z.looseObject({ error: z.string() });

// ---------------------------------------------------------------------------------------------
// Records

const relationshipAffiliate = z.looseObject({ network_affiliate_id: idValue, name: z.string().nullish() });
const relationshipOffer = z.looseObject({
  network_offer_id: idValue,
  name: z.string().nullish(),
  network_advertiser_id: idValue.nullish(),
});
const relationshipAdvertiser = z.looseObject({ network_advertiser_id: idValue, name: z.string().nullish() });

/**
 * A raw conversion or post-conversion event. Affiliate, offer and advertiser ids are not
 * top-level fields: they live in `relationship` (§1.3).
 */
export const conversionRecordSchema = z.looseObject({
  conversion_id: idValue,
  conversion_unix_timestamp: unixSeconds,
  click_unix_timestamp: unixSeconds.nullish().or(z.literal(0)),
  /** The click id, 32 characters. */
  transaction_id: z.string().nullish(),
  order_id: text,
  sub1: text,
  sub2: text,
  sub3: text,
  sub4: text,
  sub5: text,
  status: z.string(),
  is_event: z.boolean().nullish(),
  event: z.string().nullish(),
  payout: moneyValue,
  revenue: moneyValue,
  sale_amount: moneyValue.nullish(),
  currency_id: z.string().regex(/^[A-Za-z]{3}$/, 'expected an ISO 4217 code'),
  session_user_ip: z.string().nullish(),
  conversion_user_ip: z.string().nullish(),
  country: z.string().nullish(),
  country_code: z.string().nullish(),
  http_user_agent: z.string().nullish(),
  relationship: z.looseObject({
    affiliate: relationshipAffiliate,
    offer: relationshipOffer,
    advertiser: relationshipAdvertiser.nullish(),
  }),
});
export type EverflowConversion = z.infer<typeof conversionRecordSchema>;

/**
 * A raw click from `clicks/stream`. The offer (with its advertiser id) and geolocation are in
 * `relationship`; the affiliate sub-object is not shown in the public excerpts (§1.3, INFERRED),
 * so `relationship.affiliate.network_affiliate_id` is preferred and a top-level
 * `network_affiliate_id` accepted.
 */
export const clickRecordSchema = z.looseObject({
  transaction_id: z.string().min(1, 'expected the click transaction id'),
  unix_timestamp: unixSeconds,
  is_unique: z.union([z.number().int(), z.boolean()]).nullish(),
  sub1: text,
  sub2: text,
  sub3: text,
  sub4: text,
  sub5: text,
  user_ip: z.string().nullish(),
  http_user_agent: z.string().nullish(),
  user_agent: z.string().nullish(),
  network_affiliate_id: idValue.nullish(),
  relationship: z.looseObject({
    offer: relationshipOffer,
    affiliate: relationshipAffiliate.nullish(),
    geolocation: z.looseObject({ country_code: z.string().nullish() }).nullish(),
  }),
});
export type EverflowClick = z.infer<typeof clickRecordSchema>;

/** `relationship.users` as documented (`{total, entries: [...]}`), or a bare list. */
const users = z
  .preprocess(
    (v) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) && Array.isArray((v as { entries?: unknown }).entries)
        ? (v as { entries: unknown[] }).entries
        : v,
    z.array(z.looseObject({ email: z.string().nullish() })),
  )
  .nullish();

export const affiliateRecordSchema = z.looseObject({
  network_affiliate_id: idValue,
  name: z.string(),
  /** active, inactive, pending, suspended. */
  account_status: z.string(),
  relationship: z.looseObject({ users }).nullish(),
});
export type EverflowAffiliate = z.infer<typeof affiliateRecordSchema>;

export const offerRecordSchema = z.looseObject({
  network_offer_id: idValue,
  network_advertiser_id: idValue.nullish(),
  name: z.string(),
  /** active, paused, pending, deleted. */
  offer_status: z.string(),
});
export type EverflowOffer = z.infer<typeof offerRecordSchema>;

export const advertiserRecordSchema = z.looseObject({
  network_advertiser_id: idValue,
  name: z.string(),
  account_status: z.string(),
  relationship: z.looseObject({ users }).nullish(),
});
export type EverflowAdvertiser = z.infer<typeof advertiserRecordSchema>;
