import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RollbackTransactionCommand,
  type ExecuteStatementCommandOutput,
  type RDSDataClient,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import {
  DbError,
  SqlDecimal,
  sqlPreview,
  type Db,
  type ExecResult,
  type Params,
  type Row,
  type SqlScalar,
} from './port.js';
import { expandArrayParams, mapOutsideQuotes, namedParamsIn } from './params.js';
import { toSqlDateTime } from '../util/time.js';

export { decimal, SqlDecimal } from './port.js';

/**
 * The RDS Data API adapter of the database port (Lambda → Aurora MySQL Serverless v2).
 * Limits it works within (docs/aws-limits.md §1.3–1.8):
 * - SQL ≤ 65,536 characters: longer statements fail with a DbError before any call.
 * - request ≤ 4 MiB: `batch` splits its parameter sets into several BatchExecuteStatement calls.
 * - response ≤ 1 MiB: `query` pages transparently when the Data API says the result is too large
 *   (see `pagedQuery` for the contract: a top-level ORDER BY on a unique key, no LIMIT).
 * - no array parameters: arrays are expanded into `:name__0, :name__1, …` (IN lists).
 * - auto-pause: `DatabaseResumingException` is retried with exponential backoff for up to
 *   `resumeTimeoutMs` (the SDK does not retry it: it is a 400 client fault). Nothing else is
 *   retried here; `DatabaseErrorException` (the SQL failed) never is.
 *
 * Result values match the mysql2 adapter (port.ts):
 * - `formatRecordsAs: 'JSON'` with `decimalReturnType: 'STRING'`: DECIMAL → string, DATETIME/DATE/
 *   TIME → string, JSON → string, NULL → null.
 * - Integers: we ask for `longReturnType: 'LONG'`, not STRING, on purpose. In JSON mode the
 *   Data API returns no columnMetadata, so with STRING an INT column's "123" could not be told
 *   apart from a VARCHAR id "123" (ids are strings here) and there would be no safe rule to turn
 *   integers back into numbers. With LONG the integer arrives as a JSON number literal with all
 *   its digits, and `parseFormattedRecords` reads it losslessly: a safe integer becomes a number,
 *   a larger one (BIGINT > 2^53) a string of its exact digits, which is what mysql2 does with
 *   `supportBigNumbers`. Only JSON number literals are touched, never JSON strings.
 * - JSON booleans (the Data API maps TINYINT(1)/BOOL/BIT(1) to true/false) become 1/0, because
 *   mysql2 returns TINYINT(1) as a number and repository code compares with 1/0.
 *
 * Parameters (`:name`, only those the statement references are sent):
 * - string → stringValue; `decimal('12.50')` (SqlDecimal) → stringValue + typeHint DECIMAL;
 * - Date → stringValue `YYYY-MM-DD HH:MM:SS.fff` (UTC) + typeHint TIMESTAMP;
 * - integer number (safe) → longValue; other finite number → doubleValue; NaN/Infinity → DbError;
 * - boolean → booleanValue; null → isNull;
 * - bigint → stringValue without a hint (the SDK's longValue is a JS number and would lose digits;
 *   MySQL converts the digit string exactly where the context is an integer column).
 */

export interface DataApiDbOptions {
  client: RDSDataClient;
  resourceArn: string;
  secretArn: string;
  /** Default database for the calls; optional because our SQL fully qualifies every name. */
  database?: string;
  /** How long to keep retrying DatabaseResumingException in total (slept time). Default 45 s (resume ≈ 15 s). */
  resumeTimeoutMs?: number;
  /** Budget for one request's JSON body; the hard limit is 4 MiB including headers. Default 3.5 MiB. */
  maxRequestBytes?: number;
  /** Target size of one page of a paged SELECT; the hard response limit is 1 MiB. Default 512 KiB. */
  pageTargetBytes?: number;
  /** Injectable so tests do not wait. */
  sleep?: (ms: number) => Promise<void>;
}

