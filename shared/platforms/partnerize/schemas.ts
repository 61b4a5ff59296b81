import * as z from 'zod';

/**
 * Zod schemas for the Partnerize replies and records we read (docs/platform-apis.md §4;
 * vendor OpenAPI mirrored in api-evangelist/partnerize):
 *
 * | stream                          | endpoint                                                              | wrapper                          |
 * |---------------------------------|-----------------------------------------------------------------------|----------------------------------|
 * | conversions, conversion_changes | GET /reporting/report_advertiser/campaign/{campaign_id}/conversion.json | `conversions: [{conversion_data}]` |
 * | clicks                          | GET /reporting/report_advertiser/campaign/{campaign_id}/click.json      | `clicks: [{click}]`              |
 * | offers (campaigns)              | GET /campaign?network_id=…                                            | `campaigns: [{campaign}]`        |
 * | affiliates (partners)           | GET /v2/networks/{network_id}/publishers                              | `publishers: [{…}]`              |
 * | advertisers (brands)            | GET /user/advertiser                                                  | `advertisers: [{advertiser}]`    |
 *
 * "Advertisers = Brands and Publishers = Partners" in Partnerize's own words, so brands are our
 * advertisers, partners our affiliates and campaigns our offers. The brand list's record shape is
 * not in the mirrored examples: it is modelled on the v1 wrapper convention the other v1 lists share
 * (`advertisers: [{advertiser: {advertiser_id, …}}]`, INFERRED) and read leniently.
 *
 * Numbers: the client parses bodies with every JSON number kept as its literal text (see
 * `parsePartnerizeJson` in client.ts), so money arrives as `"400.10"`, never as a double. Schemas
 * accept a JS number too (a record that reached us already parsed) and map.ts turns it into text.
 *
 * Envelopes are checked strictly enough to page correctly; records are loose objects (new fields are
 * a documented backwards-compatible change) and each record is validated on its own in map.ts, so
 * one bad record is quarantined without failing its page.
 */

/** A JSON number as the client hands it over: the literal's text, or a number from elsewhere. */
export const numberLiteral = z.union([z.string(), z.number()]);

/** Ids are strings like `111111l10`; a purely numeric id may come as a JSON number. */
export const platformId = z.union([z.string().trim().min(1, 'expected a non-empty id'), z.number()]).transform(String);
const optionalText = z.union([z.string(), z.number()]).transform(String).nullish();

/**
 * Added by our client to each conversion and click record (never sent by Partnerize): the zone the
 * record's offsetless times are written in (the `timezone` we asked for) and the campaign's brand,
 * which the report rows do not carry. Kept in `raw`, so a stored record says how to read its times.
 */
export const annotationSchema = z.looseObject({
  timezone: z.string().min(1),
  advertiser_id: z.string().nullish(),
});
export type PartnerizeAnnotation = z.infer<typeof annotationSchema>;
export const ANNOTATION_KEY = '_dualtrack';

export const conversionItemSchema = z.looseObject({
  conversion_item_id: platformId,
  sku: optionalText,
  category: z.string().nullish(),
  item_value: numberLiteral,
  /** In the vendor example, not in its schema: optional, with a fallback to `conversion_value.commission`. */
  item_commission: numberLiteral.nullish(),
  item_publisher_commission: numberLiteral,
  item_status: z.string(),
  item_status_id: numberLiteral.nullish(),
  approved_at: z.string().nullish(),
  reject_reason: z.string().nullish(),
  last_update: z.string().nullish(),
});
export type PartnerizeConversionItem = z.infer<typeof conversionItemSchema>;

/**
 * The click embedded in a conversion: optional context (a conversion tracked without a click, or
 * a click Partnerize no longer shows, carries an empty or partial one), so no field of it is
 * required and a bad one never costs the conversion.
 */
export const embeddedClickSchema = z.looseObject({
  click_id: platformId.nullish().catch(null),
  set_time: z.string().nullish(),
  set_ip: z.string().nullish(),
  clickref: optionalText,
  status: z.string().nullish(),
});

