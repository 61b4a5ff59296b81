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
): Promise<NormalizeOutcome> {
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
  for (const chunk of chunkByRows(prepared, TX_ROWS)) {
    try {
      loads.push(...(await writeInTransaction(chunk, deps)));
    } catch (e) {
      if (chunk.length === 1) fail(chunk[0].messageId, chunk[0].msg, e);
      else
        for (const p of chunk) {
          try {
            loads.push(...(await writeInTransaction([p], deps)));
          } catch (e2) {
            fail(p.messageId, p.msg, e2);
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

/** One message, loaded, refreshed and completed on its own (normalizeBatch does the last two once per batch). */
export async function loadMessage(
  msg: NormalizeMessage,
  deps: PipelineDeps,
): Promise<{ loaded: number; quarantined: number }> {
  const [l] = await writeInTransaction([prepare(msg, deps)], deps);
  const failed = await finishLoads([l], deps);
  const error = failed.get(l);
  if (error) throw new Error(error);
  return { loaded: l.loaded, quarantined: l.quarantined };
}

interface PreparedMessage {
  msg: NormalizeMessage;
  rows: unknown[];
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

/** Validates and maps a message's records (no database). */
function prepare(msg: NormalizeMessage, deps: PipelineDeps): PreparedMessage {
  const connector = deps.connectors[msg.platform];
  const hashIps = deps.config.privacy.hashIps;
  const rows: unknown[] = [];
  const bad: Quarantined[] = [];
  msg.records.forEach((record, i) => {
    const r = connector.normalize(msg.stream, record, deps.normalizeContext);
    if (r.ok) {
      const row = r.row as { ip?: string | null };
      if (hashIps && row.ip) row.ip = deps.normalizeContext.hash(row.ip).slice(0, 64);
      rows.push(row);
    } else bad.push({ reason: `${r.reason} (record ${i} of message ${msg.seq}, ${msg.endpoint})`, record });
  });
  return { msg, rows, bad };
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
    const { msg, rows, bad, ...rest } = p;
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