/** Data API `SqlStatement` maximum length (botocore:rds-data). */
export const MAX_SQL_CHARS = 65_536;
export const DEFAULT_MAX_REQUEST_BYTES = Math.floor(3.5 * 1024 * 1024);
export const DEFAULT_RESUME_TIMEOUT_MS = 45_000;
export const DEFAULT_PAGE_TARGET_BYTES = 512 * 1024;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8_000;
/** Paging starts with this many rows per page and then sizes pages from the bytes actually seen. */
const FIRST_PAGE_ROWS = 1_000;
const MAX_PAGE_ROWS = 50_000;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createDataApiDb(options: DataApiDbOptions): Db {
  if (!options.resourceArn) throw new Error('createDataApiDb: resourceArn is required');
  if (!options.secretArn) throw new Error('createDataApiDb: secretArn is required');
  return new DataApiDb(
    {
      client: options.client,
      resourceArn: options.resourceArn,
      secretArn: options.secretArn,
      database: options.database,
      resumeTimeoutMs: options.resumeTimeoutMs ?? DEFAULT_RESUME_TIMEOUT_MS,
      maxRequestBytes: options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
      pageTargetBytes: options.pageTargetBytes ?? DEFAULT_PAGE_TARGET_BYTES,
      sleep: options.sleep ?? defaultSleep,
    },
    undefined,
  );
}

type Settings = Required<Omit<DataApiDbOptions, 'database'>> & { database?: string };

class DataApiDb implements Db {
  readonly dialect = 'data-api' as const;
  constructor(
    private readonly s: Settings,
    private readonly transactionId: string | undefined,
  ) {}

  /** The fields every statement call carries. */
  private base(): { resourceArn: string; secretArn: string; database?: string; transactionId?: string } {
    return {
      resourceArn: this.s.resourceArn,
      secretArn: this.s.secretArn,
      ...(this.s.database ? { database: this.s.database } : {}),
      ...(this.transactionId ? { transactionId: this.transactionId } : {}),
    };
  }

  private async send<O>(command: { input: unknown }, sql: string | undefined): Promise<O> {
    return withResumeRetry(this.s, sql, () => this.s.client.send(command as never) as Promise<O>);
  }

  private async executeStatement(
    sql: string,
    params: Params | undefined,
    forQuery: boolean,
  ): Promise<ExecuteStatementCommandOutput> {
    const prepared = prepare(sql, params);
    const input = {
      ...this.base(),
      sql: prepared.sql,
      ...(prepared.parameters.length > 0 ? { parameters: prepared.parameters } : {}),
      ...(forQuery
        ? {
            formatRecordsAs: 'JSON' as const,
            resultSetOptions: { decimalReturnType: 'STRING' as const, longReturnType: 'LONG' as const },
          }
        : {}),
      // DDL keeps running server-side if the HTTP call times out (AWS's advice for DDL).
      ...(!forQuery && isDdl(prepared.sql) ? { continueAfterTimeout: true } : {}),
    };
    return this.send<ExecuteStatementCommandOutput>(new ExecuteStatementCommand(input), sql);
  }

  async query<T extends Row = Row>(sql: string, params?: Params): Promise<T[]> {
    try {
      const out = await this.executeStatement(sql, params, true);
      return rowsOf<T>(out, sql);
    } catch (e) {
      if (!isResponseTooLarge(e)) throw e;
      return this.pagedQuery<T>(sql, params, e);
    }
  }

