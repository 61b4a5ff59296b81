import { createHash } from 'node:crypto';
import type { Db } from '../db/port.js';
import type { ClickRow, ConversionRow, EntityRow, Stream } from '../model/canonical.js';
import { STREAM_TABLE } from '../model/canonical.js';
import {
  mergeTouched,
  refreshRollups,
  touchedGroups,
  upsertClicks,
  upsertConversions,
  upsertEntities,
  type TouchedGroups,
} from '../db/upsert.js';
import { checkRow } from '../model/limits.js';
import { BadField, badFieldReason } from '../platforms/kit/record.js';
import type { NormalizeContext } from '../platforms/types.js';
import { toSqlDateTime } from '../util/time.js';
import type { PipelineDeps } from './deps.js';
import { retryOnDeadlock } from '../db/deadlock.js';
import { Ledger } from './ledger.js';
import { describeZodError, normalizeMessageSchema, type NormalizeMessage } from './messages.js';

/**
 * normalize-worker: for each message, validate every record (the connector's zod schema) and map
 * it to canonical rows, then in ONE transaction upsert the rows, quarantine the records that can
 * never load (with their reason), record the message in the ledger and roll the slice's counts up
 * (done when its last message is in). After the batch's commits it refreshes, once, the hourly
 * rollups of every group the batch's rows touched, then advances the watermarks of the
 * (platform, stream)s whose slices completed. A message counts as processed only after both.
 *
 * A message that is not valid JSON or fails its schema is poison: it is quarantined with the
 * reason and NOT reported as failed (retrying cannot help). Anything else that throws (database
 * down, deadlock) reports the message as failed, so the queue redelivers it and, after
 * maxReceiveCount, dead-letters it.
 */

export interface NormalizeInput {
  messageId: string;
  body: string;
  /** How many times the queue has delivered it, this time included (SQS ApproximateReceiveCount). */
  receiveCount?: number;
}

export interface NormalizeOptions {
  /**
   * The queue's maxReceiveCount: a message that fails on this delivery goes to the DLQ next, so it
   * is counted in its slice's ledger as dead-lettered now (the DLQ itself tells no one).
   */
  maxReceiveCount?: number;
}

export interface NormalizeOutcome {
  failedIds: string[];
  errors: Record<string, string>;
  loaded: number;
  quarantined: number;
  poison: number;
}

interface Quarantined {
  reason: string;
  record: unknown;
}

export async function normalizeBatch(
  messages: readonly NormalizeInput[],
  deps: PipelineDeps,
  options: NormalizeOptions = {},
): Promise<NormalizeOutcome> {
  const out = await normalizeMessages(messages, deps);
  if (options.maxReceiveCount !== undefined) await countDeadLetters(messages, out, deps, options.maxReceiveCount);
  return out;
}

/** Failures on their last delivery: recorded in the ledger as dead letters (best effort: the database may be why they failed). */
async function countDeadLetters(
  messages: readonly NormalizeInput[],
  out: NormalizeOutcome,
  deps: PipelineDeps,
  maxReceiveCount: number,
): Promise<void> {
  const failed = new Set(out.failedIds);
  const ledger = new Ledger(deps.db, deps.names);
  for (const m of messages) {
    if (!failed.has(m.messageId) || (m.receiveCount ?? 1) < maxReceiveCount) continue;
    let msg: NormalizeMessage;
    try {
      msg = parseMessage(m.body);
    } catch {
      continue;
    }
    try {
      await ledger.recordDeadLetter(
        { sliceId: msg.sliceId, attempt: msg.attempt, seq: msg.seq, records: msg.records.length },
        deps.clock.now(),
      );
      deps.logger.error('normalize message dead-lettered', {
        messageId: m.messageId,
        sliceId: msg.sliceId,
        seq: msg.seq,
        records: msg.records.length,
        error: out.errors[m.messageId],
      });
    } catch (e) {
      deps.logger.error('dead-lettered message not counted in the ledger', {
        messageId: m.messageId,
        sliceId: msg.sliceId,
        error: (e as Error).message,
      });
    }
  }
}

