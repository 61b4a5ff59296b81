import type { PlatformConfig } from '../../config/schema.js';
import type { Stream } from '../../model/canonical.js';
import type { Connector } from '../types.js';
import { fetchCakeSlice } from './client.js';
import { normalizeCakeRecord, type CakeDateSemantics, PERSONAL_KEYS } from './map.js';
import { redactRaw } from '../kit/personal.js';

/**
 * The CAKE connector (docs/platform-apis.md §2; docs/design.md §3): EventConversions v18,
 * EventConversionChanges v18, Clicks v12 and the Affiliates / Offers / Advertisers exports.
 * See client.ts (requests, paging, time windows) and map.ts (record → row decisions).
 */

export type CakeConfig = Extract<PlatformConfig, { kind: 'cake' }>;

export interface CakeConnectorOptions {
  /**
   * How `/Date(ms)/` is read: the instance's wall clock (default, per the reference's "treat CAKE
   * times as instance-local", unconfirmed) or a true UTC epoch. See map.ts.
   */
  dateSemantics?: CakeDateSemantics;
  /** Page size for every method (default per method in client.ts). */
  rowLimit?: number;
}

/**
 * Slice lengths and sizes. CAKE pages every report by `row_limit`, so calls ≈ rows / page size
 * whatever the window; what bounds a slice is CAKE's warning that wide report ranges time out
 * server-side (§2.4) and one fetch invocation's time. Conversions: up to 7 days and 50,000 rows
 * (25 pages); clicks: up to 3 days and 100,000 rows (20 pages); the planner shortens a slice when
 * the ledger's recent density predicts more. Changes: 14 days — `changes_since` returns every change
 * from the slice start up to now, so the slice end does not bound the query anyway, and one slice
 * per run is the least it can cost. Entity exports ignore the window.
 */
const SLICE_HOURS: Record<Stream, number> = {
  conversions: 7 * 24,
  conversion_changes: 14 * 24,
  clicks: 3 * 24,
  affiliates: 24,
  offers: 24,
  advertisers: 24,
};
const SLICE_ROWS: Partial<Record<Stream, number>> = { conversions: 50_000, clicks: 100_000 };

export function createCakeConnector(key: string, config: CakeConfig, options: CakeConnectorOptions = {}): Connector {
  const dateSemantics = options.dateSemantics ?? 'instance-wall';
  const mapOptions = { platform: key, timezone: config.timezone, currency: config.currency, dateSemantics };
  return {
    kind: 'cake',
    streams: ['conversions', 'conversion_changes', 'clicks', 'affiliates', 'offers', 'advertisers'],
    // No documented look-back limit; historical backfill goes through these same reports (§2.6).
    horizonDays: null,
    // CAKE publishes no rate limit (§2.4: NOT FOUND) and warns that heavy reports time out; one
    // request per second shared by every worker is far below what a self-hosted ASMX instance
    // serves, and pages are sequential anyway. Override with config.rateLimit if agreed with CAKE.
    defaultRateLimit: { requests: 1, perSeconds: 1 },
    sliceHours: (stream) => SLICE_HOURS[stream],
    sliceRows: (stream) => SLICE_ROWS[stream] ?? null,
    fetchSlice: (slice, ctx, onPage) =>
      fetchCakeSlice(slice, ctx, onPage, {
        platform: key,
        baseUrl: config.baseUrl,
        timezone: config.timezone,
        dateSemantics,
        rowLimit: options.rowLimit,
      }),
    normalize: (stream, record, ctx) => normalizeCakeRecord(stream, record, mapOptions, ctx),
    redact: (record, ctx) => redactRaw(record, ctx, PERSONAL_KEYS),
  };
}
