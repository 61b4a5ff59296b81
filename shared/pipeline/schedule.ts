import { createHash } from 'node:crypto';
import * as z from 'zod';
import { isEntityStream, STREAMS, type Stream } from '../model/canonical.js';
import { toSqlDateTime, parseInstant } from '../util/time.js';
import type { PipelineDeps } from './deps.js';
import { Ledger, STUCK_AFTER_HOURS, type PlannedSlice, type SliceTotals } from './ledger.js';
import { fetchQueueName, type FetchJob } from './messages.js';
import { PlanError, planWindow, scheduledWindow } from './plan.js';

/**
 * schedule-fetch: plans one platform's slices from its watermarks minus the lookback up to now,
 * records them in the ledger and enqueues the fetch jobs. Entity lists are re-read every run.
 * Before the first scheduled slice finishes there is no watermark: the window then starts where
 * earlier backfills left off, or one lookback back when nothing was ever loaded.
 */
export async function scheduleFetch(platform: string, deps: PipelineDeps): Promise<PlannedSlice[]> {
  const connector = deps.connectors[platform];
  const p = deps.config.platforms[platform];
  if (!connector || !p) throw new PlanError(`platform "${platform}" is not configured`);
  const now = deps.clock.now();
  const ledger = new Ledger(deps.db, deps.names);
  const stuck = await ledger.failStuck(platform, now);
  await ledger.closeCoveredGaps(platform);
  if (stuck > 0)
    deps.logger.warn('stuck slices marked failed', { platform, slices: stuck, afterHours: STUCK_AFTER_HOURS });
  const slices: PlannedSlice[] = [];
  for (const stream of connector.streams) {
    const isEntity = isEntityStream(stream);
    const wm = isEntity
      ? null
      : ((await ledger.watermark(platform, stream)) ?? (await ledger.loadedUntil(platform, stream)));
    const w = scheduledWindow(p, connector, wm, now, stream);
    if (w.gap) {
      await ledger.recordGap(platform, stream, w.gap.from, w.gap.to, p.maxBehindDays, now);
      deps.logger.warn('schedule too far behind: gap left for a backfill', {
        platform,
        stream,
        from: w.gap.from.toISOString(),
        to: w.gap.to.toISOString(),
      });
    }
    if (w.clamped)
      deps.logger.warn('scheduled window clamped to the platform horizon', {
        platform,
        stream,
        from: w.from.toISOString(),
      });
    const planned = planWindow({
      platform,
      connector,
      streams: [stream],
      from: w.from,
      to: w.to,
      now,
      runKey: null,
      backfillId: null,
      sliceHours: p.sliceHours,
      rowsPerHour: { [stream]: isEntity ? null : await ledger.rowsPerHour(platform, stream) },
    });
    if (!isEntity) await ledger.supersedeFailed(platform, stream, w.from.toISOString(), w.to.toISOString());
    slices.push(...planned);
  }
  await enqueueSlices(await ledger.plan(slices, now), deps);
  deps.logger.info('fetch scheduled', { platform, slices: slices.length });
  return slices;
}

export async function enqueueSlices(slices: readonly PlannedSlice[], deps: PipelineDeps): Promise<void> {
  const byPlatform = new Map<string, string[]>();
  for (const s of slices) {
    const job: FetchJob = {
      kind: 'fetch',
      sliceId: s.sliceId,
      platform: s.platform,
      stream: s.stream,
      from: s.from,
      to: s.to,
    };
    const list = byPlatform.get(s.platform) ?? [];
    list.push(JSON.stringify(job));
    byPlatform.set(s.platform, list);
  }
  for (const [platform, bodies] of byPlatform) await deps.queue.send(fetchQueueName(platform), bodies);
}

/** The backfill Lambda's input (on-demand invoke) and `dualtrack backfill`'s flags. */
export const backfillRequestSchema = z.strictObject({
  platform: z.string().min(1),
  from: z.string(),
  to: z.string(),
  /** Default: every stream the platform offers. */
  streams: z.array(z.enum(STREAMS)).min(1).optional(),
  /** Re-fetch slices a previous identical request already loaded (default: resume, skipping them). */
  fresh: z.boolean().optional(),
});
export type BackfillRequest = z.infer<typeof backfillRequestSchema>;

export interface BackfillPlan {
  backfillId: string;
  slices: number;
  /** Slices already done by an earlier identical request (resumed, not re-fetched). */
  skipped: number;
}

