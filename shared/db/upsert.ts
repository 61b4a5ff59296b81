import { createHash } from 'node:crypto';
import { retryOnDeadlock } from './deadlock.js';
import type { Db, Params, SqlScalar } from './port.js';
import type { ClickRow, ConversionRow, EntityRow } from '../model/canonical.js';
import { toSqlDateTime } from '../util/time.js';

/**
 * Idempotent loads into a platform database (docs/design.md §5). Every write is a multi-row
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
 * short, `:p123`) on that adapter; on mysql2 they hold up to 2,000 rows (maxSqlChars, MYSQL_MAX_ROWS).
 */

const MAX_SQL_CHARS = 60_000;

export const CONVERSION_COLUMNS = [
  'conversion_id',
  'click_id',
  'transaction_id',
  'order_id',
  'converted_at',
  'clicked_at',
  'affiliate_id',
  'offer_id',
  'advertiser_id',
  'sub1',
  'sub2',
  'sub3',
  'sub4',
  'sub5',
  'event_name',
  'is_event',
  'status',
  'revenue',
  'payout',
  'sale_amount',
  'currency',
  'ip',
  'user_agent_hash',
  'country_code',
  'raw',
] as const;
export const CLICK_COLUMNS = [
  'click_id',
  'clicked_at',
  'affiliate_id',
  'offer_id',
  'advertiser_id',
  'sub1',
  'sub2',
  'sub3',
  'sub4',
  'sub5',
  'ip',
  'user_agent_hash',
  'country_code',
  'is_unique',
] as const;
export const ENTITY_COLUMNS = ['id', 'name', 'status', 'email', 'raw'] as const;

interface TableSpec {
  columns: readonly string[];
  /** Extra trailing columns bound per row (fetch times). */
  versioned: boolean;
}

function conversionValues(r: ConversionRow): SqlScalar[] {
  return [
    r.conversion_id,
    r.click_id,
    r.transaction_id,
    r.order_id,
    toSqlDateTime(r.converted_at),
    r.clicked_at ? toSqlDateTime(r.clicked_at) : null,
    r.affiliate_id,
    r.offer_id,
    r.advertiser_id,
    r.sub1,
    r.sub2,
    r.sub3,
    r.sub4,
    r.sub5,
    r.event_name,
    r.is_event ? 1 : 0,
    r.status,
    r.revenue,
    r.payout,
    r.sale_amount,
    r.currency,
    r.ip,
    r.user_agent_hash,
    r.country_code,
    r.raw === undefined ? null : JSON.stringify(r.raw),
  ];
}

