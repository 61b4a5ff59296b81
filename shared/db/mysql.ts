import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import { DbError, sqlPreview, type Db, type ExecResult, type Params, type Row, type SqlScalar } from './port.js';
import { expandArrayParams } from './params.js';
import { toSqlDateTime } from '../util/time.js';

/**
 * The mysql2 adapter of the database port: local runs, the demo and tests against real MariaDB or
 * MySQL 8. Values come back as the Data API returns them (see port.ts): DATETIME and DECIMAL as
 * strings, JSON as a string. Every session runs MySQL 8's sql_mode (ONLY_FULL_GROUP_BY and strict),
 * so SQL that Aurora would reject fails here too, and in UTC.
 */

export const MYSQL8_SQL_MODE =
  'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

export interface MysqlDbOptions {
  connectionLimit?: number;
}

/** Parses DATABASE_URL (`mysql://user:pass@host:port[/db]`) and opens a pool. Nothing connects until first use. */
export function createMysqlDb(url: string, options: MysqlDbOptions = {}): Db {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`DATABASE_URL: not a URL (expected mysql://user@host:port)`);
  }
  if (parsed.protocol !== 'mysql:')
    throw new Error(`DATABASE_URL: expected the mysql:// scheme, got ${parsed.protocol}//`);
  const pool = mysql.createPool({
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username || 'root'),
    password: decodeURIComponent(parsed.password || ''),
    database: parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : undefined,
    namedPlaceholders: true,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: false,
    timezone: 'Z',
    connectionLimit: options.connectionLimit ?? 8,
    // LOAD DATA LOCAL is not used; multi-statement text is split by the migrator.
    multipleStatements: false,
    // JSON as a string, as the Data API returns it (mysql2 would parse MySQL 8 JSON and MariaDB's json format).
    jsonStrings: true,
  });
  pool.on('connection', (conn) => {
    conn.query(`SET SESSION sql_mode = '${MYSQL8_SQL_MODE}', time_zone = '+00:00'`);
  });
  return new MysqlDb(pool, null);
}

function needsConversion(v: SqlScalar): boolean {
  return v instanceof Date || typeof v === 'bigint' || typeof v === 'boolean';
}

function bindable(params: Record<string, SqlScalar>): Record<string, unknown> {
  // Fast path: no value needs converting (the usual case: strings, numbers, nulls, decimals), so
  // the object is passed on as it is instead of being copied parameter by parameter.
  let convert = false;
  for (const k in params) {
    if (needsConversion(params[k])) {
      convert = true;
      break;
    }
  }
  if (!convert) return params;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (v instanceof Date) out[k] = toSqlDateTime(v);
    else if (typeof v === 'bigint') out[k] = v.toString();
    else if (typeof v === 'boolean') out[k] = v ? 1 : 0;
    else out[k] = v;
  }
  return out;
}

class MysqlDb implements Db {
  readonly dialect = 'mysql' as const;
  constructor(
    private readonly pool: Pool,
    private readonly conn: PoolConnection | null,
  ) {}

  private get runner(): Pool | PoolConnection {
    return this.conn ?? this.pool;
  }

  private async run(sql: string, params?: Params): Promise<unknown> {
    const expanded = expandArrayParams(sql, params);
    try {
      const [result] = await this.runner.query({ sql: expanded.sql, values: bindable(expanded.params) } as never);
      return result;
    } catch (e) {
      const err = e as { message: string; code?: string; errno?: number };
      throw new DbError(`${err.message} [${sqlPreview(sql)}]`, {
        code: err.code,
        errno: err.errno,
        sql: sqlPreview(sql),
        cause: e,
      });
    }
  }

  async query<T extends Row = Row>(sql: string, params?: Params): Promise<T[]> {
    const rows = await this.run(sql, params);
    if (!Array.isArray(rows)) throw new DbError(`statement returned no rows [${sqlPreview(sql)}]`);
    return rows as T[];
  }

  async execute(sql: string, params?: Params): Promise<ExecResult> {
    const r = (await this.run(sql, params)) as ResultSetHeader;
    return { affectedRows: r.affectedRows ?? 0, insertId: r.insertId || undefined };
  }

  async batch(sql: string, paramSets: readonly Params[]): Promise<void> {
    for (const p of paramSets) await this.run(sql, p);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    if (this.conn) throw new DbError('nested transactions are not supported');
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const result = await fn(new MysqlDb(this.pool, conn));
      await conn.commit();
      return result;
    } catch (e) {
      await conn.rollback().catch(() => undefined);
      throw e;
    } finally {
      conn.release();
    }
  }

  async close(): Promise<void> {
    if (!this.conn) await this.pool.end();
  }
}
