import type { PlatformConfig } from '../../config/schema.js';
import type { Stream } from '../../model/canonical.js';
import type { Connector, NormalizeResult } from '../types.js';
import { fetchPartnerizeSlice } from './client.js';
import { mapAdvertiser, mapCampaign, mapClick, mapConversion, mapPublisher, PERSONAL_KEYS } from './map.js';
import { redactRaw } from '../kit/personal.js';

/**
 * The Partnerize connector (docs/platform-apis.md §4). Streams: conversions and conversion_changes
 * (the per-campaign conversion report, by conversion time / by `date_type=last_modified`), clicks,
 * affiliates (partners = publishers), offers (campaigns), advertisers (brands). See client.ts for
 * the wire details and map.ts for the mapping decisions.
 *
 * - `defaultRateLimit`: Partnerize publishes no number ("rate limit based on usage"; §4.4), only a
 *   429 with `X-RateLimit-*` headers. We start at 1 request/s with a burst of 10 (a conversion slice
 *   costs 1 + campaigns × pages calls) and let the 429 headers, which pause the shared bucket,
 *   tell us when that is too much. `platforms.<key>.rateLimit` overrides it.
 * - `horizonDays`: null — no maximum look-back or date range is documented (§4.4 "NOT FOUND").
 * - Slices: conversions and their changes by day (the only public client, tap-partnerize, pulls
 *   one day at a time); clicks by hour (≈100× the rows, and offset paging gets slower and less
 *   stable the deeper it goes, so keep each request's result set small).
 */
export function createPartnerizeConnector(
  key: string,
  config: Extract<PlatformConfig, { kind: 'partnerize' }>,
): Connector {
  const client = {
    key,
    baseUrl: config.baseUrl,
    networkId: config.networkId,
    timezone: config.timezone,
    apiKeyEnv: config.apiKeyEnv,
    applicationKeyEnv: config.applicationKeyEnv,
  };
  return {
    kind: 'partnerize',
    streams: ['conversions', 'conversion_changes', 'clicks', 'affiliates', 'offers', 'advertisers'],
    horizonDays: null,
    defaultRateLimit: { requests: 10, perSeconds: 10 },
    sliceHours(stream: Stream): number {
      return stream === 'clicks' ? 1 : 24;
    },
    sliceRows: () => null,
    fetchSlice(slice, ctx, onPage) {
      return fetchPartnerizeSlice(slice, ctx, client, onPage);
    },
    redact: (record, ctx) => redactRaw(record, ctx, PERSONAL_KEYS),
    normalize<S extends Stream>(
      stream: S,
      record: unknown,
      ctx: Parameters<Connector['normalize']>[2],
    ): NormalizeResult<S> {
      switch (stream) {
        case 'conversions':
        case 'conversion_changes':
          return mapConversion(key, stream, record, ctx, config.timezone) as NormalizeResult<S>;
        case 'clicks':
          return mapClick(key, record, ctx, config.timezone) as NormalizeResult<S>;
        case 'affiliates':
          return mapPublisher(key, record) as NormalizeResult<S>;
        case 'offers':
          return mapCampaign(key, record) as NormalizeResult<S>;
        case 'advertisers':
          return mapAdvertiser(key, record) as NormalizeResult<S>;
        default:
          return { ok: false, reason: `${key} ${String(stream)}: stream not offered by Partnerize` };
      }
    },
  };
}