  /**
   * Re-runs a SELECT whose result exceeded the 1 MiB response limit as LIMIT/OFFSET pages and
   * concatenates them. Contract (checked where it can be): the statement is one SELECT (or WITH …
   * SELECT) with a top-level ORDER BY on a unique key, so pages neither overlap nor skip rows,
   * and has no top-level LIMIT and no locking clause. Anything else fails with a DbError that says
   * so; page such results yourself (keyset on the primary key). Outside a transaction the pages
   * are separate reads: rows written concurrently may shift between pages.
   */
  private async pagedQuery<T extends Row>(sql: string, params: Params | undefined, cause: unknown): Promise<T[]> {
    const body = sql.replace(/[\s;]+$/, '');
    const top = topLevelText(body);
    const problem = !/^\s*(\(\s*)?(SELECT|WITH)\b/i.test(top)
      ? 'it is not a SELECT'
      : !/\bORDER\s+BY\b/i.test(top)
        ? 'it has no top-level ORDER BY'
        : /\bLIMIT\b/i.test(top)
          ? 'it already has a top-level LIMIT'
          : /\bFOR\s+UPDATE\b|\bLOCK\s+IN\s+SHARE\s+MODE\b|\bFOR\s+SHARE\b/i.test(top)
            ? 'it is a locking read'
            : undefined;
    if (problem) {
      throw new DbError(
        `result exceeds the Data API's 1 MiB response limit and cannot be paged automatically: ${problem} (needs one SELECT with a top-level ORDER BY on a unique key and no LIMIT) [${sqlPreview(sql)}]`,
        { code: 'UnsupportedResultException', sql: sqlPreview(sql), cause },
      );
    }
    const rows: T[] = [];
    let offset = 0;
    let pageRows = FIRST_PAGE_ROWS;
    for (;;) {
      // A new line first, so a trailing `-- comment` cannot swallow the LIMIT.
      const pageSql = `${body}\nLIMIT ${pageRows} OFFSET ${offset}`;
      let out: ExecuteStatementCommandOutput;
      try {
        out = await this.executeStatement(pageSql, params, true);
      } catch (e) {
        if (!isResponseTooLarge(e)) throw e;
        if (pageRows === 1) {
          throw new DbError(
            `one row exceeds the Data API's 1 MiB response limit (offset ${offset}) [${sqlPreview(sql)}]`,
            {
              code: 'UnsupportedResultException',
              sql: sqlPreview(sql),
              cause: e,
            },
          );
        }
        pageRows = Math.max(1, Math.floor(pageRows / 2));
        continue;
      }
      const page = rowsOf<T>(out, sql);
      rows.push(...page);
      if (page.length < pageRows) return rows;
      offset += page.length;
      const bytesPerRow = Buffer.byteLength(out.formattedRecords ?? '') / Math.max(1, page.length);
      pageRows = Math.max(1, Math.min(MAX_PAGE_ROWS, Math.floor(this.s.pageTargetBytes / Math.max(1, bytesPerRow))));
    }
  }

  async execute(sql: string, params?: Params): Promise<ExecResult> {
    const out = await this.executeStatement(sql, params, false);
    const id = out.generatedFields?.[0]?.longValue;
    return { affectedRows: out.numberOfRecordsUpdated ?? 0, insertId: id ? Number(id) : undefined };
  }

  async batch(sql: string, paramSets: readonly Params[]): Promise<void> {
    if (paramSets.length === 0) return;
    // Array parameters change the SQL text per set; consecutive sets with the same text share requests.
    let groupSql: string | undefined;
    let group: { index: number; parameters: SqlParameter[] }[] = [];
    const flush = async () => {
      if (groupSql !== undefined && group.length > 0) await this.sendBatches(sql, groupSql, group);
      group = [];
    };
    for (let i = 0; i < paramSets.length; i++) {
      const prepared = prepare(sql, paramSets[i], i);
      if (prepared.sql !== groupSql) {
        await flush();
        groupSql = prepared.sql;
      }
      group.push({ index: i, parameters: prepared.parameters });
    }
    await flush();
  }

  /** Splits parameter sets into BatchExecuteStatement requests whose JSON body stays under maxRequestBytes. */
  private async sendBatches(
    originalSql: string,
    sql: string,
    sets: { index: number; parameters: SqlParameter[] }[],
  ): Promise<void> {
    const envelope = Buffer.byteLength(JSON.stringify({ ...this.base(), sql, parameterSets: [] }));
    // Headers and SigV4 are not in the JSON body; keep a margin for them.
    const budget = this.s.maxRequestBytes - envelope - 8 * 1024;
    let chunk: SqlParameter[][] = [];
    let bytes = 0;
    for (const set of sets) {
      const size = Buffer.byteLength(JSON.stringify(set.parameters)) + 1;
      if (size > budget) {
        throw new DbError(
          `batch: parameter set ${set.index} alone is ${size} bytes, over the ${this.s.maxRequestBytes}-byte request budget [${sqlPreview(originalSql)}]`,
          {
            sql: sqlPreview(originalSql),
          },
        );
      }
      if (bytes + size > budget && chunk.length > 0) {
        await this.sendBatch(originalSql, sql, chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(set.parameters);
      bytes += size;
    }
    if (chunk.length > 0) await this.sendBatch(originalSql, sql, chunk);
  }

  private async sendBatch(originalSql: string, sql: string, parameterSets: SqlParameter[][]): Promise<void> {
    await this.send(new BatchExecuteStatementCommand({ ...this.base(), sql, parameterSets }), originalSql);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    if (this.transactionId) throw new DbError('nested transactions are not supported');
    const { resourceArn, secretArn, database } = this.base();
    const begun = await this.send<{ transactionId?: string }>(
      new BeginTransactionCommand({ resourceArn, secretArn, ...(database ? { database } : {}) }),
      undefined,
    );
    const transactionId = begun.transactionId;
    if (!transactionId) throw new DbError('BeginTransaction returned no transactionId');
    let result: T;
    try {
      result = await fn(new DataApiDb(this.s, transactionId));
    } catch (e) {
      // The original error matters more than a failed rollback (the Data API rolls back an idle transaction after 3 minutes anyway).
      await this.send(new RollbackTransactionCommand({ resourceArn, secretArn, transactionId }), undefined).catch(
        () => undefined,
      );
      throw e;
    }
    await this.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId }), undefined);
    return result;
  }

