/**
 * The database port. Repository code writes one dialect (the MySQL 8.0 ∩ MariaDB 10.11 subset of
 * docs/design.md §4) with `:named` parameters and runs unchanged on both adapters:
 * - `db/mysql.ts`  — mysql2 pool, for local runs, the demo and tests (real MariaDB);
 * - `db/data-api.ts` — RDS Data API, in Lambda against Aurora MySQL Serverless v2.
 *
 * Result values are normalized the same way by both adapters (the Data API's JSON format decides):
 * DECIMAL → string, DATETIME/DATE/TIMESTAMP → string `YYYY-MM-DD HH:MM:SS[.fff]` (UTC by our
 * convention), BIGINT → string when it does not fit a JS safe integer is NOT guaranteed: select
 * big counters as DECIMAL or CAST(... AS CHAR) where they may exceed 2^53. JSON columns → string
 * (parse it yourself). NULL → null. INT/TINYINT → number.
 */

/**
 * A decimal parameter (money): `decimal('12.50')`. A plain string parameter is just a string (the
 * SQL around it decides how MySQL converts it); a SqlDecimal is sent as a DECIMAL value, so
 * `:a + :b` is exact arithmetic on both adapters: the Data API gets stringValue + typeHint DECIMAL,
 * mysql2 inlines the validated literal through `toSqlString()`.
 */
export class SqlDecimal {
  constructor(readonly value: string) {
    if (!/^[+-]?\d{1,40}(\.\d{1,30})?$/.test(value))
      throw new Error(`decimal(): not a plain decimal number: ${JSON.stringify(value)}`);
  }
  /** mysql2 (sqlstring) writes objects with toSqlString() raw into the statement: safe, the value was validated above. */
  toSqlString(): string {
    return this.value;
  }
  toString(): string {
    return this.value;
  }
}

/** Marks a decimal string parameter (see SqlDecimal). Throws on anything but `[+-]digits[.digits]`. */
export function decimal(value: string): SqlDecimal {
  return new SqlDecimal(value);
}

/** A parameter value. Arrays are expanded into `(:p_0, :p_1, …)` for IN lists by the adapters. */
export type SqlScalar = string | number | boolean | null | Date | bigint | SqlDecimal;
export type SqlValue = SqlScalar | readonly SqlScalar[];
export type Params = Record<string, SqlValue>;
export type Row = Record<string, unknown>;

export interface ExecResult {
  /** Rows inserted/updated/deleted as the server reports them (ON DUPLICATE KEY: 1 insert, 2 update, 0 unchanged). */
  affectedRows: number;
  /** AUTO_INCREMENT id of the first inserted row, when there is one. */
  insertId?: number;
}

export interface Db {
  /** Runs a SELECT (or anything returning rows). Large results are paged by the adapter where it must (Data API 1 MiB). */
  query<T extends Row = Row>(sql: string, params?: Params): Promise<T[]>;
  /** Runs one statement that returns no rows. */
  execute(sql: string, params?: Params): Promise<ExecResult>;
  /**
   * Runs one statement once per parameter set (Data API BatchExecuteStatement; split into requests
   * under the 4 MiB limit). No result rows. Use for bulk upserts that do not fit one multi-row INSERT.
   */
  batch(sql: string, paramSets: readonly Params[]): Promise<void>;
  /** Runs `fn` in one transaction: commit when it resolves, roll back when it throws. Do not nest. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /** Which adapter this is, for the few places the dialects differ in behaviour (never in SQL text). */
  readonly dialect: 'mysql' | 'data-api';
  close(): Promise<void>;
}

/** A database error with the statement's first words (never its parameters: they may hold personal data). */
export class DbError extends Error {
  constructor(
    message: string,
    readonly options: { code?: string; errno?: number; sql?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'DbError';
  }
}

/** The first 120 characters of a statement, one line, for error messages. */
export function sqlPreview(sql: string): string {
  const oneLine = sql.replace(/\s+/g, ' ').trim();
  return oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine;
}