async function normalizeMessages(messages: readonly NormalizeInput[], deps: PipelineDeps): Promise<NormalizeOutcome> {
  const out: NormalizeOutcome = { failedIds: [], errors: {}, loaded: 0, quarantined: 0, poison: 0 };
  const loads: (LoadedMessage & { messageId: string })[] = [];
  const prepared: (PreparedMessage & { messageId: string })[] = [];
  const fail = (messageId: string, msg: NormalizeMessage, e: unknown) => {
    out.failedIds.push(messageId);
    out.errors[messageId] = (e as Error).message;
    deps.logger.warn('normalize message failed, will be retried', {
      messageId,
      sliceId: msg.sliceId,
      seq: msg.seq,
      error: (e as Error).message,
    });
  };
  for (const m of messages) {
    let msg: NormalizeMessage;
    try {
      msg = parseMessage(m.body);
      if (!deps.connectors[msg.platform]) throw new PoisonError(`platform "${msg.platform}" is not configured`);
    } catch (e) {
      if (!(e instanceof PoisonError)) throw e;
      out.poison++;
      deps.metrics?.add('poisonMessages', 'unknown', 1);
      deps.logger.error('poison message quarantined', { messageId: m.messageId, reason: e.message });
      await quarantine(deps, 'unknown', 'unknown', null, [
        {
          reason: `malformed normalize message: ${e.message}`,
          record: m.body.length > 60_000 ? `${m.body.slice(0, 60_000)}…` : m.body,
        },
      ]).catch((qe) => {
        out.failedIds.push(m.messageId);
        out.errors[m.messageId] = (qe as Error).message;
      });
      continue;
    }
    try {
      prepared.push({ ...prepare(msg, deps), messageId: m.messageId });
    } catch (e) {
      fail(m.messageId, msg, e);
    }
  }
  // Several messages per transaction, up to TX_ROWS rows (fewer statements and commits, locks held
  // for a bounded time); if one fails for any reason but a deadlock (retried), its messages are
  // written one by one, so one bad message fails alone.
  const writeAlone = async (p: (typeof prepared)[number], first: unknown) => {
    let e = first;
    if (isDataError(e)) {
      try {
        loads.push(...(await writeInTransaction([await isolateRefusedRows(p, deps)], deps)));
        return;
      } catch (e2) {
        e = e2;
      }
    }
    fail(p.messageId, p.msg, e);
  };
  for (const chunk of chunkByRows(prepared, TX_ROWS)) {
    try {
      loads.push(...(await writeInTransaction(chunk, deps)));
    } catch (e) {
      if (chunk.length === 1) await writeAlone(chunk[0], e);
      else
        for (const p of chunk) {
          try {
            loads.push(...(await writeInTransaction([p], deps)));
          } catch (e2) {
            await writeAlone(p, e2);
          }
        }
    }
  }
  // Once for the batch: the rollups of every group the loaded messages touched, then the
  // watermarks of the slices they completed. A message is reported done only after both, so a
  // crash or an error here redelivers it, and its (idempotent) reload refreshes again.
  const failed = await finishLoads(loads, deps);
  for (const l of loads) {
    const error = failed.get(l);
    if (error) {
      out.failedIds.push(l.messageId);
      out.errors[l.messageId] = error;
      deps.logger.warn('normalize message failed after its load, will be retried', {
        messageId: l.messageId,
        sliceId: l.msg.sliceId,
        seq: l.msg.seq,
        error,
      });
    } else {
      out.loaded += l.loaded;
      out.quarantined += l.quarantined;
    }
  }
  return out;
}

/** Rows per load transaction (a message with more still goes alone). */
const TX_ROWS = 2_000;

function chunkByRows<P extends { rows: unknown[] }>(items: readonly P[], maxRows: number): P[][] {
  const chunks: P[][] = [];
  let rows = 0;
  for (const p of items) {
    const last = chunks[chunks.length - 1];
    if (last && rows + p.rows.length <= maxRows) {
      last.push(p);
      rows += p.rows.length;
    } else {
      chunks.push([p]);
      rows = p.rows.length;
    }
  }
  return chunks;
}

class PoisonError extends Error {}

function parseMessage(body: string): NormalizeMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    throw new PoisonError(`body is not JSON (${(e as Error).message})`);
  }
  const r = normalizeMessageSchema.safeParse(json);
  if (!r.success) throw new PoisonError(describeZodError(r.error));
  return r.data;
}

interface PreparedMessage {
  msg: NormalizeMessage;
  rows: unknown[];
  /** For each row, the index of its record in `msg.records` (to quarantine it if the database refuses it). */
  rowRecords: number[];
  bad: Quarantined[];
}

interface LoadedMessage {
  msg: NormalizeMessage;
  loaded: number;
  quarantined: number;
  /** The rollup groups its rows touched (clicks and conversions). */
  touched: { database: string; source: 'clicks' | 'conversions'; groups: TouchedGroups } | null;
  /** Its slice is done (it was the last message, or a redelivery of a done slice's message). */
  sliceDone: boolean;
}

