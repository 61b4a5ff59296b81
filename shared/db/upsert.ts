import { createHash } from 'node:crypto';
import type { Db, Params, SqlScalar } from './port.js';
import type { ClickRow, ConversionRow, EntityRow } from '../model/canonical.js';
import { toSqlDateTime } from '../util/time.js';

/**
 * Idempotent loads into a platform database (DESIGN.md §5). Every write is a multi-row
 * `INSERT … ON DUPLICATE KEY UPDATE col = VALUES(col)` on the natural key, so delivering a message
 * twice, or replaying a window, leaves the tables byte-for-byte the same.
 *
 * Conversions and entities carry `row_hash` (MD5 of their content) and `updated_at` (the fetch time
 * of the version stored). A row changes only when a version with different content arrives that
 * was fetched at the same time or later: a re-read with the same content (the 72 h lookback, a
 * replay) changes nothing at all, and an older fetch that SQS delivers after a newer one cannot
 * roll a status back. `first_seen_at` keeps the earliest fetch. MySQL evaluates ON DUPLICATE KEY
 * assignments left to right, each seeing the columns already assigned, so the condition's inputs
 * (`updated_at`, then `row_hash`) are assigned last. (Known limit: content that flips back, A→B→A,
 * with the B fetch delivered last, ends as B until the next re-read.)
 *
 * Statements are cut so their SQL stays under the Data API's 65,536 characters (placeholders are
 * short, `:p123`), which also keeps mysql2 far under its placeholder limit.
 */

const MAX_SQL_CHARS = 60_000;

export const CONVERSION_COLUMNS = [
  'conversion_id', 'click_id', 'transaction_id', 'order_id', 'converted_at', 'clicked_at', 'affiliate_id', 'offer_id', 'advertiser_id',
  'sub1', 'sub2', 'sub3', 'sub4', 'sub5', 'event_name', 'is_event', 'status', 'revenue', 'payout', 'sale_amount', 'currency',
  'ip', 'user_agent_hash', 'country_code', 'raw',
] as const;
export const CLICK_COLUMNS = [
  'click_id', 'clicked_at', 'affiliate_id', 'offer_id', 'advertiser_id', 'sub1', 'sub2', 'sub3', 'sub4', 'sub5', 'ip', 'user_agent_hash', 'country_code', 'is_unique',
] as const;
export const ENTITY_COLUMNS = ['id', 'name', 'status', 'email', 'raw'] as const;

interface TableSpec {
  columns: readonly string[];
  /** Extra trailing columns bound per row (fetch times). */
  versioned: boolean;
}

function conversionValues(r: ConversionRow): SqlScalar[] {
  return [
    r.conversion_id, r.click_id, r.transaction_id, r.order_id, toSqlDateTime(r.converted_at), r.clicked_at ? toSqlDateTime(r.clicked_at) : null,
    r.affiliate_id, r.offer_id, r.advertiser_id, r.sub1, r.sub2, r.sub3, r.sub4, r.sub5, r.event_name, r.is_event ? 1 : 0, r.status,
    r.revenue, r.payout, r.sale_amount, r.currency, r.ip, r.user_agent_hash, r.country_code, r.raw === undefined ? null : JSON.stringify(r.raw),
  ];
}

function clickValues(r: ClickRow): SqlScalar[] {
  return [
    r.click_id, toSqlDateTime(r.clicked_at), r.affiliate_id, r.offer_id, r.advertiser_id, r.sub1, r.sub2, r.sub3, r.sub4, r.sub5,
    r.ip, r.user_agent_hash, r.country_code, r.is_unique ? 1 : 0,
  ];
}

function entityValues(r: EntityRow): SqlScalar[] {
  return [r.id, r.name, r.status, r.email, r.raw === undefined ? null : JSON.stringify(r.raw)];
}

function contentHash(values: SqlScalar[]): string {
  return createHash('md5').update(JSON.stringify(values)).digest('hex');
}

