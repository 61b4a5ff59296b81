import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import { toSqlDateTime } from '../util/time.js';
import { LocalQueue, type DeadLetterSink, type LocalMessage, type LocalQueueOptions } from '../queue/local.js';
import type { Stream } from '../model/canonical.js';
import type { PipelineDeps } from './deps.js';
import { fetchSlice } from './fetch-worker.js';
import { Ledger, type SliceTotals } from './ledger.js';
import {
  describeZodError,
  fetchJobSchema,
  fetchQueueName,
  NORMALIZE_QUEUE,
  normalizeMessageSchema,
} from './messages.js';
import { normalizeBatch } from './normalize-worker.js';
import { planBackfill, scheduleFetch } from './schedule.js';
import { fetchConcurrency } from '../platforms/registry.js';

/**
 * The local runner: the same stage code as the Lambdas (fetchSlice, normalizeBatch, scheduleFetch,
 * planBackfill) over the in-process queue, with SQS's semantics (at-least-once, partial batch
 * failures, maxReceiveCount, dead letters). Dead letters are kept in `<prefix>_core.local_dlq` so
 * `dualtrack replay-dlq` can move them back later, as a redrive does in AWS.
 */

export interface LocalRunnerOptions extends Omit<LocalQueueOptions, 'deadLetters'> {
  /** Fetch batches running at once per platform (default: the config's `concurrency`, else the platform's default). */
  fetchConcurrency?: number;
  /** Normalize batches running at once. */
  normalizeConcurrency?: number;
}

export interface ProgressInfo {
  totals: SliceTotals;
  queued: number;
}

