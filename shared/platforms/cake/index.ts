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
 * Slice lengths. Conversions: 6 h — CAKE warns that wide report ranges time out (§2.4) and the one
 * public export script pulls 30-minute windows; 6 h keeps each query small while paging handles
 * volume. Clicks: 1 h (~100× the conversion volume). Changes: 24 h — `changes_since` returns every
 * change from the slice start up to now, so the slice end does not bound the query anyway. Entity
 * exports ignore the window.
 */
const SLICE_HOURS: Record<Stream, number> = {
  conversions: 6,
  conversion_changes: 24,
  clicks: 1,
  affiliates: 24,
  offers: 24,
  advertisers: 24,
};

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
