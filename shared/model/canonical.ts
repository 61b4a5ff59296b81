/**
 * The canonical rows of docs/design.md §4. Every platform connector maps its records to these; the
 * loader writes them unchanged into `<prefix>_<platform>`. Conventions:
 * - ids are strings exactly as the platform gives them;
 * - times are UTC ISO-8601 strings with milliseconds (`2026-10-12T13:02:11.000Z`), converted once
 *   at the connector from the platform's own zone (see `shared/util/time.ts`);
 * - money is a decimal string (`"12.500000"` or `"12.5"`), never a JS number.
 */

export const PLATFORM_KINDS = ['everflow', 'hitpath', 'cake', 'partnerize'] as const;
export type PlatformKind = (typeof PLATFORM_KINDS)[number];

/** A stream is one kind of record a connector can pull for a time window. */
export const STREAMS = ['conversions', 'conversion_changes', 'clicks', 'affiliates', 'offers', 'advertisers'] as const;
export type Stream = (typeof STREAMS)[number];
export const ENTITY_STREAMS = ['affiliates', 'offers', 'advertisers'] as const;
export type EntityStream = (typeof ENTITY_STREAMS)[number];
/** Entity lists are read whole, never by window. */
export const isEntityStream = (s: string): s is EntityStream => (ENTITY_STREAMS as readonly string[]).includes(s);

export const CONVERSION_STATUSES = ['approved', 'pending', 'rejected', 'invalid'] as const;
export type ConversionStatus = (typeof CONVERSION_STATUSES)[number];

export const ENTITY_STATUSES = ['active', 'inactive', 'pending'] as const;
export type EntityStatus = (typeof ENTITY_STATUSES)[number];

export interface ConversionRow {
  conversion_id: string;
  click_id: string | null;
  transaction_id: string | null;
  /** The advertiser's order / transaction id (the cross-platform duplicate key). */
  order_id: string | null;
  converted_at: string;
  clicked_at: string | null;
  affiliate_id: string;
  offer_id: string;
  advertiser_id: string | null;
  sub1: string | null;
  sub2: string | null;
  sub3: string | null;
  sub4: string | null;
  sub5: string | null;
  event_name: string | null;
  /** true for a post-conversion event (not the base conversion). */
  is_event: boolean;
  status: ConversionStatus;
  revenue: string;
  payout: string;
  sale_amount: string | null;
  /** ISO 4217, upper case. */
  currency: string;
  ip: string | null;
  /** Keyed hash (see NormalizeContext.hash) of the user agent, never the user agent itself. */
  user_agent_hash: string | null;
  country_code: string | null;
  /** The platform's record, with end-user emails / device ids redacted (NormalizeContext.redact). */
  raw: unknown;
}

export interface ClickRow {
  click_id: string;
  clicked_at: string;
  affiliate_id: string;
  offer_id: string;
  advertiser_id: string | null;
  sub1: string | null;
  sub2: string | null;
  sub3: string | null;
  sub4: string | null;
  sub5: string | null;
  ip: string | null;
  user_agent_hash: string | null;
  country_code: string | null;
  is_unique: boolean;
}

export interface EntityRow {
  id: string;
  name: string;
  status: EntityStatus;
  email: string | null;
  raw: unknown;
}

/** What one stream's records become. */
export interface StreamRowTypes {
  conversions: ConversionRow;
  conversion_changes: ConversionRow;
  clicks: ClickRow;
  affiliates: EntityRow;
  offers: EntityRow;
  advertisers: EntityRow;
}

/** The table a stream loads into (conversion changes are upserts of conversions). */
export const STREAM_TABLE: Record<Stream, 'conversions' | 'clicks' | 'affiliates' | 'offers' | 'advertisers'> = {
  conversions: 'conversions',
  conversion_changes: 'conversions',
  clicks: 'clicks',
  affiliates: 'affiliates',
  offers: 'offers',
  advertisers: 'advertisers',
};