class DbDeadLetters implements DeadLetterSink {
  constructor(
    private readonly db: Db,
    private readonly names: DbNames,
    private readonly now: () => Date,
  ) {}
  async put(queue: string, message: LocalMessage, error: string | undefined): Promise<void> {
    await this.db.execute(
      `INSERT INTO ${this.names.core}.local_dlq (queue, body, error, receives, created_at) VALUES (:q, :b, :e, :r, :now)`,
      {
        q: queue,
        b: message.body,
        e: error?.slice(0, 2000) ?? null,
        r: message.receiveCount,
        now: toSqlDateTime(this.now()),
      },
    );
    // A dead normalize message still counts in its slice's ledger (records_dlq), so nothing is lost from the books.
    const parsed = queue === NORMALIZE_QUEUE ? normalizeMessageSchema.safeParse(safeJson(message.body)) : null;
    if (parsed?.success) {
      const m = parsed.data;
      await new Ledger(this.db, this.names).recordDeadLetter(
        { sliceId: m.sliceId, attempt: m.attempt, seq: m.seq, records: m.records.length },
        this.now(),
      );
    }
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

export class LocalRunner {
  readonly queue: LocalQueue;
  readonly deps: PipelineDeps;
  readonly ledger: Ledger;

  constructor(base: Omit<PipelineDeps, 'queue'>, options: LocalRunnerOptions = {}) {
    const platforms = Object.keys(base.connectors);
    const concurrency: Record<string, number> = { [NORMALIZE_QUEUE]: options.normalizeConcurrency ?? 2 };
    for (const p of platforms)
      concurrency[fetchQueueName(p)] =
        options.fetchConcurrency ?? (base.config.platforms[p] ? fetchConcurrency(base.config.platforms[p]) : 2);
    this.queue = new LocalQueue({
      ...options,
      concurrency: { ...concurrency, ...options.concurrency },
      deadLetters: new DbDeadLetters(base.db, base.names, () => base.clock.now()),
    });
    this.deps = { ...base, queue: this.queue };
    this.ledger = new Ledger(base.db, base.names);
    for (const p of platforms) this.queue.consume(fetchQueueName(p), (batch) => this.consumeFetch(batch));
    this.queue.consume(NORMALIZE_QUEUE, async (batch) => {
      const r = await normalizeBatch(batch, this.deps);
      return { failedIds: r.failedIds, errors: r.errors };
    });
  }

  private async consumeFetch(batch: LocalMessage[]): Promise<{ failedIds: string[]; errors: Record<string, string> }> {
    const failedIds: string[] = [];
    const errors: Record<string, string> = {};
    for (const m of batch) {
      const parsed = fetchJobSchema.safeParse(safeJson(m.body));
      if (!parsed.success) {
        // Poison: retrying cannot help. Logged with the reason, not retried (nothing was fetched, so no data is lost).
        this.deps.logger.error('malformed fetch job dropped', {
          messageId: m.messageId,
          reason: describeZodError(parsed.error),
        });
        continue;
      }
      try {
        await fetchSlice(parsed.data, this.deps);
      } catch (e) {
        failedIds.push(m.messageId);
        errors[m.messageId] = (e as Error).message;
      }
    }
    return { failedIds, errors };
  }

  /**
   * `dualtrack ingest`: fetch + normalize [from, to) for the platforms, synchronously. Planned as a
   * backfill per platform (ids derived from the request), so re-running an interrupted ingest
   * resumes: finished slices are skipped, the rest fetched again, upserts keep it duplicate-free.
   */
  async ingest(
    req: { from: string; to: string; platforms?: string[]; streams?: Stream[]; fresh?: boolean },
    onProgress?: (p: ProgressInfo) => void,
  ): Promise<{ backfillIds: string[]; totals: SliceTotals }> {
    const platforms = req.platforms ?? Object.keys(this.deps.connectors);
    const backfillIds: string[] = [];
    for (const platform of platforms) {
      const c = this.deps.connectors[platform];
      const streams = req.streams?.filter((s) => c?.streams.includes(s));
      if (req.streams && streams?.length === 0) continue;
      const plan = await planBackfill({ platform, from: req.from, to: req.to, streams, fresh: req.fresh }, this.deps);
      backfillIds.push(plan.backfillId);
    }
    await this.drain(backfillIds, onProgress);
    return { backfillIds, totals: await this.totals(backfillIds) };
  }

  /** One scheduled run for the platforms (what EventBridge Scheduler triggers in AWS), then drains. */
  async scheduleRun(platforms?: string[], onProgress?: (p: ProgressInfo) => void): Promise<SliceTotals> {
    const ids: string[] = [];
    for (const p of platforms ?? Object.keys(this.deps.connectors))
      ids.push(...(await scheduleFetch(p, this.deps)).map((s) => s.sliceId));
    const totals = () => this.ledger.sliceTotals({ sliceIds: ids });
    await this.drainWithProgress(totals, onProgress);
    return totals();
  }

  async drain(backfillIds: string[], onProgress?: (p: ProgressInfo) => void): Promise<void> {
    await this.drainWithProgress(() => this.totals(backfillIds), onProgress);
  }

  /** Drains the queues, reporting ledger totals at most every 200 ms (each report is a query). */
  private async drainWithProgress(
    totals: () => Promise<SliceTotals>,
    onProgress?: (p: ProgressInfo) => void,
  ): Promise<void> {
    let last = 0;
    await this.queue.drain(
      onProgress
        ? () => {
            const t = Date.now();
            if (t - last < 200) return;
            last = t;
            void totals().then((x) => onProgress({ totals: x, queued: this.queue.size() }));
          }
        : undefined,
    );
  }

  async totals(backfillIds: string[]): Promise<SliceTotals> {
    const all: SliceTotals = {
      slices: 0,
      done: 0,
      failed: 0,
      fetched: 0,
      loaded: 0,
      quarantined: 0,
      dlq: 0,
      byPlatform: {},
    };
    for (const id of backfillIds) {
      const t = await this.ledger.sliceTotals({ backfillId: id });
      for (const k of ['slices', 'done', 'failed', 'fetched', 'loaded', 'quarantined', 'dlq'] as const) all[k] += t[k];
      Object.assign(all.byPlatform, t.byPlatform);
    }
    return all;
  }

  /** `dualtrack replay-dlq`: moves every dead letter back to its queue and processes it. Returns how many were replayed and how many died again. */
  async replayDlq(): Promise<{ replayed: number; deadAgain: number }> {
    const rows = await this.deps.db.query<{ id: number; queue: string; body: string }>(
      `SELECT id, queue, body FROM ${this.deps.names.core}.local_dlq ORDER BY id`,
    );
    if (rows.length === 0) return { replayed: 0, deadAgain: 0 };
    await this.deps.db.execute(`DELETE FROM ${this.deps.names.core}.local_dlq WHERE id IN (:ids)`, {
      ids: rows.map((r) => r.id),
    });
    const before = this.queue.dead.length;
    for (const r of rows) await this.queue.send(r.queue, [r.body]);
    await this.queue.drain();
    return { replayed: rows.length, deadAgain: this.queue.dead.length - before };
  }
}