/** The canonical id column a limit reason names. */
const ROW_ID: Record<(typeof STREAM_TABLE)[Stream], string> = {
  conversions: 'conversion_id',
  clicks: 'click_id',
  affiliates: 'id',
  offers: 'id',
  advertisers: 'id',
};

/** Validates and maps a message's records (no database). */
function prepare(msg: NormalizeMessage, deps: PipelineDeps): PreparedMessage {
  const connector = deps.connectors[msg.platform];
  const hashIps = deps.config.privacy.hashIps;
  const ctx = normalizeContextOf(deps);
  const rows: unknown[] = [];
  const rowRecords: number[] = [];
  const bad: Quarantined[] = [];
  const where = (i: number) => `(record ${i} of message ${msg.seq}, ${msg.endpoint})`;
  msg.records.forEach((record, i) => {
    const r = connector.normalize(msg.stream, record, ctx);
    if (!r.ok) {
      bad.push({ reason: `${r.reason} ${where(i)}`, record: connector.redact(record, ctx) });
      return;
    }
    const row = r.row as unknown as Record<string, unknown> & { ip?: string | null };
    if (hashIps && row.ip) row.ip = ctx.hash(row.ip).slice(0, 64);
    // A value its column cannot hold would make MySQL refuse the whole multi-row upsert.
    const breach = checkRow(msg.stream, row);
    if (breach) {
      const reason = badFieldReason(
        { platform: msg.platform, stream: msg.stream, idKey: ROW_ID[STREAM_TABLE[msg.stream]] },
        row,
        new BadField(breach.field, breach.problem, breach.value),
      );
      bad.push({ reason: `${reason} ${where(i)}`, record: connector.redact(record, ctx) });
    } else {
      rows.push(row);
      rowRecords.push(i);
    }
  });
  return { msg, rows, rowRecords, bad };
}

function normalizeContextOf(deps: PipelineDeps): NormalizeContext {
  const hashIps = deps.config.privacy.hashIps;
  return hashIps ? { ...deps.normalizeContext, hashIps } : deps.normalizeContext;
}

// ---- rows the database refuses ------------------------------------------------------------------

/** MySQL / MariaDB errors about one value (not the connection, not a lock): the row can never load. */
const DATA_ERRNOS = new Set([1048, 1264, 1292, 1366, 1406, 3140, 3819, 4025]);
const DATA_ERROR =
  /Data too long|Out of range value|Incorrect \w+ value|Data truncat|cannot be null|CONSTRAINT `?\w+`? failed|Check constraint .* is violated|Invalid JSON text/i;

export function isDataError(e: unknown): boolean {
  const errno = (e as { errno?: number }).errno;
  return (errno !== undefined && DATA_ERRNOS.has(errno)) || DATA_ERROR.test((e as Error)?.message ?? '');
}

async function upsertRows(tx: Db, deps: PipelineDeps, msg: NormalizeMessage, rows: unknown[]): Promise<void> {
  const database = deps.names.platform(msg.platform);
  const table = STREAM_TABLE[msg.stream];
  if (table === 'conversions') await upsertConversions(tx, database, rows as ConversionRow[], msg.fetchedAt);
  else if (table === 'clicks') await upsertClicks(tx, database, rows as ClickRow[]);
  else await upsertEntities(tx, database, table, rows as EntityRow[], msg.fetchedAt);
}

const PROBE_DONE = new Error('probe: roll back');

/** The database's data error for these rows, or null when they load (tried in a transaction that is always rolled back). */
async function refusal(deps: PipelineDeps, msg: NormalizeMessage, rows: unknown[]): Promise<string | null> {
  try {
    await deps.db.transaction(async (tx) => {
      await upsertRows(tx, deps, msg, rows);
      throw PROBE_DONE;
    });
  } catch (e) {
    if (e === PROBE_DONE) return null;
    if (isDataError(e)) return (e as Error).message;
    throw e;
  }
  return null;
}

/**
 * A message the database refused for a data error that the limits did not foresee: its rows are
 * split in halves until the refused ones stand alone (log2(n) probes a bad row), and those move to
 * the quarantine with the database's message; the rest loads.
 */
