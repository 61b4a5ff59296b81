import { createHash } from 'node:crypto';
import type { Db } from '../db/port.js';
import type { ClickRow, ConversionRow, EntityRow, Stream } from '../model/canonical.js';
import { STREAM_TABLE } from '../model/canonical.js';
import { refreshRollups, touchedGroups, upsertClicks, upsertConversions, upsertEntities } from '../db/upsert.js';
import { toSqlDateTime } from '../util/time.js';
import type { PipelineDeps } from './deps.js';
import { Ledger } from './ledger.js';
import { describeZodError, normalizeMessageSchema, type NormalizeMessage } from './messages.js';

/**
 * normalize-worker: for each message, validate every record (the connector's zod schema) and map
 * it to canonical rows, then in ONE transaction upsert the rows, quarantine the records that can
 * never load (with their reason), and record the message in the ledger. After the commit it
 * refreshes the hourly rollups the rows touched, completes the slice when its last message is in,
 * and advances the watermark.
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

export async function normalizeBatch(messages: readonly NormalizeInput[], deps: PipelineDeps): Promise<NormalizeOutcome> {
  const out: NormalizeOutcome = { failedIds: [], errors: {}, loaded: 0, quarantined: 0, poison: 0 };
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
      await quarantine(deps, 'unknown', 'unknown', null, [{ reason: `malformed normalize message: ${e.message}`, record: m.body.length > 60_000 ? `${m.body.slice(0, 60_000)}…` : m.body }]).catch((qe) => {
        out.failedIds.push(m.messageId);
        out.errors[m.messageId] = (qe as Error).message;
      });
      continue;
    }
    try {
      const r = await loadMessage(msg, deps);
      out.loaded += r.loaded;
      out.quarantined += r.quarantined;
    } catch (e) {
      out.failedIds.push(m.messageId);
      out.errors[m.messageId] = (e as Error).message;
      deps.logger.warn('normalize message failed, will be retried', { messageId: m.messageId, sliceId: msg.sliceId, seq: msg.seq, error: (e as Error).message });
    }
  }
  return out;
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

export async function loadMessage(msg: NormalizeMessage, deps: PipelineDeps): Promise<{ loaded: number; quarantined: number }> {
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
  const database = deps.names.platform(msg.platform);
  const table = STREAM_TABLE[msg.stream];
  const ledger = new Ledger(deps.db, deps.names);
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    if (table === 'conversions') await upsertConversions(tx, database, rows as ConversionRow[], msg.fetchedAt);
    else if (table === 'clicks') await upsertClicks(tx, database, rows as ClickRow[]);
    else await upsertEntities(tx, database, table, rows as EntityRow[], msg.fetchedAt);
    await quarantineIn(tx, deps, msg.platform, msg.stream, msg.sliceId, bad);
    await ledger.recordMessage(tx, { sliceId: msg.sliceId, attempt: msg.attempt, seq: msg.seq, records: msg.records.length, loaded: rows.length, quarantined: bad.length, status: 'done' }, now);
  });
  // After the commit: rollup recompute reads committed rows (see refreshRollups).
  if (table === 'conversions') await refreshRollups(deps.db, database, 'conversions', touchedGroups(rows as ConversionRow[], (r: ConversionRow) => r.converted_at));
  if (table === 'clicks') await refreshRollups(deps.db, database, 'clicks', touchedGroups(rows as ClickRow[], (r: ClickRow) => r.clicked_at));
  deps.metrics?.add('rowsLoaded', msg.platform, rows.length);
  deps.metrics?.add('rowsQuarantined', msg.platform, bad.length);
  if (await ledger.completeIfDone(msg.sliceId, deps.clock.now())) await ledger.advanceWatermark(msg.platform, msg.stream, deps.clock.now());
  return { loaded: rows.length, quarantined: bad.length };
}

async function quarantine(deps: PipelineDeps, platform: string, stream: string, sliceId: string | null, items: Quarantined[]): Promise<void> {
  await quarantineIn(deps.db, deps, platform, stream, sliceId, items);
}

/** Quarantine rows are keyed by a hash of the record, so a redelivered message does not add them twice. */
async function quarantineIn(db: Db, deps: PipelineDeps, platform: string, stream: Stream | string, sliceId: string | null, items: Quarantined[]): Promise<void> {
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