export const conversionSchema = z.looseObject({
  conversion_id: platformId,
  campaign_id: platformId,
  publisher_id: platformId,
  /** Offsetless local time in the requested `timezone` (v1), or ISO-8601 with an offset (v3). */
  conversion_time: z.string().min(1, 'expected a time'),
  currency: z.string(),
  advertiser_reference: z.string().nullish(),
  /** The brand's order reference (Partnerize generates `AUTO-…` when the brand sends none). */
  conversion_reference: optionalText,
  customer_reference: z.string().nullish(),
  referer_ip: z.string().nullish(),
  last_modified: z.string().nullish(),
  conversion_type: numberLiteral.nullish(),
  country: z.string().nullish(),
  ref_conversion_metric: z.string().nullish(),
  ref_conversion_metric_id: numberLiteral.nullish(),
  click: embeddedClickSchema.nullish().catch(null),
  conversion_value: z.looseObject({
    conversion_status: z.string(),
    value: numberLiteral,
    commission: numberLiteral,
    publisher_commission: numberLiteral,
  }),
  conversion_items: z.array(conversionItemSchema).nullish(),
  was_disputed: z.union([z.boolean(), z.string()]).nullish(),
  clickref: optionalText,
  /** Not in the documented payload; read when present (top level or in meta_data). */
  user_agent: z.string().nullish(),
  meta_data: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]).nullish(),
  [ANNOTATION_KEY]: annotationSchema.optional(),
});
export type PartnerizeConversion = z.infer<typeof conversionSchema>;

export const clickSchema = z.looseObject({
  click_id: platformId,
  campaign_id: platformId,
  publisher_id: platformId,
  set_time: z.string().min(1, 'expected a time'),
  set_ip: z.string().nullish(),
  type: z.string().nullish(),
  status: z.string().nullish(),
  country: z.string().nullish(),
  clickref: optionalText,
  user_agent: z.string().nullish(),
  [ANNOTATION_KEY]: annotationSchema.optional(),
});
export type PartnerizeClick = z.infer<typeof clickSchema>;

/** Campaign status codes: a(ctive), p(ending), r(ejected), n (not active). */
export const campaignSchema = z.looseObject({
  campaign_id: platformId,
  advertiser_id: platformId.nullish(),
  title: z.string(),
  status: z.string().nullish(),
  default_currency: z.string().nullish(),
  reporting_timezone: z.string().nullish(),
  advertiser_name: z.string().nullish(),
});
export type PartnerizeCampaign = z.infer<typeof campaignSchema>;

export const publisherSchema = z.looseObject({
  id: platformId,
  name: z.string().nullish(),
  company_name: z.string().nullish(),
  contact_email: z.string().nullish(),
  /** true / false, or null when the network has not decided. */
  active: z.boolean().nullish(),
  account_created: z.string().nullish(),
  network_id: optionalText,
});
export type PartnerizePublisher = z.infer<typeof publisherSchema>;

export const advertiserSchema = z.looseObject({
  advertiser_id: platformId,
  company_name: z.string().nullish(),
  name: z.string().nullish(),
  advertiser_name: z.string().nullish(),
  status: z.string().nullish(),
  contact_email: z.string().nullish(),
});
export type PartnerizeAdvertiser = z.infer<typeof advertiserSchema>;

// ---- envelopes -------------------------------------------------------------------------------

/** `hypermedia.pagination`: `next_page` carries the next `offset` or `cursor_id` (null on the last page). */
export const hypermediaSchema = z
  .looseObject({
    pagination: z
      .looseObject({
        next_page: z.string().nullish(),
        total_item_count: numberLiteral.nullish(),
        total_page_count: numberLiteral.nullish(),
      })
      .nullish(),
  })
  .nullish();

const pagingFields = {
  count: numberLiteral.nullish(),
  limit: numberLiteral.nullish(),
  offset: numberLiteral.nullish(),
  /** Cursor paging (granular conversion report): pass it back as `cursor_id` for the next page. */
  cursor_id: numberLiteral.nullish(),
  hypermedia: hypermediaSchema,
};

/** Report rows are checked one by one in map.ts; the envelope only needs the array. */
export const conversionReportSchema = z.looseObject({ ...pagingFields, conversions: z.array(z.unknown()) });
export const clickReportSchema = z.looseObject({
  ...pagingFields,
  unique_click_count: numberLiteral.nullish(),
  clicks: z.array(z.unknown()),
});
export const campaignListSchema = z.looseObject({ ...pagingFields, campaigns: z.array(z.unknown()) });
export const publisherListSchema = z.looseObject({ ...pagingFields, publishers: z.array(z.unknown()) });
export const advertiserListSchema = z.looseObject({ ...pagingFields, advertisers: z.array(z.unknown()) });

const pagingSchema = z.looseObject(pagingFields);
/** What the pager reads from any list reply. */
export type PagedEnvelope = z.infer<typeof pagingSchema>;