async function isolateRefusedRows<P extends PreparedMessage>(p: P, deps: PipelineDeps): Promise<P> {
  const refused = new Set<number>();
  const errors = new Map<number, string>();
  const search = async (idx: number[]): Promise<void> => {
    if (idx.length === 0) return;
    const error = await refusal(
      deps,
      p.msg,
      idx.map((i) => p.rows[i]),
    );
    if (error === null) return;
    if (idx.length === 1) {
      refused.add(idx[0]);
      errors.set(idx[0], error);
      return;
    }
    const half = Math.ceil(idx.length / 2);
    await search(idx.slice(0, half));
    await search(idx.slice(half));
  };
  await search(p.rows.map((_, i) => i));
  if (refused.size === 0) return p;
  const ctx = normalizeContextOf(deps);
  const connector = deps.connectors[p.msg.platform];
  const idKey = ROW_ID[STREAM_TABLE[p.msg.stream]];
  const bad = [...p.bad];
  for (const i of refused) {
    const record = p.msg.records[p.rowRecords[i]];
    const id = (p.rows[i] as Record<string, unknown>)[idKey];
    bad.push({
      reason: `${p.msg.platform} ${p.msg.stream}: ${idKey} ${String(id)}: the database refused the row: ${errors.get(i)} (record ${p.rowRecords[i]} of message ${p.msg.seq}, ${p.msg.endpoint})`,
      record: connector.redact(record, ctx),
    });
  }
  deps.logger.warn('rows refused by the database quarantined', {
    sliceId: p.msg.sliceId,
    seq: p.msg.seq,
    refused: refused.size,
    error: errors.values().next().value,
  });
  return {
    ...p,
    rows: p.rows.filter((_, i) => !refused.has(i)),
    rowRecords: p.rowRecords.filter((_, i) => !refused.has(i)),
    bad,
  };
}

/**
 * In ONE transaction: upserts the messages' rows (those of one table and fetch time together, in
 * message order, as if loaded one message after the other), quarantines their bad records, and
 * records them in the ledger with their slices' counts rolled up, slice by slice in sorted order
 * (a consistent lock order across workers). A deadlock rolls everything back, so the transaction is
 * simply run again (a few times) rather than failing the messages and paying for redelivery.
 */
async function writeInTransaction<P extends PreparedMessage>(
  prepared: readonly P[],
  deps: PipelineDeps,
): Promise<(LoadedMessage & Omit<P, keyof PreparedMessage>)[]> {
  const now = deps.clock.now();
  const ledger = new Ledger(deps.db, deps.names);
  const groups = new Map<string, { database: string; table: string; fetchedAt: string; rows: unknown[] }>();
  for (const p of prepared) {
    const database = deps.names.platform(p.msg.platform);
    const table = STREAM_TABLE[p.msg.stream];
    const key = `${database}\u0000${table}\u0000${table === 'clicks' ? '' : p.msg.fetchedAt}`;
    const g = groups.get(key) ?? { database, table, fetchedAt: p.msg.fetchedAt, rows: [] };
    groups.set(key, g);
    for (const r of p.rows) g.rows.push(r);
  }
  const bySlice = new Map<string, P[]>();
  for (const p of prepared) bySlice.set(p.msg.sliceId, [...(bySlice.get(p.msg.sliceId) ?? []), p]);
  const done = await retryOnDeadlock(
    () =>
      deps.db.transaction(async (tx) => {
        for (const g of groups.values()) {
          if (g.table === 'conversions')
            await upsertConversions(tx, g.database, g.rows as ConversionRow[], g.fetchedAt);
          else if (g.table === 'clicks') await upsertClicks(tx, g.database, g.rows as ClickRow[]);
          else
            await upsertEntities(
              tx,
              g.database,
              g.table as 'affiliates' | 'offers' | 'advertisers',
              g.rows as EntityRow[],
              g.fetchedAt,
            );
        }
        for (const p of prepared) await quarantineIn(tx, deps, p.msg.platform, p.msg.stream, p.msg.sliceId, p.bad);
        // Last: the slice row locks are held only for the ledger's few statements and the commit.
        const sliceDone = new Map<string, boolean>();
        for (const sliceId of [...bySlice.keys()].sort()) {
          const ms = bySlice.get(sliceId)!;
          sliceDone.set(
            sliceId,
            await ledger.recordAndRollUp(
              tx,
              ms.map((p) => ({
                sliceId,
                attempt: p.msg.attempt,
                seq: p.msg.seq,
                records: p.msg.records.length,
                loaded: p.rows.length,
                quarantined: p.bad.length,
                status: 'done' as const,
              })),
              now,
            ),
          );
        }
        return sliceDone;
      }),
    { attempts: 3 },
  );
  return prepared.map((p) => {
    const { msg, rows, bad, rowRecords: _, ...rest } = p;
    deps.metrics?.add('rowsLoaded', msg.platform, rows.length);
    deps.metrics?.add('rowsQuarantined', msg.platform, bad.length);
    const database = deps.names.platform(msg.platform);
    const table = STREAM_TABLE[msg.stream];
    let touched: LoadedMessage['touched'] = null;
    if (table === 'conversions')
      touched = {
        database,
        source: 'conversions',
        groups: touchedGroups(rows as ConversionRow[], (r: ConversionRow) => r.converted_at),
      };
    if (table === 'clicks')
      touched = {
        database,
        source: 'clicks',
        groups: touchedGroups(rows as ClickRow[], (r: ClickRow) => r.clicked_at),
      };
    return {
      ...rest,
      msg,
      loaded: rows.length,
      quarantined: bad.length,
      touched,
      sliceDone: done.get(msg.sliceId) ?? false,
    };
  });
}

