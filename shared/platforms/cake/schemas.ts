import * as z from 'zod';
import { parseJsonBody } from '../http.js';
import { PlatformApiError } from '../types.js';

/**
 * Zod schemas for CAKE's classic ASMX API in its JSON form (docs/platform-apis.md §2).
 *
 * A JSON reply is ASP.NET's `{"d": {…}}` wrapper around the method's result object, which carries
 * `success`, `message`, `row_count` and one list (`event_conversions`, `clicks`, `affiliates`,
 * `offers`, `advertisers`). Record field names follow pycake's models (the only public evidence;
 * CAKE's own articles show the XML form).
 *
 * Numbers: `parseCakeJson` turns every JSON number literal into a string *before* `JSON.parse`
 * sees it, so money (`"amount": 12.10`) and 64-bit ids reach the mappers as the exact text CAKE
 * sent, never as a binary float. The schemas therefore take numeric fields as strings (and, for
 * records that came through some other parser, as numbers, converted with `String`).
 */

/** JSON.parse with every number literal kept as its source text (shared/platforms/kit/json.ts). */
export const parseCakeJson = (text: string, platform = 'cake', method = 'reply'): unknown =>
  parseJsonBody(platform, method, text);

/** The key under which the client annotates a record with what only the instance knows (its currency list). */
export const CAKE_ANNOTATION = '_dualtrack';

// ---- field primitives -------------------------------------------------------------------------

// Numbers are preprocessed to strings (records that did not come through parseCakeJson), so a bad
// value fails with the message of the one schema that applies, not a vague "invalid union".
const numberToText = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : v);

/** An id as CAKE sends it (an integer; any non-empty text accepted and kept as a string). */
export const cakeId = z.preprocess(numberToText, z.string('expected an id').trim().min(1, 'expected an id'));
const optId = cakeId.nullish();

/** Integers such as `row_count` (strings after parseCakeJson). */
export const cakeCount = z.preprocess(
  numberToText,
  z.string('expected a non-negative integer').regex(/^\d+$/, 'expected a non-negative integer').transform(Number),
);

/** A decimal as CAKE sent it, kept as text (exponent forms are expanded by shared/platforms/kit/decimal.ts). */
export const cakeDecimal = z.preprocess(
  numberToText,
  z.string('expected a decimal').regex(/^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/, 'expected a decimal'),
);

/** `/Date(1761966000000)/` or `/Date(1761966000000-0500)/` (validated and converted in map.ts). */
export const cakeDate = z
  .string('expected /Date(ms)/')
  .regex(
    /^\/Date\(-?\d+(?:[+-]\d{4})?\)\/$|^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?$/,
    'expected /Date(ms)/',
  );

const optText = z.preprocess(numberToText, z.string('expected text').nullish());
const flag = z.preprocess(
  (v) => (typeof v === 'string' && /^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : v),
  z.boolean('expected true or false').nullish(),
);

const money = z.looseObject({ currency_id: optText, currency_abbr: optText, amount: cakeDecimal });

// ---- records ----------------------------------------------------------------------------------

/** One `event_conversions[]` record (EventConversions v18 and EventConversionChanges v18). */
export const eventConversionSchema = z.looseObject({
  event_conversion_id: cakeId,
  event_conversion_date: cakeDate,
  last_updated: cakeDate.nullish(),
  click_date: cakeDate.nullish(),
  click_id: optId,
  request_session_id: optId,
  click_request_session_id: optId,
  transaction_id: optText,
  visitor_id: optText,
  udid: optText,
  user_id: optText,
  source_affiliate: z.looseObject({ source_affiliate_id: cakeId, source_affiliate_name: optText }),
  brand_advertiser: z.looseObject({ brand_advertiser_id: cakeId, brand_advertiser_name: optText }).nullish(),
  site_offer: z.looseObject({ site_offer_id: cakeId, site_offer_name: optText }),
  event_info: z.looseObject({ event_id: optId, event_name: optText, event_type: optText }).nullish(),
  sub_id_1: optText,
  sub_id_2: optText,
  sub_id_3: optText,
  sub_id_4: optText,
  sub_id_5: optText,
  paid: money,
  received: money,
  order_total: cakeDecimal.nullish(),
  current_disposition: z
    .looseObject({
      disposition_type: z.looseObject({ disposition_type_id: optId, disposition_type_name: z.string() }).nullish(),
    })
    .nullish(),
  returned: flag,
  test: flag,
  event_conversion_ip_address: optText,
  click_ip_address: optText,
  event_conversion_user_agent: optText,
  click_user_agent: optText,
  country: z.looseObject({ country_code: optText }).nullish(),
});
export type CakeEventConversion = z.infer<typeof eventConversionSchema>;

