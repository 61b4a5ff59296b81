import { isEntityStream, type Stream } from '../model/canonical.js';
import type { Connector } from '../platforms/types.js';
import type { PlatformConfig } from '../config/schema.js';
import { deterministicSliceId, newSliceId, type PlannedSlice } from './ledger.js';
import { DAY_MS, HOUR_MS } from '../util/time.js';

/** A request outside what the platform allows, or malformed: planned nothing, says why. */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/**
 * Cuts [from, to) into windows of at most `hours`. A window that fits is one slice. Otherwise the
 * cuts fall on UTC multiples of the slice length (of whole days, for slices longer than a day), so
 * re-plans reuse the same edges; the first and last windows may be partial.
 */
export function windows(from: Date, to: Date, hours: number): [Date, Date][] {
  const step = Math.max(1, hours) * HOUR_MS;
  if (to.getTime() - from.getTime() <= step) return [[from, to]];
  const unit = Math.min(step, DAY_MS);
  const out: [Date, Date][] = [];
  let start = from.getTime();
  while (start < to.getTime()) {
    // step ≥ unit, so the cut is always past `start`.
    const end = Math.min(Math.floor((start + step) / unit) * unit, to.getTime());
    out.push([new Date(start), new Date(end)]);
    start = end;
  }
  return out;
}

/**
 * The slice length for one stream: the config's override, else the longest the connector allows,
 * shortened so the stream's recent density (rows per hour, from the ledger) predicts no more rows
 * than one slice should carry. Never under an hour.
 */
export function sliceHoursFor(
  connector: Connector,
  stream: Stream,
  configured: number | undefined,
  rowsPerHour: number | null | undefined,
): number {
  if (configured !== undefined) return configured;
  const longest = connector.sliceHours(stream);
  const rows = connector.sliceRows(stream);
  if (rows === null || !rowsPerHour || rowsPerHour <= 0) return longest;
  return Math.max(1, Math.min(longest, Math.floor(rows / rowsPerHour)));
}

export interface WindowRequest {
  platform: string;
  connector: Connector;
  streams: readonly Stream[];
  from: Date;
  to: Date;
  now: Date;
  /** Deterministic ids (backfill/ingest: re-running resumes); null for scheduled runs (fresh ids each run). */
  runKey: string | null;
  backfillId: string | null;
  /** The config's `platforms.<key>.sliceHours` (overrides the connector's defaults). */
  sliceHours?: Partial<Record<string, number>>;
  /** Each stream's recent density (Ledger.rowsPerHour), to keep slices under the connector's sliceRows. */
  rowsPerHour?: Partial<Record<string, number | null>>;
}

/** Validates a window against the platform (streams offered, horizon) and cuts it into slices. */
export function planWindow(req: WindowRequest): PlannedSlice[] {
  const { connector, platform } = req;
  if (!(req.from.getTime() < req.to.getTime()))
    throw new PlanError(
      `the window is empty: --to (${req.to.toISOString()}) must be after --from (${req.from.toISOString()})`,
    );
  if (req.to.getTime() > req.now.getTime() + HOUR_MS)
    throw new PlanError(`--to ${req.to.toISOString()} is in the future (now is ${req.now.toISOString()})`);
  const unknown = req.streams.filter((s) => !connector.streams.includes(s));
  if (unknown.length)
    throw new PlanError(
      `${platform} (${connector.kind}) does not offer ${unknown.join(', ')}; it offers ${connector.streams.join(', ')}`,
    );
  if (connector.horizonDays !== null) {
    const earliest = req.now.getTime() - connector.horizonDays * DAY_MS;
    if (req.from.getTime() < earliest) {
      throw new PlanError(
        `${platform}: ${req.from.toISOString()} is beyond the platform's horizon: its API serves at most ${connector.horizonDays} days back (earliest ${new Date(earliest).toISOString()})`,
      );
    }
  }
  const out: PlannedSlice[] = [];
  for (const stream of req.streams) {
    const density = isEntityStream(stream) ? null : (req.rowsPerHour?.[stream] ?? null);
    const hours = sliceHoursFor(connector, stream, req.sliceHours?.[stream], density);
    const ws: [Date, Date][] = isEntityStream(stream) ? [[req.from, req.to]] : windows(req.from, req.to, hours);
    for (const [f, t] of ws) {
      const from = f.toISOString();
      const to = t.toISOString();
      out.push({
        sliceId: req.runKey ? deterministicSliceId(req.runKey, platform, stream, from, to) : newSliceId(),
        platform,
        stream,
        from,
        to,
        backfillId: req.backfillId,
      });
    }
  }
  return out;
}

/** Clicks never change once recorded: a scheduled pull re-reads only this much behind, for late rows. */
export const CLICK_LOOKBACK_HOURS = 2;
const DEFAULT_LOOKBACK_HOURS = 72;

/** The configured lookback of one stream (`lookbackHours`: a number for conversions, or per stream). */
export function lookbackHoursFor(p: Pick<PlatformConfig, 'lookbackHours'>, stream: Stream): number {
  const l = p.lookbackHours;
  if (typeof l === 'number') return stream === 'clicks' ? Math.min(l, CLICK_LOOKBACK_HOURS) : l;
  const own = (l as Partial<Record<Stream, number>>)[stream];
  return own ?? (stream === 'clicks' ? CLICK_LOOKBACK_HOURS : (l.conversions ?? DEFAULT_LOOKBACK_HOURS));
}

/**
 * The window a scheduled run fetches for one stream: from the watermark minus the stream's
 * lookback (conversions re-read status and payout changes, clicks only late rows, docs/design.md §3)
 * up to now, clamped to the platform's horizon and to `maxBehindDays` behind now. With no watermark
 * (nor any loaded data) yet, the first run reads one lookback (or one schedule interval) back.
 * When the watermark is more than `maxBehindDays` back, [watermark, now − maxBehindDays) is a `gap`
 * the schedule leaves to a backfill.
 */
export function scheduledWindow(
  p: PlatformConfig,
  connector: Connector,
  watermark: Date | null,
  now: Date,
  stream: Stream = 'conversions',
): { from: Date; to: Date; clamped: boolean; gap?: { from: Date; to: Date } } {
  const lookback = Math.max(lookbackHoursFor(p, stream) * HOUR_MS, p.scheduleMinutes * 60_000);
  let from = new Date((watermark?.getTime() ?? now.getTime()) - lookback);
  let clamped = false;
  let gap: { from: Date; to: Date } | undefined;
  const bound = now.getTime() - p.maxBehindDays * DAY_MS;
  if (watermark !== null && from.getTime() < bound) {
    if (watermark.getTime() < bound) gap = { from: watermark, to: new Date(bound) };
    from = new Date(bound);
  }
  if (connector.horizonDays !== null) {
    const earliest = now.getTime() - connector.horizonDays * DAY_MS + HOUR_MS;
    if (from.getTime() < earliest) {
      from = new Date(earliest);
      clamped = true;
    }
  }
  return gap ? { from, to: now, clamped, gap } : { from, to: now, clamped };
}