function updateClause(spec: TableSpec): string {
  const key = spec.columns[0];
  const cols = spec.columns.filter((c) => c !== key);
  if (!spec.versioned) return cols.map((c) => `${c} = VALUES(${c})`).join(', ');
  const newer = 'NOT (VALUES(row_hash) <=> row_hash) AND VALUES(updated_at) >= updated_at';
  return [
    ...cols.map((c) => `${c} = IF(${newer}, VALUES(${c}), ${c})`),
    ...(spec.columns === CONVERSION_COLUMNS ? ['first_seen_at = LEAST(first_seen_at, VALUES(first_seen_at))'] : []),
    `updated_at = IF(${newer}, VALUES(updated_at), updated_at)`,
    // updated_at now holds the new value when the row changed, so this condition still holds then.
    `row_hash = IF(${newer}, VALUES(row_hash), row_hash)`,
  ].join(', ');
}

async function upsertRows(db: Db, table: string, spec: TableSpec, rows: SqlScalar[][], trailing: SqlScalar[]): Promise<number> {
  if (rows.length === 0) return 0;
  const allCols = [...spec.columns, ...(spec.versioned ? (spec.columns === CONVERSION_COLUMNS ? ['first_seen_at', 'updated_at', 'row_hash'] : ['updated_at', 'row_hash']) : [])];
  const head = `INSERT INTO ${table} (${allCols.join(', ')}) VALUES `;
  const tail = ` ON DUPLICATE KEY UPDATE ${updateClause(spec)}`;
  let affected = 0;
  let tuples: string[] = [];
  let params: Params = {};
  let n = 0;
  let length = head.length + tail.length;
  const flush = async () => {
    if (tuples.length === 0) return;
    affected += (await db.execute(head + tuples.join(',') + tail, params)).affectedRows;
    tuples = [];
    params = {};
    n = 0;
    length = head.length + tail.length;
  };
  for (const row of rows) {
    const values = spec.versioned ? [...row, ...trailing, contentHash(row)] : [...row, ...trailing];
    const names = values.map((v) => {
      const name = `p${n++}`;
      params[name] = v;
      return `:${name}`;
    });
    const tuple = `(${names.join(',')})`;
    if (length + tuple.length + 1 > MAX_SQL_CHARS && tuples.length > 0) {
      // Re-number this row into the next statement.
      const carried = values;
      await flush();
      const renamed = carried.map((v) => {
        const name = `p${n++}`;
        params[name] = v;
        return `:${name}`;
      });
      const t2 = `(${renamed.join(',')})`;
      tuples.push(t2);
      length += t2.length + 1;
      continue;
    }
    tuples.push(tuple);
    length += tuple.length + 1;
  }
  await flush();
  return affected;
}

/** Upserts conversions fetched at `fetchedAt` (ISO); returns the server's affected-row count. */
export function upsertConversions(db: Db, database: string, rows: readonly ConversionRow[], fetchedAt: string): Promise<number> {
  const t = toSqlDateTime(fetchedAt);
  return upsertRows(db, `${database}.conversions`, { columns: CONVERSION_COLUMNS, versioned: true }, rows.map(conversionValues), [t, t]);
}

export function upsertClicks(db: Db, database: string, rows: readonly ClickRow[]): Promise<number> {
  return upsertRows(db, `${database}.clicks`, { columns: CLICK_COLUMNS, versioned: false }, rows.map(clickValues), []);
}

export function upsertEntities(db: Db, database: string, table: 'affiliates' | 'offers' | 'advertisers', rows: readonly EntityRow[], fetchedAt: string): Promise<number> {
  return upsertRows(db, `${database}.${table}`, { columns: ENTITY_COLUMNS, versioned: true }, rows.map(entityValues), [toSqlDateTime(fetchedAt)]);
}

/** The (hour, affiliate, offer) groups a set of rows touches: what the rollup refresh recomputes. */
export interface TouchedGroups {
  /** `offer\u0000affiliate` → [min hour ms, max hour ms] */
  groups: Map<string, [number, number]>;
}

export function touchedGroups(rows: readonly { affiliate_id: string; offer_id: string }[], timeOf: (r: never) => string): TouchedGroups {
  const groups = new Map<string, [number, number]>();
  for (const r of rows) {
    const hour = Math.floor(Date.parse(timeOf(r as never)) / 3_600_000) * 3_600_000;
    const k = `${r.offer_id}\u0000${r.affiliate_id}`;
    const g = groups.get(k);
    if (!g) groups.set(k, [hour, hour]);
    else {
      if (hour < g[0]) g[0] = hour;
      if (hour > g[1]) g[1] = hour;
    }
  }
  return { groups };
}

