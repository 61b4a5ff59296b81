import type { Stream } from '../../model/canonical.js';
import type { PlatformConfig } from '../../config/schema.js';
import type { Connector, NormalizeResult } from '../types.js';
import { EverflowClient, type EverflowClientOptions } from './client.js';
import { mapAdvertiser, mapAffiliate, mapClick, mapConversion, mapOffer, PERSONAL_KEYS } from './map.js';
import { redactRaw } from '../kit/personal.js';

export { EverflowClient, findUtcTimezone, ENDPOINTS as EVERFLOW_ENDPOINTS } from './client.js';

/**
 * The Everflow connector (docs/design.md §3, docs/platform-apis.md §1).
 *
 * - streams: conversions (base conversions and post-conversion events in one pull), clicks and
 *   the three entity tables. No `conversion_changes`: Everflow's Network reporting API has no
 *   change feed (its change feeds are Firehose and webhooks, push-only, §1.2), and every pull
 *   re-reads the conversions lookback window (default 72 h), where status and payout changes show
 *   up as new values of the same `conversion_id` and are upserted.
 * - defaultRateLimit: 20 requests/s per network. The newer docs say 30/s, the older page and the
 *   Firehose page 20/s; the quota is per customer, shared with every key and user of the network,
 *   so we plan for 20 (§1.4). The 10-concurrent-reporting-calls limit is the fetch queue's
 *   concurrency, not this object's business.
 * - horizonDays: 365, the raw conversions limit (§1.2). Raw clicks are kept only ~90 days (except
 *   those that converted): clicks/stream answers older windows with fewer rows, not an error.
 * - sliceHours: conversions 14 days: they page by 2,000 whatever the window, so longer slices mean
 *   fewer part-filled last pages, but a page-numbered list cannot be handed on part-way, so one
 *   slice must fit one invocation even before the ledger knows the density. Clicks 45 days:
 *   clicks/stream takes at most 14 days and 10,000 rows a call, and the client pages a truncated
 *   reply from its newest second, so a slice costs about rows / 10,000 calls (at least one per 14
 *   days) whatever its length. Entities 24 h (the window is ignored: whole list).
 * - sliceRows: a slice carries at most 1,000,000 clicks (100 calls, a few minutes) or 200,000
 *   conversions (100 pages): what one fetch invocation gets through well inside its timeout. The
 *   planner shortens slices to it from the ledger's density; with no history yet (the first
 *   backfill) the click client stops after that many rows or near the function's deadline and the
 *   fetch worker hands the rest of the window to a new slice.
 */

/** Test and tuning knobs; production uses the documented defaults. */
export type EverflowConnectorOptions = Omit<EverflowClientOptions, 'platform' | 'baseUrl'>;

export function createEverflowConnector(
  key: string,
  config: Extract<PlatformConfig, { kind: 'everflow' }>,
  options: EverflowConnectorOptions = {},
): Connector {
  const client = new EverflowClient({ platform: key, baseUrl: config.baseUrl, ...options });
  const streams: readonly Stream[] = ['conversions', 'clicks', 'affiliates', 'offers', 'advertisers'];
  return {
    kind: 'everflow',
    streams,
    horizonDays: 365,
    defaultRateLimit: { requests: 20, perSeconds: 1 },
    sliceHours: (stream: Stream) => (stream === 'clicks' ? 45 * 24 : stream === 'conversions' ? 14 * 24 : 24),
    sliceRows: (stream: Stream) => (stream === 'clicks' ? 1_000_000 : stream === 'conversions' ? 200_000 : null),
    fetchSlice(slice, ctx, onPage) {
      return client.fetchSlice(slice, ctx, onPage);
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
          return mapConversion(key, stream, record, ctx) as NormalizeResult<S>;
        case 'clicks':
          return mapClick(key, record, ctx) as NormalizeResult<S>;
        case 'affiliates':
          return mapAffiliate(key, record) as NormalizeResult<S>;
        case 'offers':
          return mapOffer(key, record) as NormalizeResult<S>;
        case 'advertisers':
          return mapAdvertiser(key, record) as NormalizeResult<S>;
        default:
          return { ok: false, reason: `${key} ${String(stream)}: unknown stream` };
      }
    },
  };
}
