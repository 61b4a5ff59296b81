import { randomBytes } from 'node:crypto';
import {
  BadRequestException,
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  StatementTimeoutException,
  TransactionNotFoundException,
  UnsupportedResultException,
  type BatchExecuteStatementCommandInput,
  type ExecuteStatementCommandInput,
  type ExecuteStatementCommandOutput,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import mysql from 'mysql2/promise';
import type { FieldPacket, Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import { MYSQL8_SQL_MODE } from '#shared/db/mysql.js';
import { namedParamsIn } from '#shared/db/params.js';

/**
 * A fake RDS Data API that executes what it receives on real MariaDB and answers in the Data
 * API's response format, so `createDataApiDb` can be tested end to end without AWS:
 * - ExecuteStatement: `:name` parameters bound from SqlParameter fields (typeHint DECIMAL binds a
 *   DECIMAL literal, TIMESTAMP/DATE/TIME are format-checked as the API does); SELECT results as
 *   `formattedRecords` (a JSON string: DECIMAL as string unless decimalReturnType DOUBLE_OR_LONG,
 *   integers as exact JSON number literals or strings with longReturnType STRING, TINYINT(1) as
 *   true/false, DATETIME as `YYYY-MM-DD HH:MM:SS[.fff]`, JSON and text as strings, binary as
 *   base64, NULL as null); DML as numberOfRecordsUpdated + generatedFields (AUTO_INCREMENT id).
 * - BatchExecuteStatement: one execution per parameter set, updateResults per set.
 * - Begin/Commit/RollbackTransaction: one dedicated mysql2 connection per transactionId.
 * - Limits enforced like the real API: SQL ≤ 65,536 chars, no array parameters, every referenced
 *   parameter given and no unused one, response ≤ `maxResponseBytes` (UnsupportedResultException).
 * - MariaDB errors become DatabaseErrorException with the server's message.
 * Only `formatRecordsAs: 'JSON'` result sets are produced (what our adapter asks for).
 */

export interface DataApiOnMariaDbOptions {
  url?: string;
  /** The response size limit to enforce on formattedRecords (real API: 1 MiB). Tests shrink it to exercise paging. */
  maxResponseBytes?: number;
}

export interface DataApiOnMariaDb {
  client: RDSDataClient;
  mock: AwsClientStub<RDSDataClient>;
  /** Makes the next `times` ExecuteStatement/BatchExecuteStatement calls fail with `error` before touching the database. */
  failNext(error: Error, times?: number): void;
  /**
   * ExecuteStatement calls whose SQL matches `sql` time out, as the real API does after 45 s: the
   * call fails with StatementTimeoutException. With `continueAfterTimeout` the statement keeps
   * running on the server: it is held back until `finishTimedOut()` runs it (the server finishing
   * later); without, it is dropped (the server cancels it).
   */
  timeOutOn(sql: RegExp): void;
  /** Runs the statements held back by timeOutOn (in order; their errors are dropped); returns how many. */
  finishTimedOut(): Promise<number>;
  openTransactions(): number;
  close(): Promise<void>;
}

export const FAKE_RESOURCE_ARN = 'arn:aws:rds:us-east-1:123456789012:cluster:fake-cluster';
export const FAKE_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:fake-secret-AbCdEf';

const T = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  BIT: 16,
  NEWDECIMAL: 246,
} as const;
const INTEGER_TYPES = new Set<number>([T.TINY, T.SHORT, T.LONG, T.LONGLONG, T.INT24, T.YEAR]);
const BINARY_CHARSET = 63;

/**
 * Routes every Data API command that `client` sends (a module's shared client, as the Lambda
 * handlers use) to the fake; returns the stub (`restore()` when done).
 */
export function routeToFake(client: RDSDataClient, fake: DataApiOnMariaDb): AwsClientStub<RDSDataClient> {
  const stub = mockClient(client);
  const commands = [
    ExecuteStatementCommand,
    BatchExecuteStatementCommand,
    BeginTransactionCommand,
    CommitTransactionCommand,
    RollbackTransactionCommand,
  ] as unknown as (new (
    input: unknown,
  ) => ExecuteStatementCommand)[];
  for (const Cmd of commands) stub.on(Cmd).callsFake((input: unknown) => fake.client.send(new Cmd(input)));
  return stub;
}

export function createDataApiOnMariaDb(options: DataApiOnMariaDbOptions = {}): DataApiOnMariaDb {
  const url = new URL(options.url ?? 'mysql://root@127.0.0.1:3306');
  const maxResponseBytes = options.maxResponseBytes ?? 1024 * 1024;
  const pool: Pool = mysql.createPool({
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password || ''),
    namedPlaceholders: true,
    dateStrings: true,
    supportBigNumbers: true,
    // Every BIGINT as its exact digits, so the fake can write them as exact JSON literals.
    bigNumberStrings: true,
    decimalNumbers: false,
    jsonStrings: true,
    timezone: 'Z',
    connectionLimit: 6,
  });
  // Aurora MySQL 3 is MySQL 8: strict sql_mode, and the cluster runs in UTC.
  pool.on('connection', (conn) => {
    conn.query(`SET SESSION sql_mode = '${MYSQL8_SQL_MODE}', time_zone = '+00:00'`);
  });

  const client = new RDSDataClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
  });
  const mock = mockClient(client);
  const transactions = new Map<string, PoolConnection>();
  const failures: Error[] = [];
  const timeOutPatterns: RegExp[] = [];
  const heldBack: string[] = [];

  function checkArns(input: { resourceArn?: string; secretArn?: string }): void {
    if (!input.resourceArn || !input.secretArn) throw badRequest('resourceArn and secretArn are required');
  }

  async function withConnection<R>(
    input: { transactionId?: string; database?: string },
    fn: (c: PoolConnection) => Promise<R>,
  ): Promise<R> {
    if (input.transactionId) {
      const conn = transactions.get(input.transactionId);
      if (!conn)
        throw new TransactionNotFoundException({
          message: `Transaction ${input.transactionId} is not found`,
          $metadata: {},
        });
      return fn(conn);
    }
    const conn = await pool.getConnection();
    try {
      if (input.database) await conn.query(`USE \`${input.database.replace(/`/g, '')}\``);
      return await fn(conn);
    } finally {
      conn.release();
    }
  }

  async function run(
    conn: PoolConnection,
    sql: string,
    parameters: SqlParameter[] | undefined,
  ): Promise<[unknown, FieldPacket[] | undefined]> {
    if (sql.length > 65_536)
      throw badRequest(
        `1 validation error detected: Value at 'sql' failed to satisfy constraint: Member must have length less than or equal to 65536`,
      );
    const values = bindValues(sql, parameters ?? []);
    try {
      return (await conn.query({ sql, values } as never)) as [unknown, FieldPacket[] | undefined];
    } catch (e) {
      const err = e as { message?: string; sqlMessage?: string };
      throw new DatabaseErrorException({ message: err.sqlMessage ?? err.message ?? String(e), $metadata: {} });
    }
  }

  mock
    .on(ExecuteStatementCommand)
    .callsFake(async (input: ExecuteStatementCommandInput): Promise<ExecuteStatementCommandOutput> => {
      checkArns(input);
      const injected = failures.shift();
      if (injected) throw injected;
      if (!input.sql) throw badRequest('sql is required');
      if (timeOutPatterns.some((p) => p.test(input.sql!))) {
        if (input.continueAfterTimeout) heldBack.push(input.sql);
        throw new StatementTimeoutException({ message: 'Request timed out', $metadata: {} });
      }
      const [result, fields] = await withConnection(input, (c) => run(c, input.sql!, input.parameters));
      if (Array.isArray(result)) {
        if (input.formatRecordsAs !== 'JSON')
          throw new Error('data-api-on-mariadb: only formatRecordsAs JSON result sets are implemented');
        const formattedRecords = formatRecords(result as Record<string, unknown>[], fields ?? [], input);
        if (Buffer.byteLength(formattedRecords) > maxResponseBytes) {
          throw new UnsupportedResultException({
            message: 'Database returned more than the allowed response size limit',
            $metadata: {},
          });
        }
        return { $metadata: {}, numberOfRecordsUpdated: 0, formattedRecords };
      }
      const header = result as ResultSetHeader;
      return {
        $metadata: {},
        numberOfRecordsUpdated: header.affectedRows ?? 0,
        generatedFields: header.insertId ? [{ longValue: Number(header.insertId) }] : [],
      };
    });

  mock.on(BatchExecuteStatementCommand).callsFake(async (input: BatchExecuteStatementCommandInput) => {
    checkArns(input);
    const injected = failures.shift();
    if (injected) throw injected;
    if (!input.sql) throw badRequest('sql is required');
    const sets = input.parameterSets && input.parameterSets.length > 0 ? input.parameterSets : [[]];
    const updateResults = await withConnection(input, async (c) => {
      const out: { generatedFields: { longValue: number }[] }[] = [];
      for (const set of sets) {
        const [result] = await run(c, input.sql!, set);
        const header = result as ResultSetHeader;
        out.push({ generatedFields: header.insertId ? [{ longValue: Number(header.insertId) }] : [] });
      }
      return out;
    });
    return { $metadata: {}, updateResults };
  });

  mock
    .on(BeginTransactionCommand)
    .callsFake(async (input: { resourceArn?: string; secretArn?: string; database?: string }) => {
      checkArns(input);
      const conn = await pool.getConnection();
      if (input.database) await conn.query(`USE \`${input.database.replace(/`/g, '')}\``);
      await conn.beginTransaction();
      const transactionId = randomBytes(48).toString('base64');
      transactions.set(transactionId, conn);
      return { $metadata: {}, transactionId };
    });

  async function finish(input: { resourceArn?: string; secretArn?: string; transactionId?: string }, commit: boolean) {
    checkArns(input);
    const conn = input.transactionId ? transactions.get(input.transactionId) : undefined;
    if (!conn)
      throw new TransactionNotFoundException({
        message: `Transaction ${input.transactionId} is not found`,
        $metadata: {},
      });
    transactions.delete(input.transactionId!);
    try {
      if (commit) await conn.commit();
      else await conn.rollback();
    } finally {
      conn.release();
    }
    return { $metadata: {}, transactionStatus: commit ? 'Transaction Committed' : 'Rollback Complete' };
  }
  mock.on(CommitTransactionCommand).callsFake((input) => finish(input, true));
  mock.on(RollbackTransactionCommand).callsFake((input) => finish(input, false));

  return {
    client,
    mock,
    failNext(error: Error, times = 1) {
      for (let i = 0; i < times; i++) failures.push(error);
    },
    timeOutOn(sql: RegExp) {
      timeOutPatterns.push(sql);
    },
    async finishTimedOut() {
      const n = heldBack.length;
      // Nobody awaits these any more: a statement that fails on the server (a re-sent ADD INDEX
      // finding the index there) fails unseen, as it would on Aurora.
      while (heldBack.length > 0) await pool.query(heldBack.shift()!).catch(() => undefined);
      return n;
    },
    openTransactions: () => transactions.size,
    async close() {
      for (const conn of transactions.values()) {
        await conn.rollback().catch(() => undefined);
        conn.release();
      }
      transactions.clear();
      mock.restore();
      await pool.end();
    },
  };
}