const ROLLUP_SOURCES = {
  clicks: {
    table: 'clicks',
    time: 'clicked_at',
    columns: ['clicks', 'unique_clicks'],
    select: 'COUNT(*), SUM(is_unique)',
  },
  conversions: {
    table: 'conversions',
    time: 'converted_at',
    columns: ['conversions', 'events', 'revenue', 'payout'],
    select: `SUM(CASE WHEN is_event = 0 AND status IN ('approved', 'pending') THEN 1 ELSE 0 END),
             SUM(CASE WHEN is_event = 1 AND status IN ('approved', 'pending') THEN 1 ELSE 0 END),
             SUM(CASE WHEN status IN ('approved', 'pending') THEN revenue ELSE 0 END),
             SUM(CASE WHEN status IN ('approved', 'pending') THEN payout ELSE 0 END)`,
  },
} as const;

/**
 * Recomputes the hourly rollup columns of one source (clicks or conversions) for the touched
 * groups, from the base table, with `INSERT … SELECT … ON DUPLICATE KEY UPDATE`. Recomputing
 * rather than incrementing keeps it idempotent; it reads through the (offer_id, affiliate_id, time)
 * index, never the whole table. Run it after the rows' transaction commits: its reads are locking
 * reads, so concurrent workers converge on the committed truth. Never inside a transaction: a
 * deadlocked statement is retried on its own (see retryOnDeadlock).
 */
export async function refreshRollups(db: Db, database: string, source: keyof typeof ROLLUP_SOURCES, touched: TouchedGroups, groupsPerStatement = 100): Promise<void> {
  const s = ROLLUP_SOURCES[source];
  // Sorted, so concurrent workers lock overlapping groups in the same order (fewer deadlocks).
  const entries = [...touched.groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 0; i < entries.length; i += groupsPerStatement) {
    const chunk = entries.slice(i, i + groupsPerStatement);
    const params: Params = {};
    const conds = chunk.map(([k, [from, to]], j) => {
      const [offer, affiliate] = k.split('\u0000');
      params[`o${j}`] = offer;
      params[`a${j}`] = affiliate;
      params[`f${j}`] = toSqlDateTime(from);
      params[`t${j}`] = toSqlDateTime(to + 3_600_000);
      return `(offer_id = :o${j} AND affiliate_id = :a${j} AND ${s.time} >= :f${j} AND ${s.time} < :t${j})`;
    });
    await retryOnDeadlock(() => db.execute(
      `INSERT INTO ${database}.hourly_rollups (hour, affiliate_id, offer_id, ${s.columns.join(', ')})
       SELECT DATE_FORMAT(${s.time}, '%Y-%m-%d %H:00:00') AS h, affiliate_id, offer_id, ${s.select}
         FROM ${database}.${s.table}
        WHERE ${conds.join('\n           OR ')}
        GROUP BY DATE_FORMAT(${s.time}, '%Y-%m-%d %H:00:00'), affiliate_id, offer_id
       ON DUPLICATE KEY UPDATE ${s.columns.map((c) => `${c} = VALUES(${c})`).join(', ')}`,
      params,
    ));
  }
}

const DEADLOCK_ERRNOS = new Set([1213 /* ER_LOCK_DEADLOCK */, 1205 /* ER_LOCK_WAIT_TIMEOUT */]);

/**
 * Two normalize workers refreshing neighbouring groups deadlock now and then (their locking reads
 * take next-key locks on the base table's index). The refresh is a recompute and runs in its own
 * autocommit statement, so re-running just that statement is safe; without this the whole message
 * failed and was redelivered (bench/RESULTS.md measured 10–13% of messages redelivered at
 * normalize concurrency 2).
 */
async function retryOnDeadlock<T>(run: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (e) {
      const errno = (e as { options?: { errno?: number } }).options?.errno;
      if (i >= attempts || errno === undefined || !DEADLOCK_ERRNOS.has(errno)) throw e;
    }
  }
}