  async close(): Promise<void> {
    // The SDK client is passed in and owned by the caller (one per Lambda container).
  }
}

/** Expands arrays, checks the 65,536-character limit and builds the SqlParameters the statement references. */
export function prepare(
  sql: string,
  params: Params | undefined,
  setIndex?: number,
): { sql: string; parameters: SqlParameter[] } {
  const expanded = expandArrayParams(sql, params ?? {});
  const where = setIndex === undefined ? '' : ` (parameter set ${setIndex})`;
  if (expanded.sql.length > MAX_SQL_CHARS) {
    throw new DbError(
      `SQL is ${expanded.sql.length} characters${expanded.sql.length !== sql.length ? ' after IN-list expansion' : ''}, over the Data API's ${MAX_SQL_CHARS}-character limit: split the statement or the list${where} [${sqlPreview(sql)}]`,
      { code: 'SqlTooLong', sql: sqlPreview(sql) },
    );
  }
  const parameters: SqlParameter[] = [];
  for (const name of namedParamsIn(expanded.sql)) {
    if (!Object.hasOwn(expanded.params, name) || expanded.params[name] === undefined) {
      throw new DbError(`parameter :${name} is used by the statement but not given${where} [${sqlPreview(sql)}]`, {
        sql: sqlPreview(sql),
      });
    }
    parameters.push(toSqlParameter(name, expanded.params[name], sql, where));
  }
  return { sql: expanded.sql, parameters };
}

function toSqlParameter(name: string, v: SqlScalar, sql: string, where: string): SqlParameter {
  if (v === null) return { name, value: { isNull: true } };
  if (v instanceof SqlDecimal) return { name, value: { stringValue: v.value }, typeHint: 'DECIMAL' };
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime()))
      throw new DbError(`parameter :${name} is an invalid Date${where} [${sqlPreview(sql)}]`, { sql: sqlPreview(sql) });
    return { name, value: { stringValue: toSqlDateTime(v) }, typeHint: 'TIMESTAMP' };
  }
  switch (typeof v) {
    case 'string':
      return { name, value: { stringValue: v } };
    case 'boolean':
      return { name, value: { booleanValue: v } };
    case 'bigint':
      return { name, value: { stringValue: v.toString() } };
    case 'number':
      if (!Number.isFinite(v))
        throw new DbError(`parameter :${name} is ${v}, not a finite number${where} [${sqlPreview(sql)}]`, {
          sql: sqlPreview(sql),
        });
      return Number.isSafeInteger(v) ? { name, value: { longValue: v } } : { name, value: { doubleValue: v } };
    default:
      throw new DbError(`parameter :${name} has unsupported type ${typeof v}${where} [${sqlPreview(sql)}]`, {
        sql: sqlPreview(sql),
      });
  }
}

function rowsOf<T extends Row>(out: ExecuteStatementCommandOutput, sql: string): T[] {
  if (out.formattedRecords === undefined)
    throw new DbError(`statement returned no rows [${sqlPreview(sql)}]`, { sql: sqlPreview(sql) });
  let parsed: unknown;
  try {
    parsed = parseFormattedRecords(out.formattedRecords);
  } catch (e) {
    throw new DbError(`Data API formattedRecords is not valid JSON: ${(e as Error).message} [${sqlPreview(sql)}]`, {
      sql: sqlPreview(sql),
      cause: e,
    });
  }
  if (!Array.isArray(parsed))
    throw new DbError(`Data API formattedRecords is not a JSON array [${sqlPreview(sql)}]`, { sql: sqlPreview(sql) });
  for (const row of parsed as Record<string, unknown>[]) {
    for (const k of Object.keys(row)) if (typeof row[k] === 'boolean') row[k] = row[k] ? 1 : 0;
  }
  return parsed as T[];
}