function clickValues(r: ClickRow): SqlScalar[] {
  return [
    r.click_id,
    toSqlDateTime(r.clicked_at),
    r.affiliate_id,
    r.offer_id,
    r.advertiser_id,
    r.sub1,
    r.sub2,
    r.sub3,
    r.sub4,
    r.sub5,
    r.ip,
    r.user_agent_hash,
    r.country_code,
    r.is_unique ? 1 : 0,
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

/**
 * SQL length limit per statement: the Data API's 65,536 characters (with room to spare), or, on
 * mysql2 (no such limit), up to MYSQL_MAX_ROWS rows: a normalize batch's rows in a few statements. The SQL text has the same shape on both;
 * only where the rows are cut differs.
 */
function maxSqlChars(db: Db): number {
  return db.dialect === 'data-api' ? MAX_SQL_CHARS : MAX_SQL_CHARS_MYSQL;
}
const MAX_SQL_CHARS_MYSQL = 1_500_000;
const MYSQL_MAX_ROWS = 2_000;

/** Statement text per (table, columns, row count): rebuilt only when the row count changes. */
interface StatementShape {
  head: string;
  tail: string;
  width: number;
  /** rows → SQL text */
  texts: Map<number, string>;
}
const shapes = new Map<string, StatementShape>();

function shapeOf(table: string, spec: TableSpec): StatementShape {
  const key = `${table}\u0000${spec.columns === CONVERSION_COLUMNS ? 'c' : spec.columns === CLICK_COLUMNS ? 'k' : 'e'}\u0000${spec.versioned}`;
  let shape = shapes.get(key);
  if (!shape) {
    const allCols = [
      ...spec.columns,
      ...(spec.versioned
        ? spec.columns === CONVERSION_COLUMNS
          ? ['first_seen_at', 'updated_at', 'row_hash']
          : ['updated_at', 'row_hash']
        : []),
    ];
    shape = {
      head: `INSERT INTO ${table} (${allCols.join(', ')}) VALUES `,
      tail: ` ON DUPLICATE KEY UPDATE ${updateClause(spec)}`,
      width: allCols.length,
      texts: new Map(),
    };
    // Bounded: one entry per table a process writes (platform databases × tables).
    if (shapes.size > 256) shapes.clear();
    shapes.set(key, shape);
  }
  return shape;
}

/** `(:p0,:p1,…),(…)` for `rows` rows of `width` values, numbered from 0: cached per row count. */
function statementText(shape: StatementShape, rows: number): string {
  let text = shape.texts.get(rows);
  if (text === undefined) {
    const tuples: string[] = [];
    let n = 0;
    for (let r = 0; r < rows; r++) {
      const names: string[] = [];
      for (let c = 0; c < shape.width; c++) names.push(`:p${n++}`);
      tuples.push(`(${names.join(',')})`);
    }
    text = shape.head + tuples.join(',') + shape.tail;
    if (shape.texts.size > 32) shape.texts.clear();
    shape.texts.set(rows, text);
  }
  return text;
}

/** How many rows of `width` values fit one statement under `limit` characters (the numbering grows with the row count). */
function rowsPerStatement(shape: StatementShape, limit: number): number {
  let length = shape.head.length + shape.tail.length;
  let n = 0;
  let rows = 0;
  for (;;) {
    let tuple = 2; // parentheses
    for (let c = 0; c < shape.width; c++) tuple += 2 + String(n + c).length + (c > 0 ? 1 : 0);
    if (length + tuple + 1 > limit && rows > 0) return rows;
    length += tuple + 1;
    n += shape.width;
    rows++;
  }
}
const perStatement = new Map<string, number>();

async function upsertRows(
  db: Db,
  table: string,
  spec: TableSpec,
  rows: SqlScalar[][],
  trailing: SqlScalar[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const shape = shapeOf(table, spec);
  const limit = maxSqlChars(db);
  const cacheKey = `${shape.head.length}:${shape.width}:${limit}`;
  let maxRows = perStatement.get(cacheKey);
  if (maxRows === undefined) {
    // mysql2: also at most MYSQL_MAX_ROWS rows, so the statement with its values inlined stays a few
    // MB (max_allowed_packet: 16 MiB on MariaDB, 64 MiB on MySQL 8) even for conversions with raw JSON.
    maxRows = Math.min(
      rowsPerStatement(shape, limit),
      db.dialect === 'data-api' ? Number.POSITIVE_INFINITY : MYSQL_MAX_ROWS,
    );
    perStatement.set(cacheKey, maxRows);
  }
  let affected = 0;
  // Even cuts (e.g. 2 × 350 rather than 600 + 100): the same few statement texts come back, so
  // their text and mysql2's placeholder parse are reused.
  const statements = Math.ceil(rows.length / maxRows);
  const size = Math.ceil(rows.length / statements);
  for (let from = 0; from < rows.length; from += size) {
    const to = Math.min(rows.length, from + size);
    const params: Params = {};
    let n = 0;
    for (let i = from; i < to; i++) {
      const row = rows[i];
      for (const v of row) params[`p${n++}`] = v;
      for (const v of trailing) params[`p${n++}`] = v;
      if (spec.versioned) params[`p${n++}`] = contentHash(row);
    }
    affected += (await db.execute(statementText(shape, to - from), params)).affectedRows;
  }
  return affected;
}

/** Upserts conversions fetched at `fetchedAt` (ISO); returns the server's affected-row count. */
export function upsertConversions(
  db: Db,
  database: string,
  rows: readonly ConversionRow[],
  fetchedAt: string,
): Promise<number> {
  const t = toSqlDateTime(fetchedAt);
  return upsertRows(
    db,
    `${database}.conversions`,
    { columns: CONVERSION_COLUMNS, versioned: true },
    rows.map(conversionValues),
    [t, t],
  );
}

export function upsertClicks(db: Db, database: string, rows: readonly ClickRow[]): Promise<number> {
  return upsertRows(db, `${database}.clicks`, { columns: CLICK_COLUMNS, versioned: false }, rows.map(clickValues), []);
}

export function upsertEntities(
  db: Db,
  database: string,
  table: 'affiliates' | 'offers' | 'advertisers',
  rows: readonly EntityRow[],
  fetchedAt: string,
): Promise<number> {
  return upsertRows(db, `${database}.${table}`, { columns: ENTITY_COLUMNS, versioned: true }, rows.map(entityValues), [
    toSqlDateTime(fetchedAt),
  ]);
}

/** The (hour, affiliate, offer) groups a set of rows touches: what the rollup refresh recomputes. */
export interface TouchedGroups {
  /** `offer\u0000affiliate\u0000hour ms` of every row. */
  keys: Set<string>;
  /** hour ms → how many of the rows fall in that hour. */
  hours: Map<number, number>;
}

export function touchedGroups(
  rows: readonly { affiliate_id: string; offer_id: string }[],
  timeOf: (r: never) => string,
): TouchedGroups {
  const touched: TouchedGroups = { keys: new Set(), hours: new Map() };
  for (const r of rows) {
    const hour = Math.floor(Date.parse(timeOf(r as never)) / 3_600_000) * 3_600_000;
    touched.keys.add(`${r.offer_id}\u0000${r.affiliate_id}\u0000${hour}`);
    touched.hours.set(hour, (touched.hours.get(hour) ?? 0) + 1);
  }
  return touched;
}

/** Adds `from`'s groups to `into` (a normalize batch refreshes the union of its messages' groups once). */
export function mergeTouched(into: TouchedGroups, from: TouchedGroups): TouchedGroups {
  for (const k of from.keys) into.keys.add(k);
  for (const [h, n] of from.hours) into.hours.set(h, (into.hours.get(h) ?? 0) + n);
  return into;
}

export interface RefreshOptions {
  /** Group conditions per statement (sparse hours). */
  groupsPerStatement?: number;
  /**
   * An hour with at least this many touched rows is recomputed whole (one range scan of the time
   * index, every group of the hour) instead of group by group (one index dive per group): a
   * time-ordered load touches most groups of its hours anyway, and the range scan reads each row
   * once. Hours with fewer rows (a late status change, a trickle) stay per group.
   */
  denseHourRows?: number;
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
 * rather than incrementing keeps it idempotent (a superset of the touched groups is as correct as
 * the exact set, just more work). Hours with many touched rows are recomputed whole through the time
 * index; the other groups through the (offer_id, affiliate_id, time) index; never the whole table.
 * Run it after the rows' transaction commits: its reads are locking
 * reads, so concurrent workers converge on the committed truth. Never inside a transaction: a
 * deadlocked statement is retried on its own (see retryOnDeadlock).
 */
export async function refreshRollups(
  db: Db,
  database: string,
  source: keyof typeof ROLLUP_SOURCES,
  touched: TouchedGroups,
  options: RefreshOptions | number = {},
): Promise<void> {
  const opts = typeof options === 'number' ? { groupsPerStatement: options } : options;
  const groupsPerStatement = opts.groupsPerStatement ?? 200;
  const denseHourRows = opts.denseHourRows ?? 32;
  const s = ROLLUP_SOURCES[source];
  // Two normalize workers refreshing neighbouring groups deadlock now and then (their locking reads
  // take next-key locks on the base table's index). The refresh is a recompute in its own
  // autocommit statement, so re-running just that statement is safe; without this the whole message
  // failed and was redelivered (bench/RESULTS.md measured 10–13% of messages redelivered at
  // normalize concurrency 2).
  const refresh = (conds: string[], params: Params) =>
    retryOnDeadlock(
      () =>
        db.execute(
          `INSERT INTO ${database}.hourly_rollups (hour, affiliate_id, offer_id, ${s.columns.join(', ')})
       SELECT DATE_FORMAT(${s.time}, '%Y-%m-%d %H:00:00') AS h, affiliate_id, offer_id, ${s.select}
         FROM ${database}.${s.table}
        WHERE ${conds.join('\n           OR ')}
        GROUP BY DATE_FORMAT(${s.time}, '%Y-%m-%d %H:00:00'), affiliate_id, offer_id
       ON DUPLICATE KEY UPDATE ${s.columns.map((c) => `${c} = VALUES(${c})`).join(', ')}`,
          params,
        ),
      { attempts: 6, pauseMs: 10 },
    );

  // Dense hours: whole-hour ranges, neighbouring hours merged, in time order.
  const dense = [...touched.hours.entries()]
    .filter(([, n]) => n >= denseHourRows)
    .map(([h]) => h)
    .sort((a, b) => a - b);
  const denseSet = new Set(dense);
  const runs = toRuns(dense);
  for (let i = 0; i < runs.length; i += groupsPerStatement) {
    const params: Params = {};
    const conds = runs.slice(i, i + groupsPerStatement).map(([from, to], j) => {
      params[`f${j}`] = toSqlDateTime(from);
      params[`t${j}`] = toSqlDateTime(to + 3_600_000);
      return `(${s.time} >= :f${j} AND ${s.time} < :t${j})`;
    });
    await refresh(conds, params);
  }

  // Sparse hours: per (offer, affiliate), its touched hours merged into ranges.
  const byGroup = new Map<string, number[]>();
  for (const k of touched.keys) {
    const cut = k.lastIndexOf('\u0000');
    const hour = Number(k.slice(cut + 1));
    if (denseSet.has(hour)) continue;
    const g = k.slice(0, cut);
    const hours = byGroup.get(g);
    if (hours) hours.push(hour);
    else byGroup.set(g, [hour]);
  }
  // Sorted, so concurrent workers lock overlapping groups in the same order (fewer deadlocks).
  const groups: [string, number, number][] = [];
  for (const g of [...byGroup.keys()].sort())
    for (const [from, to] of toRuns(byGroup.get(g)!.sort((a, b) => a - b))) groups.push([g, from, to]);
  for (let i = 0; i < groups.length; i += groupsPerStatement) {
    const params: Params = {};
    const conds = groups.slice(i, i + groupsPerStatement).map(([k, from, to], j) => {
      const [offer, affiliate] = k.split('\u0000');
      params[`o${j}`] = offer;
      params[`a${j}`] = affiliate;
      params[`f${j}`] = toSqlDateTime(from);
      params[`t${j}`] = toSqlDateTime(to + 3_600_000);
      return `(offer_id = :o${j} AND affiliate_id = :a${j} AND ${s.time} >= :f${j} AND ${s.time} < :t${j})`;
    });
    await refresh(conds, params);
  }
}

/** Sorted hour starts (ms) → [first, last] runs of consecutive hours. */
function toRuns(hours: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const h of hours) {
    const last = runs[runs.length - 1];
    if (last && h === last[1] + 3_600_000) last[1] = h;
    else if (!last || h !== last[1]) runs.push([h, h]);
  }
  return runs;
}
