import type { Stream } from '../../model/canonical.js';
import type { Connector, NormalizeContext, NormalizeResult } from '../types.js';
import { HITPATH_HORIZON_DAYS, HITPATH_RATE_LIMIT, fetchHitpathSlice } from './client.js';
import { mapHitpathClick, mapHitpathSale, type MapContext, PERSONAL_KEYS } from './map.js';
import { resolveColumns, type HitpathConfig } from './schemas.js';
import { redactRaw } from '../kit/personal.js';

export { HITPATH_RATE_LIMIT, HITPATH_HORIZON_DAYS } from './client.js';

/**
 * Slice lengths. The Reporting API takes whole local dates and has no paging, so every slice costs
 * one call per stream however short it is, and the budget is 2 calls per 5 minutes (576 a day,
 * shared by both streams and every retry). So a slice is as long as the API allows: the whole
 * 45-day horizon in one call per stream. The reply is parsed as a stream (client.ts), so its size
 * does not bound the slice; no row bound either.
 */
const SLICE_HOURS = HITPATH_HORIZON_DAYS * 24;

/**
 * HitPath connector. Streams: conversions (`type=sales`) and clicks (`type=clicks`) only — HitPath
 * publishes no spec for its Admin API (entity lists) and has no change feed (reference §3.2, §5),
 * so there are no entity or conversion_changes streams; status changes are caught by the lookback
 * re-read of `type=sales`, which reports statuses as of now.
 */
export function createHitpathConnector(key: string, config: HitpathConfig): Connector {
  const columns = resolveColumns(config.columns);
  const mapCtx: MapContext = { platform: key, columns, timezone: config.timezone, currency: config.currency };
  return {
    kind: 'hitpath',
    streams: ['conversions', 'clicks'],
    horizonDays: HITPATH_HORIZON_DAYS,
    defaultRateLimit: HITPATH_RATE_LIMIT,
    sliceHours: () => SLICE_HOURS,
    sliceRows: () => null,
    fetchSlice: (slice, ctx, onPage) => fetchHitpathSlice({ platform: key, config, columns }, slice, ctx, onPage),
    redact: (record, ctx) => redactRaw(record, ctx, PERSONAL_KEYS),
    normalize<S extends Stream>(stream: S, record: unknown, ctx: NormalizeContext): NormalizeResult<S> {
      if (stream === 'conversions') return mapHitpathSale(record, mapCtx, ctx) as NormalizeResult<S>;
      if (stream === 'clicks') return mapHitpathClick(record, mapCtx, ctx) as NormalizeResult<S>;
      return { ok: false, reason: `${key} ${stream}: HitPath has no ${stream} stream (only conversions and clicks)` };
    },
  };
}