/**
 * Validates and plans a backfill: a window beyond the platform's horizon, `to` before `from`, an
 * unknown platform or stream is refused with the reason and plans nothing. The id is derived from
 * the request, so asking again resumes (finished slices are skipped) unless `fresh` is set.
 */
export async function planBackfill(
  input: unknown,
  deps: PipelineDeps,
  options: { enqueue?: boolean } = {},
): Promise<BackfillPlan> {
  const parsed = backfillRequestSchema.safeParse(input);
  if (!parsed.success)
    throw new PlanError(
      `invalid backfill request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; ')}`,
    );
  const req = parsed.data;
  const connector = deps.connectors[req.platform];
  if (!connector)
    throw new PlanError(
      `unknown platform "${req.platform}": configured platforms are ${Object.keys(deps.connectors).join(', ')}`,
    );
  let from: Date, to: Date;
  try {
    from = parseInstant(req.from, 'from');
    to = parseInstant(req.to, 'to');
  } catch (e) {
    throw new PlanError((e as Error).message);
  }
  const streams: Stream[] = req.streams ?? [...connector.streams];
  const now = deps.clock.now();
  const runKey = createHash('sha256')
    .update(
      JSON.stringify([
        req.platform,
        from.toISOString(),
        to.toISOString(),
        [...streams].sort(),
        req.fresh ? now.toISOString() : '',
      ]),
    )
    .digest('hex');
  const backfillId = `${runKey.slice(0, 8)}-${runKey.slice(8, 12)}-${runKey.slice(12, 16)}-${runKey.slice(16, 20)}-${runKey.slice(20, 32)}`;
  const ledger = new Ledger(deps.db, deps.names);
  const rowsPerHour: Record<string, number | null> = {};
  for (const s of streams) if (!isEntityStream(s)) rowsPerHour[s] = await ledger.rowsPerHour(req.platform, s);
  const slices = planWindow({
    platform: req.platform,
    connector,
    streams,
    from,
    to,
    now,
    runKey,
    backfillId,
    sliceHours: deps.config.platforms[req.platform]?.sliceHours,
    rowsPerHour,
  });
  await deps.db.execute(
    `INSERT INTO ${deps.names.core}.backfills (backfill_id, platform, streams, window_from, window_to, status, slices_total, requested_at)
     VALUES (:id, :p, :s, :f, :t, 'running', :n, :now)
     ON DUPLICATE KEY UPDATE status = 'running', finished_at = NULL`,
    {
      id: backfillId,
      p: req.platform,
      s: streams.join(','),
      f: toSqlDateTime(from),
      t: toSqlDateTime(to),
      n: slices.length,
      now: toSqlDateTime(now),
    },
  );
  const todo = await ledger.plan(slices, now);
  if (options.enqueue !== false) await enqueueSlices(todo, deps);
  const planned = new Set(slices.map((s) => s.sliceId));
  const skipped = slices.length - todo.filter((s) => planned.has(s.sliceId)).length;
  deps.logger.info('backfill planned', {
    backfillId,
    platform: req.platform,
    slices: slices.length,
    resumedSkipped: skipped,
    handedOn: todo.length - (slices.length - skipped),
  });
  return { backfillId, slices: slices.length, skipped };
}

export interface BackfillProgress extends SliceTotals {
  backfillId: string;
  platform: string;
  status: 'running' | 'done' | 'failed';
  from: string;
  to: string;
}

/** Progress readable from the database: slices done/failed and rows, by the backfill id. */
export async function backfillProgress(
  backfillId: string,
  deps: Pick<PipelineDeps, 'db' | 'names' | 'clock'>,
): Promise<BackfillProgress | null> {
  const [b] = await deps.db.query<{ platform: string; window_from: string; window_to: string; status: string }>(
    `SELECT platform, window_from, window_to, status FROM ${deps.names.core}.backfills WHERE backfill_id = :id`,
    { id: backfillId },
  );
  if (!b) return null;
  const totals = await new Ledger(deps.db, deps.names).sliceTotals({ backfillId });
  let status: BackfillProgress['status'] = 'running';
  if (totals.done === totals.slices) status = 'done';
  else if (totals.done + totals.failed === totals.slices && totals.failed > 0) status = 'failed';
  if (status !== b.status) {
    await deps.db.execute(
      `UPDATE ${deps.names.core}.backfills SET status = :s, finished_at = IF(:s = 'running', NULL, :now) WHERE backfill_id = :id`,
      {
        id: backfillId,
        s: status,
        now: toSqlDateTime(deps.clock.now()),
      },
    );
  }
  return { backfillId, platform: b.platform, status, from: b.window_from, to: b.window_to, ...totals };
}