/** One `clicks[]` record (Clicks v12). */
export const clickSchema = z.looseObject({
  click_id: cakeId,
  click_date: cakeDate,
  request_session_id: optId,
  source_affiliate: z.looseObject({ source_affiliate_id: cakeId, source_affiliate_name: optText }),
  brand_advertiser: z.looseObject({ brand_advertiser_id: cakeId, brand_advertiser_name: optText }).nullish(),
  site_offer: z.looseObject({ site_offer_id: cakeId, site_offer_name: optText }),
  sub_id_1: optText,
  sub_id_2: optText,
  sub_id_3: optText,
  sub_id_4: optText,
  sub_id_5: optText,
  ip_address: optText,
  user_agent: optText,
  country: z.looseObject({ country_code: optText }).nullish(),
  duplicate: flag,
});
export type CakeClick = z.infer<typeof clickSchema>;

const accountStatus = z.looseObject({ account_status_id: optId, account_status_name: z.string() });
/** Contacts: pycake names the list; the e-mail field name is not in public material (`email_address` assumed). */
const contacts = z.array(z.looseObject({ email_address: optText })).nullish();

/** `export.asmx/Affiliates` v5 record (pycake SourceAffiliate). */
export const affiliateSchema = z.looseObject({
  affiliate_id: cakeId,
  affiliate_name: z.string(),
  account_status: accountStatus,
  contacts,
});
/** `export.asmx/Advertisers` v6 record (pycake BrandAdvertiser). */
export const advertiserSchema = z.looseObject({
  advertiser_id: cakeId,
  advertiser_name: z.string(),
  account_status: accountStatus,
  contacts,
});
/** `export.asmx/Offers` v6 record (pycake SiteOffer). */
export const offerSchema = z.looseObject({
  offer_id: cakeId,
  offer_name: z.string(),
  offer_status: z.looseObject({ offer_status_id: optId, offer_status_name: z.string() }),
  advertiser: z.looseObject({ advertiser_id: cakeId }).nullish(),
});

// ---- replies ----------------------------------------------------------------------------------

/** The result object inside `d`; its one record list is checked by name in `parseCakeReply`. */
export const replySchema = z.looseObject({
  d: z.union([
    z.looseObject({
      success: flag,
      message: z.string().nullish(),
      row_count: cakeCount.nullish(),
    }),
    // Some failures come back as a bare string in `d` (e.g. GetAPIKey's empty string).
    z.string(),
  ]),
});
const recordList = z.array(z.unknown()).nullish();

export interface CakePage {
  records: unknown[];
  /** Total rows matching the query (all pages), when CAKE says. */
  rowCount: number | null;
}

/**
 * Turns a reply body into a page: not JSON / cut short → retryable; wrong shape → retryable (a
 * truncated-but-parseable body is rare, but a proxy error page is not); `success: false` → CAKE's
 * own message, not retryable (bad key, bad parameter). `secret` is scrubbed from CAKE's message.
 */
export function parseCakeReply(
  text: string,
  method: string,
  listKey: string,
  secret: string,
  platform = 'cake',
): CakePage {
  const json = parseCakeJson(text, platform, method);
  const parsed = replySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PlatformApiError(
      platform,
      method,
      `unexpected reply shape at ${issue.path.join('.') || '(root)'}: ${issue.message}; starts with ${JSON.stringify(scrub(text.slice(0, 80), secret))}`,
      { retryable: true, field: issue.path.join('.') },
    );
  }
  const d = parsed.data.d;
  if (typeof d === 'string') {
    throw new PlatformApiError(platform, method, `CAKE error: ${scrub(d, secret) || '(empty reply)'}`, {
      retryable: false,
    });
  }
  if (d.success === false) {
    throw new PlatformApiError(platform, method, `CAKE error: ${scrub(d.message ?? '(no message)', secret)}`, {
      retryable: false,
    });
  }
  const list = recordList.safeParse((d as Record<string, unknown>)[listKey]);
  if (!list.success) {
    throw new PlatformApiError(platform, method, `d.${listKey}: expected a list of records`, {
      retryable: true,
      field: `d.${listKey}`,
    });
  }
  if (list.data === undefined && d.success !== true) {
    throw new PlatformApiError(platform, method, `reply has neither "${listKey}" nor success=true`, {
      retryable: true,
      field: `d.${listKey}`,
    });
  }
  return { records: list.data ?? [], rowCount: d.row_count ?? null };
}

function scrub(s: string, secret: string): string {
  return secret ? s.split(secret).join('[api_key]') : s;
}