/**
 * After the loads commit: refreshes the rollups of the union of their touched groups (one pass per
 * platform database and source, reading committed rows, see refreshRollups), then advances the
 * watermark of each (platform, stream) one of them completed a slice of. Returns the loads that
 * failed here, with the error.
 */
async function finishLoads(loads: readonly LoadedMessage[], deps: PipelineDeps): Promise<Map<LoadedMessage, string>> {
  const failed = new Map<LoadedMessage, string>();
  const refreshes = new Map<
    string,
    { database: string; source: 'clicks' | 'conversions'; groups: TouchedGroups; loads: LoadedMessage[] }
  >();
  for (const l of loads) {
    if (!l.touched) continue;
    const key = `${l.touched.database}\u0000${l.touched.source}`;
    const r = refreshes.get(key);
    if (r) {
      mergeTouched(r.groups, l.touched.groups);
      r.loads.push(l);
    } else
      refreshes.set(key, {
        database: l.touched.database,
        source: l.touched.source,
        groups: mergeTouched({ keys: new Set(), hours: new Map() }, l.touched.groups),
        loads: [l],
      });
  }
  for (const r of refreshes.values()) {
    try {
      await refreshRollups(deps.db, r.database, r.source, r.groups);
    } catch (e) {
      for (const l of r.loads) failed.set(l, (e as Error).message);
    }
  }
  const watermarks = new Map<string, LoadedMessage[]>();
  for (const l of loads) {
    if (!l.sliceDone || failed.has(l)) continue;
    const key = `${l.msg.platform}\u0000${l.msg.stream}`;
    watermarks.set(key, [...(watermarks.get(key) ?? []), l]);
  }
  const ledger = new Ledger(deps.db, deps.names);
  for (const group of watermarks.values()) {
    try {
      await ledger.advanceWatermark(group[0].msg.platform, group[0].msg.stream, deps.clock.now());
    } catch (e) {
      for (const l of group) failed.set(l, (e as Error).message);
    }
  }
  return failed;
}

async function quarantine(
  deps: PipelineDeps,
  platform: string,
  stream: string,
  sliceId: string | null,
  items: Quarantined[],
): Promise<void> {
  await quarantineIn(deps.db, deps, platform, stream, sliceId, items);
}

/** Quarantine rows are keyed by a hash of the record, so a redelivered message does not add them twice. */
async function quarantineIn(
  db: Db,
  deps: PipelineDeps,
  platform: string,
  stream: Stream | string,
  sliceId: string | null,
  items: Quarantined[],
): Promise<void> {
  if (items.length === 0) return;
  const now = toSqlDateTime(deps.clock.now());
  for (let i = 0; i < items.length; i += 100) {
    const params: Record<string, string | null> = { p: platform, s: stream, slice: sliceId, now };
    const tuples = items.slice(i, i + 100).map((q, j) => {
      const json = JSON.stringify(q.record) ?? 'null';
      params[`h${j}`] = createHash('sha256').update(json).digest('hex');
      params[`r${j}`] = q.reason.slice(0, 2000);
      params[`j${j}`] = json;
      return `(:p, :s, :h${j}, :slice, :r${j}, :j${j}, :now)`;
    });
    await db.execute(
      `INSERT INTO ${deps.names.core}.quarantine (platform, stream, record_hash, slice_id, reason, record, created_at) VALUES ${tuples.join(', ')}
       ON DUPLICATE KEY UPDATE reason = VALUES(reason)`,
      params,
    );
  }
}