/**
 * JSON.parse that keeps integers beyond 2^53 exact: such number literals (outside JSON strings)
 * are turned into strings of their digits first. Other numbers and all strings are untouched.
 */
export function parseFormattedRecords(text: string): unknown {
  // Fast path: no run of 16+ digits anywhere, so no integer literal can be unsafe.
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  let out = '';
  let last = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      const token = m ? m[0] : c;
      if (m && !m[1] && !m[2] && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(last, i)}"${token}"`;
        last = i + token.length;
      }
      i += token.length;
    } else i++;
  }
  return JSON.parse(out + text.slice(last));
}

function isDdl(sql: string): boolean {
  return /^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b/i.test(sql);
}

/** The statement with quoted text and comments removed and parenthesized parts blanked: what is left is its top level. */
function topLevelText(sql: string): string {
  let depth = 0;
  let top = '';
  mapOutsideQuotes(sql, (segment) => {
    let s = ' ';
    for (const ch of segment) {
      if (ch === '(') {
        if (depth === 0) s += '(';
        depth++;
      } else if (ch === ')') depth = Math.max(0, depth - 1);
      else s += depth === 0 ? ch : '';
    }
    top += s;
    return segment;
  });
  return top;
}

function errorName(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'name' in e ? String((e as { name: unknown }).name) : undefined;
}

function isResponseTooLarge(e: unknown): boolean {
  const cause = e instanceof DbError ? e.cause : e;
  const name = errorName(cause);
  const message = String((cause as { message?: unknown } | undefined)?.message ?? '');
  return name === 'UnsupportedResultException' && /size|too large|limit/i.test(message);
}

/** MySQL errors the caller may want to tell apart, recognized by message (the Data API sends only the text). */
const KNOWN_MYSQL_ERRORS: { pattern: RegExp; code: string; errno: number }[] = [
  { pattern: /^Duplicate entry\b/i, code: 'ER_DUP_ENTRY', errno: 1062 },
  { pattern: /^Deadlock found\b/i, code: 'ER_LOCK_DEADLOCK', errno: 1213 },
  { pattern: /^Lock wait timeout exceeded\b/i, code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 },
  // The migrator's re-run of a one-index ALTER (shared/db/migrate.ts).
  { pattern: /^Duplicate key name\b/i, code: 'ER_DUP_KEYNAME', errno: 1061 },
  { pattern: /^Can't DROP\b/i, code: 'ER_CANT_DROP_FIELD_OR_KEY', errno: 1091 },
];

/**
 * Runs one Data API call, retrying DatabaseResumingException (auto-pause: the first call wakes the
 * writer, ≈15 s) with exponential backoff until `resumeTimeoutMs` of sleeping is used up. Any other
 * error becomes a DbError naming the exception and the statement's first words, never retried.
 */
async function withResumeRetry<O>(s: Settings, sql: string | undefined, call: () => Promise<O>): Promise<O> {
  let slept = 0;
  let delay = FIRST_BACKOFF_MS;
  const preview = sql === undefined ? undefined : sqlPreview(sql);
  const suffix = preview === undefined ? '' : ` [${preview}]`;
  for (;;) {
    try {
      return await call();
    } catch (e) {
      const name = errorName(e) ?? 'Error';
      const message = String((e as { message?: unknown })?.message ?? e);
      if (name === 'DatabaseResumingException') {
        const remaining = s.resumeTimeoutMs - slept;
        if (remaining <= 0) {
          throw new DbError(
            `database still resuming after ${Math.round(slept / 1000)} s of retries (DatabaseResumingException): ${message}${suffix}`,
            {
              code: name,
              sql: preview,
              cause: e,
            },
          );
        }
        const wait = Math.min(delay, remaining);
        await s.sleep(wait);
        slept += wait;
        delay = Math.min(delay * 2, MAX_BACKOFF_MS);
        continue;
      }
      const known =
        name === 'DatabaseErrorException' ? KNOWN_MYSQL_ERRORS.find((k) => k.pattern.test(message)) : undefined;
      throw new DbError(`${name}: ${message}${suffix}`, {
        code: known?.code ?? name,
        errno: known?.errno,
        sql: preview,
        cause: e,
      });
    }
  }
}