function badRequest(message: string): Error {
  return new BadRequestException({ message, $metadata: {} });
}

/** SqlParameters → mysql2 named values, with the checks the Data API makes. */
function bindValues(sql: string, parameters: SqlParameter[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const p of parameters) {
    if (!p.name) throw badRequest('parameter without a name');
    const v = p.value ?? {};
    const set = Object.entries(v).filter(([, x]) => x !== undefined);
    if (set.length !== 1) throw badRequest(`parameter ${p.name}: exactly one value field is required`);
    const [kind, raw] = set[0];
    if (kind === 'arrayValue') throw badRequest('Array parameters are not supported.');
    let value: unknown;
    if (kind === 'isNull') value = null;
    else if (kind === 'stringValue') value = raw;
    else if (kind === 'longValue' || kind === 'doubleValue') value = raw as number;
    else if (kind === 'booleanValue') value = raw as boolean;
    else if (kind === 'blobValue') value = Buffer.from(raw as Uint8Array);
    else throw badRequest(`parameter ${p.name}: unknown value field ${kind}`);
    if (p.typeHint) {
      if (typeof value !== 'string')
        throw badRequest(`parameter ${p.name}: typeHint ${p.typeHint} needs a stringValue`);
      const formats: Record<string, RegExp> = {
        DECIMAL: /^[+-]?\d+(\.\d+)?$/,
        TIMESTAMP: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/,
        DATE: /^\d{4}-\d{2}-\d{2}$/,
        TIME: /^\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/,
      };
      const f = formats[p.typeHint];
      if (f && !f.test(value))
        throw badRequest(`parameter ${p.name}: ${JSON.stringify(value)} is not a valid ${p.typeHint}`);
      // A DECIMAL-typed value, not a string: `:a + :b` is then exact decimal arithmetic, as in the API.
      if (p.typeHint === 'DECIMAL') {
        const literal = value;
        value = { toSqlString: () => literal };
      }
    }
    values[p.name] = value;
  }
  const used = namedParamsIn(sql);
  for (const name of used) if (!(name in values)) throw badRequest(`No value specified for parameter ${name}`);
  for (const name of Object.keys(values))
    if (!used.includes(name)) throw badRequest(`Parameter ${name} is not used in the SQL statement`);
  return values;
}

