import { createHash, randomUUID } from 'node:crypto';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import type { Stream } from '../model/canonical.js';
import { toSqlDateTime, fromSqlDateTime } from '../util/time.js';

/**
 * The fetch ledger (`<prefix>_core.fetch_slices` + `slice_messages`): one row per planned slice and
 * one per normalize message of its latest fetch attempt. The ledger's counts add up once a slice is
 * done: records_fetched = rows_loaded + rows_quarantined + records_dlq.
 *
 * Slice states: planned → fetching → fetched (all messages sent, messages_total known) → done (all
 * messages loaded). failed: the fetch itself failed (error, error_kind). superseded: a failed
 * scheduled slice whose window a later run re-planned.
 */

export interface PlannedSlice {
  sliceId: string;
  platform: string;
  stream: Stream;
  from: string;
  to: string;
  backfillId: string | null;
}

export type ErrorKind = 'api' | 'auth' | 'config' | 'internal' | 'stuck' | 'gap';

/** A slice still planned, fetching or fetched this long after it last moved is stuck (docs/design.md §3). */
export const STUCK_AFTER_HOURS = 6;

/** A stable id for a slice of a backfill/ingest run, so re-running the same request resumes it. */
export function deterministicSliceId(
  runKey: string,
  platform: string,
  stream: string,
  from: string,
  to: string,
): string {
  const h = createHash('sha256').update([runKey, platform, stream, from, to].join('|')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function newSliceId(): string {
  return randomUUID();
}

export class Ledger {
  private readonly t: string;
  private readonly m: string;
  constructor(
    private readonly db: Db,
    private readonly names: DbNames,
  ) {
    this.t = `${names.core}.fetch_slices`;
    this.m = `${names.core}.slice_messages`;
  }

  /**
   * Records slices as planned; a slice id already in the ledger is left as it is (resume). Returns
   * the slices that still need fetching: these, and any unfinished slice their runs handed on.
   */
  async plan(slices: readonly PlannedSlice[], now: Date): Promise<PlannedSlice[]> {
    if (slices.length === 0) return [];
    await this.insertPlanned(slices, now);
    const rows = await this.db.query<{ slice_id: string; status: string; window_to: string }>(
      `SELECT slice_id, status, window_to FROM ${this.t} WHERE slice_id IN (:ids)`,
      { ids: slices.map((s) => s.sliceId) },
    );
    const byId = new Map(rows.map((r) => [r.slice_id, r]));
    const todo = slices.filter((s) => byId.get(s.sliceId)?.status !== 'done');
    // A slice that handed part of its window on (handOff) keeps the shorter window it has in the
    // ledger, and the parts it handed on are fetched too when they are not done.
    const out = todo.map((s) => {
      const to = byId.get(s.sliceId)?.window_to;
      return to ? { ...s, to: fromSqlDateTime(to) } : s;
    });
    const runs = [...new Set(slices.map((s) => s.backfillId).filter((b): b is string => b !== null))];
    if (runs.length === 0) return out;
    const rest = await this.db.query<{
      slice_id: string;
      platform: string;
      stream: Stream;
      window_from: string;
      window_to: string;
      backfill_id: string;
    }>(
      `SELECT slice_id, platform, stream, window_from, window_to, backfill_id FROM ${this.t}
        WHERE backfill_id IN (:runs) AND status <> 'done' AND slice_id NOT IN (:ids)`,
      { runs, ids: slices.map((s) => s.sliceId) },
    );
    for (const r of rest)
      out.push({
        sliceId: r.slice_id,
        platform: r.platform,
        stream: r.stream,
        from: fromSqlDateTime(r.window_from),
        to: fromSqlDateTime(r.window_to),
        backfillId: r.backfill_id,
      });
    return out;
  }

  /** Inserts slices as planned, 200 a statement; an id already in the ledger is left as it is. */
  private async insertPlanned(slices: readonly PlannedSlice[], now: Date): Promise<void> {
    for (let i = 0; i < slices.length; i += 200) {
      const chunk = slices.slice(i, i + 200);
      const params: Record<string, string | null> = { now: toSqlDateTime(now) };
      const tuples = chunk.map((s, j) => {
        Object.assign(params, {
          [`i${j}`]: s.sliceId,
          [`p${j}`]: s.platform,
          [`s${j}`]: s.stream,
          [`f${j}`]: toSqlDateTime(s.from),
          [`t${j}`]: toSqlDateTime(s.to),
          [`b${j}`]: s.backfillId,
        });
        return `(:i${j}, :p${j}, :s${j}, :f${j}, :t${j}, :b${j}, 'planned', :now)`;
      });
      await this.db.execute(
        `INSERT INTO ${this.t} (slice_id, platform, stream, window_from, window_to, backfill_id, status, planned_at) VALUES ${tuples.join(', ')}
         ON DUPLICATE KEY UPDATE slice_id = slice_id`,
        params,
      );
    }
  }

  /** Marks a slice as being fetched and returns its new attempt number. */
  async startFetch(sliceId: string, now: Date): Promise<number> {
    await this.db.execute(
      `UPDATE ${this.t} SET status = 'fetching', attempts = attempts + 1, started_at = :now, error = NULL, error_kind = NULL,
              pages = 0, records_fetched = 0, messages_total = NULL, messages_done = 0, rows_loaded = 0, rows_quarantined = 0, records_dlq = 0
        WHERE slice_id = :id`,
      { id: sliceId, now: toSqlDateTime(now) },
    );
    const [row] = await this.db.query<{ attempts: number }>(`SELECT attempts FROM ${this.t} WHERE slice_id = :id`, {
      id: sliceId,
    });
    if (!row) throw new Error(`slice ${sliceId} is not in the ledger`);
    return row.attempts;
  }

  async finishFetch(
    sliceId: string,
    attempt: number,
    counts: { pages: number; records: number; messages: number },
    now: Date,
  ): Promise<void> {
    await this.db.execute(
      `UPDATE ${this.t} SET status = 'fetched', pages = :pages, records_fetched = :records, messages_total = :messages, fetched_at = :now
        WHERE slice_id = :id AND attempts = :attempt`,
      {
        id: sliceId,
        attempt,
        pages: counts.pages,
        records: counts.records,
        messages: counts.messages,
        now: toSqlDateTime(now),
      },
    );
    await this.completeIfDone(sliceId, now);
  }

  /**
   * The fetch stopped early (rows or time for one invocation) with [from, until) complete: the slice
   * now ends at `until`, and a new slice of the same run (an id derived from this one and its
   * attempt) takes [until, to). Returns the new slice, or null when
   * this attempt is no longer the latest.
   */
  async handOff(sliceId: string, attempt: number, until: string, now: Date): Promise<PlannedSlice | null> {
    const [row] = await this.db.query<{
      platform: string;
      stream: Stream;
      window_to: string;
      backfill_id: string | null;
    }>(
      `SELECT platform, stream, window_to, backfill_id FROM ${this.t} WHERE slice_id = :id AND attempts = :attempt AND status = 'fetching'`,
      { id: sliceId, attempt },
    );
    if (!row) return null;
    const to = fromSqlDateTime(row.window_to);
    await this.db.execute(`UPDATE ${this.t} SET window_to = :until WHERE slice_id = :id AND attempts = :attempt`, {
      id: sliceId,
      attempt,
      until: toSqlDateTime(until),
    });
    const rest: PlannedSlice = {
      sliceId: deterministicSliceId(`${sliceId}#${attempt}`, row.platform, row.stream, until, to),
      platform: row.platform,
      stream: row.stream,
      from: until,
      to,
      backfillId: row.backfill_id,
    };
    await this.insertPlanned([rest], now);
    return rest;
  }

  async failFetch(sliceId: string, error: string, kind: ErrorKind, now: Date): Promise<void> {
    await this.db.execute(
      `UPDATE ${this.t} SET status = 'failed', error = :error, error_kind = :kind, finished_at = :now WHERE slice_id = :id`,
      {
        id: sliceId,
        error: error.slice(0, 2000),
        kind,
        now: toSqlDateTime(now),
      },
    );
  }

  /** Records one normalize message's outcome (idempotent: a redelivered message overwrites its own row). */
  /**
   * A normalize message that will not be processed (dead-lettered): its records still count in its
   * slice's ledger (`records_dlq`), so the slice completes, its books balance, and the watermark
   * moves on. A later redrive that loads it records it `done` over this.
   */
  async recordDeadLetter(
    m: { sliceId: string; attempt: number; seq: number; records: number },
    now: Date,
  ): Promise<void> {
    await this.recordMessage(this.db, { ...m, loaded: 0, quarantined: 0, status: 'dlq' }, now);
    await this.completeIfDone(m.sliceId, now);
  }

  async recordMessage(tx: Db, m: MessageOutcome, now: Date): Promise<void> {
    await tx.execute(
      `INSERT INTO ${this.m} (slice_id, attempt, seq, records, rows_loaded, rows_quarantined, status, processed_at)
       VALUES (:id, :attempt, :seq, :records, :loaded, :quarantined, :status, :now)
       ON DUPLICATE KEY UPDATE records = IF(status = 'done', records, VALUES(records)),
                               rows_loaded = IF(status = 'done', rows_loaded, VALUES(rows_loaded)),
                               rows_quarantined = IF(status = 'done', rows_quarantined, VALUES(rows_quarantined)),
                               processed_at = IF(status = 'done', processed_at, VALUES(processed_at)),
                               status = IF(status = 'done', status, VALUES(status))`,
      {
        id: m.sliceId,
        attempt: m.attempt,
        seq: m.seq,
        records: m.records,
        loaded: m.loaded,
        quarantined: m.quarantined,
        status: m.status,
        now: toSqlDateTime(now),
      },
    );
  }

  /**
   * Inside the normalize load transaction: records the messages (all of one slice), then rolls the
   * slice's counts up (completeIfDone's work) in the same commit. The slice row is locked first
   * (`SELECT … FOR UPDATE`), so concurrent loads of one slice take turns here, and the sums are a
   * locking read (the latest committed rows, not the transaction's snapshot): the last load to
   * commit always sees every other one. Returns true when the slice is done.
   */
  async recordAndRollUp(tx: Db, messages: readonly MessageOutcome[], now: Date): Promise<boolean> {
    if (messages.length === 0) return false;
    const sliceId = messages[0].sliceId;
    if (messages.some((m) => m.sliceId !== sliceId))
      throw new Error('recordAndRollUp: messages of more than one slice');
    const [slice] = await tx.query<{ attempts: number; status: string; messages_total: number | null }>(
      `SELECT attempts, status, messages_total FROM ${this.t} WHERE slice_id = :id FOR UPDATE`,
      { id: sliceId },
    );
    await this.recordMessages(tx, messages, now);
    if (!slice) return false;
    return this.rollUp(tx, sliceId, slice, now);
  }

  /** recordMessage for several messages in one statement (same upsert, same idempotence). */
  private async recordMessages(tx: Db, messages: readonly MessageOutcome[], now: Date): Promise<void> {
    const params: Record<string, string | number> = { now: toSqlDateTime(now) };
    const tuples = messages.map((m, j) => {
      Object.assign(params, {
        [`i${j}`]: m.sliceId,
        [`a${j}`]: m.attempt,
        [`q${j}`]: m.seq,
        [`r${j}`]: m.records,
        [`l${j}`]: m.loaded,
        [`x${j}`]: m.quarantined,
        [`s${j}`]: m.status,
      });
      return `(:i${j}, :a${j}, :q${j}, :r${j}, :l${j}, :x${j}, :s${j}, :now)`;
    });
    await tx.execute(
      `INSERT INTO ${this.m} (slice_id, attempt, seq, records, rows_loaded, rows_quarantined, status, processed_at)
       VALUES ${tuples.join(', ')}
       ON DUPLICATE KEY UPDATE records = IF(status = 'done', records, VALUES(records)),
                               rows_loaded = IF(status = 'done', rows_loaded, VALUES(rows_loaded)),
                               rows_quarantined = IF(status = 'done', rows_quarantined, VALUES(rows_quarantined)),
                               processed_at = IF(status = 'done', processed_at, VALUES(processed_at)),
                               status = IF(status = 'done', status, VALUES(status))`,
      params,
    );
  }

  /**
   * Rolls the latest attempt's message counts up into the slice; marks it done when every message
   * is loaded. Returns true when done. One transaction with the slice row locked, as
   * recordAndRollUp, so it cannot write stale sums over a normalize message that commits meanwhile.
   */
  async completeIfDone(sliceId: string, now: Date): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [slice] = await tx.query<{ attempts: number; status: string; messages_total: number | null }>(
        `SELECT attempts, status, messages_total FROM ${this.t} WHERE slice_id = :id FOR UPDATE`,
        { id: sliceId },
      );
      if (!slice) return false;
      return this.rollUp(tx, sliceId, slice, now);
    });
  }

  /** Call with the slice row locked (FOR UPDATE) in `db`'s transaction; the sums are a locking read too (latest committed rows, not a snapshot). */
  private async rollUp(
    db: Db,
    sliceId: string,
    slice: { attempts: number; status: string; messages_total: number | null },
    now: Date,
  ): Promise<boolean> {
    const [m] = await db.query<{
      done: string | null;
      loaded: string | null;
      quarantined: string | null;
      dlq: string | null;
    }>(
      `SELECT SUM(CASE WHEN status = 'done' THEN 1 ELSE 0 END) AS done,
              SUM(CASE WHEN status = 'done' THEN rows_loaded ELSE 0 END) AS loaded,
              SUM(CASE WHEN status = 'done' THEN rows_quarantined ELSE 0 END) AS quarantined,
              SUM(CASE WHEN status = 'dlq' THEN records ELSE 0 END) AS dlq
         FROM ${this.m} WHERE slice_id = :id AND attempt = :attempt FOR UPDATE`,
      { id: sliceId, attempt: slice.attempts },
    );
    const done = Number(m.done ?? 0);
    const isDone =
      (slice.status === 'fetched' || slice.status === 'done') &&
      slice.messages_total !== null &&
      done >= slice.messages_total;
    await db.execute(
      `UPDATE ${this.t} SET messages_done = :done, rows_loaded = :loaded, rows_quarantined = :quarantined, records_dlq = :dlq,
              -- finished_at before status: MySQL and MariaDB apply SET assignments left to right.
              finished_at = IF(:isDone = 1 AND status <> 'done', :now, finished_at), status = IF(:isDone = 1, 'done', status)
        WHERE slice_id = :id AND attempts = :attempt`,
      {
        id: sliceId,
        attempt: slice.attempts,
        done,
        loaded: Number(m.loaded ?? 0),
        quarantined: Number(m.quarantined ?? 0),
        dlq: Number(m.dlq ?? 0),
        isDone: isDone ? 1 : 0,
        now: toSqlDateTime(now),
      },
    );
    return isDone;
  }

  /**
   * Moves the (platform, stream) watermark to the end of the last scheduled slice such that every
   * scheduled slice starting before it is done. Backfills never move it.
   */
  async advanceWatermark(platform: string, stream: string, now: Date): Promise<string | null> {
    const [p] = await this.db.query<{ pending: string | null }>(
      `SELECT MIN(window_from) AS pending FROM ${this.t}
        WHERE platform = :p AND stream = :s AND backfill_id IS NULL AND status NOT IN ('done', 'superseded')
          AND NOT (status = 'failed' AND error_kind = 'gap')`,
      { p: platform, s: stream },
    );
    const [w] = await this.db.query<{ wm: string | null }>(
      `SELECT MAX(window_to) AS wm FROM ${this.t}
        WHERE platform = :p AND stream = :s AND backfill_id IS NULL AND status = 'done' AND (:pending IS NULL OR window_to <= :pending)`,
      { p: platform, s: stream, pending: p.pending },
    );
    if (!w.wm) return null;
    await this.db.execute(
      `INSERT INTO ${this.names.core}.watermarks (platform, stream, watermark, updated_at) VALUES (:p, :s, :wm, :now)
       ON DUPLICATE KEY UPDATE updated_at = IF(VALUES(watermark) > watermark, VALUES(updated_at), updated_at), watermark = GREATEST(watermark, VALUES(watermark))`,
      { p: platform, s: stream, wm: w.wm, now: toSqlDateTime(now) },
    );
    return fromSqlDateTime(w.wm);
  }

  /**
   * How dense a stream has been lately: rows per hour of the busiest of its last 50 finished slices
   * of at least an hour (the busiest, not the mean: it sizes slices that must not overflow). Null
   * before anything was fetched.
   */
  async rowsPerHour(platform: string, stream: string): Promise<number | null> {
    const [row] = await this.db.query<{ r: string | number | null }>(
      `SELECT MAX(records_fetched * 3600 / TIMESTAMPDIFF(SECOND, window_from, window_to)) AS r FROM (
         SELECT records_fetched, window_from, window_to FROM ${this.t}
          WHERE platform = :p AND stream = :s AND status = 'done' AND TIMESTAMPDIFF(SECOND, window_from, window_to) >= 3600
          ORDER BY window_from DESC LIMIT 50) recent`,
      { p: platform, s: stream },
    );
    return row?.r === null || row?.r === undefined ? null : Number(row.r);
  }

  async watermark(platform: string, stream: string): Promise<Date | null> {
    const [row] = await this.db.query<{ watermark: string }>(
      `SELECT watermark FROM ${this.names.core}.watermarks WHERE platform = :p AND stream = :s`,
      { p: platform, s: stream },
    );
    return row ? new Date(fromSqlDateTime(row.watermark)) : null;
  }

  /**
   * Where loaded data ends for a (platform, stream) with no watermark yet: the end of the latest
   * finished slice of any kind (a backfill run at install). The schedule picks up from there
   * instead of leaving a gap between the backfill and its first run.
   */
  async loadedUntil(platform: string, stream: string): Promise<Date | null> {
    const [row] = await this.db.query<{ t: string | null }>(
      `SELECT MAX(window_to) AS t FROM ${this.t} WHERE platform = :p AND stream = :s AND status = 'done'`,
      { p: platform, s: stream },
    );
    return row?.t ? new Date(fromSqlDateTime(row.t)) : null;
  }

  /**
   * Marks a platform's stuck slices failed, each with the reason: planned but never fetched (its
   * fetch job was lost or dead-lettered), fetching with no end (the function was killed), fetched
   * with messages never loaded (lost normalize messages). The watermark can then move on (a
   * scheduled run re-plans their windows) and the operator sees them. Returns how many.
   */
  async failStuck(platform: string, now: Date, hours = STUCK_AFTER_HOURS): Promise<number> {
    const before = toSqlDateTime(new Date(now.getTime() - hours * 3_600_000));
    const r = await this.db.execute(
      `UPDATE ${this.t}
          SET error = CASE status
                WHEN 'planned' THEN CONCAT('stuck: planned at ', DATE_FORMAT(planned_at, '%Y-%m-%d %H:%i'), ' UTC and never fetched (its fetch job was lost or is in the fetch DLQ)')
                WHEN 'fetching' THEN CONCAT('stuck: fetch started at ', DATE_FORMAT(started_at, '%Y-%m-%d %H:%i'), ' UTC never ended (the function was killed: timeout or crash)')
                ELSE CONCAT('stuck: fetched at ', DATE_FORMAT(fetched_at, '%Y-%m-%d %H:%i'), ' UTC, ', messages_done, ' of ', messages_total, ' normalize messages loaded since (the others were lost; a DLQ redrive would have counted them)')
              END,
              error_kind = 'stuck', finished_at = :now, status = 'failed'
        WHERE platform = :p AND (
              (status = 'planned' AND planned_at < :before)
           OR (status = 'fetching' AND started_at < :before)
           OR (status = 'fetched' AND fetched_at < :before))`,
      { p: platform, before, now: toSqlDateTime(now) },
    );
    return r.affectedRows;
  }

  /**
   * Records that the schedule skipped [from, to) (more than maxBehindDays behind): one failed slice
   * per gap start (error_kind `gap`, what to run in `error`), growing while the schedule stays
   * behind. It does not hold the watermark back; stale-source reports it until a backfill loads it.
   */
  async recordGap(
    platform: string,
    stream: string,
    from: Date,
    to: Date,
    maxBehindDays: number,
    now: Date,
  ): Promise<void> {
    const f = from.toISOString();
    const t = to.toISOString();
    const error = `not fetched by the schedule: more than maxBehindDays (${maxBehindDays}) behind; load it with: dualtrack backfill --platform ${platform} --from ${f} --to ${t} (or invoke the backfill function with {"platform":"${platform}","from":"${f}","to":"${t}"})`;
    await this.db.execute(
      `INSERT INTO ${this.t} (slice_id, platform, stream, window_from, window_to, backfill_id, status, error, error_kind, planned_at, finished_at)
       VALUES (:id, :p, :s, :f, :t, NULL, 'failed', :e, 'gap', :now, :now)
       ON DUPLICATE KEY UPDATE window_to = GREATEST(window_to, VALUES(window_to)), error = IF(VALUES(window_to) > window_to, VALUES(error), error)`,
      {
        id: deterministicSliceId('gap', platform, stream, f, ''),
        p: platform,
        s: stream,
        f: toSqlDateTime(from),
        t: toSqlDateTime(to),
        e: error,
        now: toSqlDateTime(now),
      },
    );
  }

  /** Gaps (recordGap) that finished backfill slices now cover completely are closed (`superseded`). Returns how many. */
  async closeCoveredGaps(platform: string): Promise<number> {
    const gaps = await this.db.query<{ slice_id: string; stream: string; window_from: string; window_to: string }>(
      `SELECT slice_id, stream, window_from, window_to FROM ${this.t} WHERE platform = :p AND status = 'failed' AND error_kind = 'gap'`,
      { p: platform },
    );
    let closed = 0;
    for (const g of gaps) {
      const parts = await this.db.query<{ window_from: string; window_to: string }>(
        `SELECT window_from, window_to FROM ${this.t}
          WHERE platform = :p AND stream = :s AND backfill_id IS NOT NULL AND status = 'done'
            AND window_to > :f AND window_from < :t ORDER BY window_from`,
        { p: platform, s: g.stream, f: g.window_from, t: g.window_to },
      );
      const end = Date.parse(fromSqlDateTime(g.window_to));
      let covered = Date.parse(fromSqlDateTime(g.window_from));
      for (const x of parts) {
        if (Date.parse(fromSqlDateTime(x.window_from)) > covered) break;
        covered = Math.max(covered, Date.parse(fromSqlDateTime(x.window_to)));
      }
      if (covered < end) continue;
      await this.db.execute(`UPDATE ${this.t} SET status = 'superseded' WHERE slice_id = :id`, { id: g.slice_id });
      closed++;
    }
    return closed;
  }

  /** A later scheduled run re-planned these windows: failed slices inside [from, to) stop holding the watermark back. */
  async supersedeFailed(platform: string, stream: string, from: string, to: string): Promise<number> {
    const r = await this.db.execute(
      `UPDATE ${this.t} SET status = 'superseded'
        WHERE platform = :p AND stream = :s AND backfill_id IS NULL AND status = 'failed' AND window_from >= :f AND window_to <= :t`,
      { p: platform, s: stream, f: toSqlDateTime(from), t: toSqlDateTime(to) },
    );
    return r.affectedRows;
  }

  async sliceTotals(where: { backfillId?: string; sliceIds?: string[] }): Promise<SliceTotals> {
    const cond = where.backfillId ? 'backfill_id = :b' : 'slice_id IN (:ids)';
    const rows = await this.db.query<{
      platform: string;
      status: string;
      n: number;
      fetched: string;
      loaded: string;
      quarantined: string;
      dlq: string;
    }>(
      `SELECT platform, status, COUNT(*) AS n, SUM(records_fetched) AS fetched, SUM(rows_loaded) AS loaded, SUM(rows_quarantined) AS quarantined, SUM(records_dlq) AS dlq
         FROM ${this.t} WHERE ${cond} GROUP BY platform, status`,
      { b: where.backfillId ?? null, ids: where.sliceIds ?? [] },
    );
    const totals: SliceTotals = {
      slices: 0,
      done: 0,
      failed: 0,
      fetched: 0,
      loaded: 0,
      quarantined: 0,
      dlq: 0,
      byPlatform: {},
    };
    for (const r of rows) {
      const p = (totals.byPlatform[r.platform] ??= {
        slices: 0,
        done: 0,
        failed: 0,
        fetched: 0,
        loaded: 0,
        quarantined: 0,
        dlq: 0,
      });
      for (const t of [totals, p]) {
        t.slices += Number(r.n);
        if (r.status === 'done') t.done += Number(r.n);
        if (r.status === 'failed') t.failed += Number(r.n);
        t.fetched += Number(r.fetched);
        t.loaded += Number(r.loaded);
        t.quarantined += Number(r.quarantined);
        t.dlq += Number(r.dlq);
      }
    }
    return totals;
  }
}

/** One normalize message's outcome, as slice_messages records it. */
export interface MessageOutcome {
  sliceId: string;
  attempt: number;
  seq: number;
  records: number;
  loaded: number;
  quarantined: number;
  status: 'done' | 'dlq';
}

export interface Counts {
  slices: number;
  done: number;
  failed: number;
  fetched: number;
  loaded: number;
  quarantined: number;
  dlq: number;
}
export interface SliceTotals extends Counts {
  byPlatform: Record<string, Counts>;
}