/** Rows → the Data API's JSON text, written by hand so integers stay exact number literals. */
function formatRecords(
  rows: Record<string, unknown>[],
  fields: FieldPacket[],
  input: ExecuteStatementCommandInput,
): string {
  const longAsString = input.resultSetOptions?.longReturnType === 'STRING';
  const decimalAsNumber = input.resultSetOptions?.decimalReturnType === 'DOUBLE_OR_LONG';
  const out: string[] = [];
  for (const row of rows) {
    const parts: string[] = [];
    for (const f of fields) {
      const v = row[f.name];
      parts.push(`${JSON.stringify(f.name)}:${formatValue(v, f, longAsString, decimalAsNumber)}`);
    }
    out.push(`{${parts.join(',')}}`);
  }
  return `[${out.join(',')}]`;
}

function formatValue(v: unknown, f: FieldPacket, longAsString: boolean, decimalAsNumber: boolean): string {
  if (v === null || v === undefined) return 'null';
  const type = f.columnType ?? -1;
  if (type === T.TINY && f.columnLength === 1) return Number(v) !== 0 ? 'true' : 'false';
  if (INTEGER_TYPES.has(type)) return longAsString ? JSON.stringify(String(v)) : String(v);
  if (type === T.NEWDECIMAL || type === T.DECIMAL)
    return decimalAsNumber ? String(Number(v)) : JSON.stringify(String(v));
  if (type === T.FLOAT || type === T.DOUBLE) return JSON.stringify(Number(v));
  if (type === T.BIT && Buffer.isBuffer(v))
    return f.columnLength === 1 ? (v[0] !== 0 ? 'true' : 'false') : JSON.stringify(v.toString('base64'));
  if (Buffer.isBuffer(v))
    return JSON.stringify(f.characterSet === BINARY_CHARSET ? v.toString('base64') : v.toString('utf8'));
  return JSON.stringify(String(v));
}
