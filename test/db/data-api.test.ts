import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  DatabaseResumingException,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  StatementTimeoutException,
  UnsupportedResultException,
  type ExecuteStatementCommandInput,
} from '@aws-sdk/client-rds-data';
import {
  createDataApiDb,
  decimal,
  MAX_SQL_CHARS,
  parseFormattedRecords,
  type DataApiDbOptions,
} from '#shared/db/data-api.js';
import { DbError } from '#shared/db/port.js';

const resourceArn = 'arn:aws:rds:eu-west-1:123456789012:cluster:dualtrack';
const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:dualtrack-db-AbCdEf';
const QUERY_OPTIONS = {
  formatRecordsAs: 'JSON',
  resultSetOptions: { decimalReturnType: 'STRING', longReturnType: 'LONG' },
} as const;

const rds = mockClient(RDSDataClient);
const client = new RDSDataClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
let sleeps: number[] = [];

function makeDb(extra: Partial<DataApiDbOptions> = {}) {
  return createDataApiDb({ client, resourceArn, secretArn, sleep: async (ms) => void sleeps.push(ms), ...extra });
}

function executeInputs(): ExecuteStatementCommandInput[] {
  return rds.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input);
}

beforeEach(() => {
  rds.reset();
  sleeps = [];
});
afterAll(() => rds.restore());

describe('query', () => {
  it('sends JSON format with STRING decimals and parses nulls, decimals, datetimes, booleans and exact big integers', async () => {
    rds.on(ExecuteStatementCommand).resolves({
      formattedRecords:
        '[{"conversion_id":"12345","revenue":"12.500000","sale_amount":null,"converted_at":"2024-03-31 01:30:00.250","pages":7,' +
        '"is_event":true,"is_unique":false,"total":9007199254740993,"neg":-9007199254740993,"ratio":0.25,"raw":"{\\"a\\": 1}","note":"id 12345678901234567890"}]',
    });
    const rows = await makeDb().query('SELECT * FROM dt_everflow.conversions WHERE conversion_id = :id', {
      id: '12345',
    });
    expect(executeInputs()).toEqual([
      {
        resourceArn,
        secretArn,
        sql: 'SELECT * FROM dt_everflow.conversions WHERE conversion_id = :id',
        parameters: [{ name: 'id', value: { stringValue: '12345' } }],
        ...QUERY_OPTIONS,
      },
    ]);
    expect(rows).toStrictEqual([
      {
        conversion_id: '12345',
        revenue: '12.500000',
        sale_amount: null,
        converted_at: '2024-03-31 01:30:00.250',
        pages: 7,
        is_event: 1,
        is_unique: 0,
        total: '9007199254740993',
        neg: '-9007199254740993',
        ratio: 0.25,
        raw: '{"a": 1}',
        note: 'id 12345678901234567890',
      },
    ]);
  });

  it('fails clearly when the statement returns no result set', async () => {
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
    await expect(makeDb().query('UPDATE t SET a = 1')).rejects.toThrow(/returned no rows \[UPDATE t SET a = 1\]/);
  });

  it('parseFormattedRecords keeps safe numbers as numbers and leaves digits inside strings alone', () => {
    expect(
      parseFormattedRecords('[{"a":9007199254740991,"b":"9007199254740993","c":1.5e300,"d":12345678901234567.5}]'),
    ).toStrictEqual([{ a: 9007199254740991, b: '9007199254740993', c: 1.5e300, d: 12345678901234567.5 }]);
  });
});

describe('parameters', () => {
  it('maps every scalar type to the Data API field and type hint', async () => {
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
    await makeDb().execute('INSERT INTO t VALUES (:s, :d, :when, :n, :x, :yes, :none, :big, :huge)', {
      s: 'abc',
      d: decimal('12.50'),
      when: new Date('2024-03-31T01:30:00.250Z'),
      n: 42,
      x: 0.5,
      yes: true,
      none: null,
      big: 12345678901234567890n,
      huge: 2 ** 60,
      unused: 'not sent',
    });
    expect(executeInputs()[0].parameters).toEqual([
      { name: 's', value: { stringValue: 'abc' } },
      { name: 'd', value: { stringValue: '12.50' }, typeHint: 'DECIMAL' },
      { name: 'when', value: { stringValue: '2024-03-31 01:30:00.250' }, typeHint: 'TIMESTAMP' },
      { name: 'n', value: { longValue: 42 } },
      { name: 'x', value: { doubleValue: 0.5 } },
      { name: 'yes', value: { booleanValue: true } },
      { name: 'none', value: { isNull: true } },
      { name: 'big', value: { stringValue: '12345678901234567890' } },
      { name: 'huge', value: { doubleValue: 2 ** 60 } },
    ]);
  });

  it('expands array parameters into numbered IN-list parameters and sends no parameter for an empty list', async () => {
    rds.on(ExecuteStatementCommand).resolves({ formattedRecords: '[]' });
    const db = makeDb();
    await db.query('SELECT id FROM t WHERE id IN (:ids) AND s = :s', { ids: ['a', 'b', 'c'], s: 'x' });
    await db.query('SELECT id FROM t WHERE id IN (:ids)', { ids: [] });
    const [first, second] = executeInputs();
    expect(first.sql).toBe('SELECT id FROM t WHERE id IN (:ids__0, :ids__1, :ids__2) AND s = :s');
    expect(first.parameters).toEqual([
      { name: 'ids__0', value: { stringValue: 'a' } },
      { name: 'ids__1', value: { stringValue: 'b' } },
      { name: 'ids__2', value: { stringValue: 'c' } },
      { name: 's', value: { stringValue: 'x' } },
    ]);
    expect(second.sql).toBe('SELECT id FROM t WHERE id IN (NULL)');
    expect(second).not.toHaveProperty('parameters');
  });

  it('rejects a missing parameter, a non-finite number and a malformed decimal before any call', async () => {
    const db = makeDb();
    await expect(db.execute('UPDATE t SET a = :a WHERE id = :id', { a: 1 })).rejects.toThrow(
      /parameter :id is used by the statement but not given/,
    );
    await expect(db.execute('UPDATE t SET a = :a', { a: Number.NaN })).rejects.toThrow(
      /parameter :a is NaN, not a finite number/,
    );
    expect(() => decimal('12,50')).toThrow(/not a plain decimal number: "12,50"/);
    expect(rds.calls()).toHaveLength(0);
  });

  it('passes the default database and marks DDL continueAfterTimeout', async () => {
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 0 });
    await makeDb({ database: 'dt_core' }).execute('CREATE TABLE IF NOT EXISTS dt_core.x (a INT)');
    expect(executeInputs()).toEqual([
      {
        resourceArn,
        secretArn,
        database: 'dt_core',
        sql: 'CREATE TABLE IF NOT EXISTS dt_core.x (a INT)',
        continueAfterTimeout: true,
      },
    ]);
  });
});

describe('execute', () => {
  it('maps numberOfRecordsUpdated to affectedRows and generatedFields[0] to insertId', async () => {
    rds
      .on(ExecuteStatementCommand)
      .resolvesOnce({ numberOfRecordsUpdated: 3, generatedFields: [{ longValue: 41 }] })
      .resolvesOnce({ numberOfRecordsUpdated: 2 });
    const db = makeDb();
    expect(await db.execute('INSERT INTO t (a) VALUES (1), (2), (3)')).toEqual({ affectedRows: 3, insertId: 41 });
    expect(await db.execute('UPDATE t SET a = a + 1 WHERE a > 1')).toEqual({ affectedRows: 2, insertId: undefined });
  });
});

describe('SQL length limit', () => {
  it('rejects SQL over 65,536 characters with a DbError before any call, also when an IN list grows it', async () => {
    const db = makeDb();
    const long = `SELECT 1 FROM t WHERE a = '${'x'.repeat(MAX_SQL_CHARS)}'`;
    await expect(db.query(long)).rejects.toThrow(DbError);
    await expect(db.execute(long)).rejects.toThrow(/over the Data API's 65536-character limit/);
    await expect(db.batch(long, [{}])).rejects.toThrow(/65536-character limit/);
    const ids = Array.from({ length: 6000 }, (_, i) => `id${i}`);
    await expect(db.query('SELECT id FROM t WHERE id IN (:ids)', { ids })).rejects.toThrow(
      /characters after IN-list expansion/,
    );
    expect(rds.calls()).toHaveLength(0);
  });
});

describe('batch', () => {
  it('splits parameter sets into requests under maxRequestBytes, in order, none lost', async () => {
    rds.on(BatchExecuteStatementCommand).resolves({ updateResults: [] });
    const maxRequestBytes = 40 * 1024;
    const db = makeDb({ maxRequestBytes });
    const sets = Array.from({ length: 200 }, (_, i) => ({
      id: `conv-${i}`,
      payload: 'p'.repeat(500),
      amount: decimal(`${i}.25`),
    }));
    await db.batch('INSERT INTO t (id, payload, amount) VALUES (:id, :payload, :amount)', sets);
    const inputs = rds.commandCalls(BatchExecuteStatementCommand).map((c) => c.args[0].input);
    expect(inputs.length).toBeGreaterThan(3);
    for (const input of inputs) {
      expect(Buffer.byteLength(JSON.stringify(input))).toBeLessThanOrEqual(maxRequestBytes);
      expect(input).toMatchObject({
        resourceArn,
        secretArn,
        sql: 'INSERT INTO t (id, payload, amount) VALUES (:id, :payload, :amount)',
      });
    }
    const sent = inputs.flatMap((i) => i.parameterSets ?? []);
    expect(sent).toHaveLength(200);
    expect(sent[0]).toEqual([
      { name: 'id', value: { stringValue: 'conv-0' } },
      { name: 'payload', value: { stringValue: 'p'.repeat(500) } },
      { name: 'amount', value: { stringValue: '0.25' }, typeHint: 'DECIMAL' },
    ]);
    expect(sent.map((s) => s[0].value?.stringValue)).toEqual(sets.map((s) => s.id));
  });

  it('sends a small batch as one request and an empty one not at all', async () => {
    rds.on(BatchExecuteStatementCommand).resolves({ updateResults: [] });
    const db = makeDb();
    await db.batch('DELETE FROM t WHERE id = :id', []);
    expect(rds.calls()).toHaveLength(0);
    await db.batch('DELETE FROM t WHERE id = :id', [{ id: 'a' }, { id: 'b' }]);
    expect(rds.commandCalls(BatchExecuteStatementCommand).map((c) => c.args[0].input)).toEqual([
      {
        resourceArn,
        secretArn,
        sql: 'DELETE FROM t WHERE id = :id',
        parameterSets: [[{ name: 'id', value: { stringValue: 'a' } }], [{ name: 'id', value: { stringValue: 'b' } }]],
      },
    ]);
  });

  it('names the parameter set that alone exceeds the request budget, before any call', async () => {
    const db = makeDb({ maxRequestBytes: 20 * 1024 });
    await expect(
      db.batch('INSERT INTO t (a) VALUES (:a)', [{ a: 'small' }, { a: 'x'.repeat(30 * 1024) }]),
    ).rejects.toThrow(/parameter set 1 alone is \d+ bytes/);
    expect(rds.calls()).toHaveLength(0);
  });

  it('groups sets whose array parameters expand to different SQL into separate requests', async () => {
    rds.on(BatchExecuteStatementCommand).resolves({ updateResults: [] });
    await makeDb().batch('DELETE FROM t WHERE id IN (:ids)', [
      { ids: ['a', 'b'] },
      { ids: ['c', 'd'] },
      { ids: ['e'] },
    ]);
    const inputs = rds.commandCalls(BatchExecuteStatementCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => [i.sql, i.parameterSets?.length])).toEqual([
      ['DELETE FROM t WHERE id IN (:ids__0, :ids__1)', 2],
      ['DELETE FROM t WHERE id IN (:ids__0)', 1],
    ]);
  });
});

describe('transaction', () => {
  it('passes the transactionId to every call inside and commits', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-123' });
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1, formattedRecords: '[{"n":1}]' });
    rds.on(BatchExecuteStatementCommand).resolves({ updateResults: [] });
    rds.on(CommitTransactionCommand).resolves({ transactionStatus: 'Transaction Committed' });
    const result = await makeDb({ database: 'dt_core' }).transaction(async (tx) => {
      await tx.execute('UPDATE t SET a = 1 WHERE id = :id', { id: 'x' });
      const rows = await tx.query('SELECT COUNT(*) AS n FROM t');
      await tx.batch('DELETE FROM t WHERE id = :id', [{ id: 'y' }]);
      return rows[0].n;
    });
    expect(result).toBe(1);
    expect(rds.commandCalls(BeginTransactionCommand).map((c) => c.args[0].input)).toEqual([
      { resourceArn, secretArn, database: 'dt_core' },
    ]);
    expect(executeInputs().map((i) => i.transactionId)).toEqual(['tx-123', 'tx-123']);
    expect(rds.commandCalls(BatchExecuteStatementCommand)[0].args[0].input.transactionId).toBe('tx-123');
    expect(rds.commandCalls(CommitTransactionCommand).map((c) => c.args[0].input)).toEqual([
      { resourceArn, secretArn, transactionId: 'tx-123' },
    ]);
    expect(rds.commandCalls(RollbackTransactionCommand)).toHaveLength(0);
  });

  it('rolls back and rethrows when the function throws, without committing', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-9' });
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
    rds.on(RollbackTransactionCommand).resolves({ transactionStatus: 'Rollback Complete' });
    await expect(
      makeDb().transaction(async (tx) => {
        await tx.execute('UPDATE t SET a = 2');
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect(rds.commandCalls(RollbackTransactionCommand).map((c) => c.args[0].input)).toEqual([
      { resourceArn, secretArn, transactionId: 'tx-9' },
    ]);
    expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(0);
  });

  it('refuses nested transactions', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
    rds.on(RollbackTransactionCommand).resolves({});
    await expect(makeDb().transaction((tx) => tx.transaction(async () => 1))).rejects.toThrow(
      /nested transactions are not supported/,
    );
    expect(rds.commandCalls(BeginTransactionCommand)).toHaveLength(1);
  });
});

describe('errors and retries', () => {
  const resuming = () =>
    new DatabaseResumingException({ message: 'The database is resuming. Retry the request.', $metadata: {} });

  it('retries DatabaseResumingException with exponential backoff, without real waiting', async () => {
    rds
      .on(ExecuteStatementCommand)
      .rejectsOnce(resuming())
      .rejectsOnce(resuming())
      .rejectsOnce(resuming())
      .resolves({ formattedRecords: '[{"ok":1}]' });
    expect(await makeDb().query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    expect(sleeps).toEqual([500, 1000, 2000]);
    expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(4);
  });

  it('gives up after resumeTimeoutMs of backoff with a DbError saying the database is still resuming', async () => {
    rds.on(ExecuteStatementCommand).rejects(resuming());
    const err = await makeDb({ resumeTimeoutMs: 3_000 })
      .execute('UPDATE t SET a = 1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DbError);
    expect((err as DbError).message).toMatch(/database still resuming after 3 s.*\[UPDATE t SET a = 1\]/);
    expect((err as DbError).options.code).toBe('DatabaseResumingException');
    expect(sleeps).toEqual([500, 1000, 1500]);
    expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(4);
  });

  it('retries a resuming BeginTransaction too', async () => {
    rds.on(BeginTransactionCommand).rejectsOnce(resuming()).resolves({ transactionId: 'tx-r' });
    rds.on(CommitTransactionCommand).resolves({});
    expect(await makeDb().transaction(async () => 'done')).toBe('done');
    expect(sleeps).toEqual([500]);
  });

  it('never retries DatabaseErrorException and maps it to a DbError with the message and a SQL preview', async () => {
    rds
      .on(ExecuteStatementCommand)
      .rejects(new DatabaseErrorException({ message: "Duplicate entry 'c-1' for key 'PRIMARY'", $metadata: {} }));
    const err = await makeDb()
      .execute('INSERT INTO dt_everflow.conversions (conversion_id) VALUES (:id)', { id: 'c-1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DbError);
    const dbErr = err as DbError;
    expect(dbErr.message).toBe(
      "DatabaseErrorException: Duplicate entry 'c-1' for key 'PRIMARY' [INSERT INTO dt_everflow.conversions (conversion_id) VALUES (:id)]",
    );
    expect(dbErr.options).toMatchObject({
      code: 'ER_DUP_ENTRY',
      errno: 1062,
      sql: 'INSERT INTO dt_everflow.conversions (conversion_id) VALUES (:id)',
    });
    expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('does not retry other errors either (StatementTimeoutException)', async () => {
    rds
      .on(ExecuteStatementCommand)
      .rejects(new StatementTimeoutException({ message: 'timed out', $metadata: {}, dbConnectionId: 1 }));
    await expect(makeDb().query('SELECT SLEEP(100)')).rejects.toThrow(
      /^StatementTimeoutException: timed out \[SELECT SLEEP\(100\)\]$/,
    );
    expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
  });
});

describe('paging over the 1 MiB response limit', () => {
  const tooLarge = () =>
    new UnsupportedResultException({
      message: 'Database returned more than the allowed response size limit',
      $metadata: {},
    });
  const all = Array.from({ length: 2_500 }, (_, i) => ({
    id: i + 1,
    name: `affiliate ${i + 1}`,
    payout: `${i}.500000`,
  }));
  /** Answers like the Data API over a table: too large when a page holds more than 700 rows. */
  function serveTable() {
    rds.on(ExecuteStatementCommand).callsFake(async (input: ExecuteStatementCommandInput) => {
      const m = /\nLIMIT (\d+) OFFSET (\d+)$/.exec(input.sql ?? '');
      const rows = m ? all.slice(Number(m[2]), Number(m[2]) + Number(m[1])) : all;
      if (rows.length > 700) throw tooLarge();
      return { formattedRecords: JSON.stringify(rows) };
    });
  }

  it('re-runs an ordered SELECT as LIMIT/OFFSET pages and concatenates them', async () => {
    serveTable();
    const sql =
      'SELECT id, name, payout FROM dt_everflow.affiliates WHERE status = :s ORDER BY id -- newest first? no: by id';
    const rows = await makeDb({ pageTargetBytes: 20_000 }).query(sql, { s: 'active' });
    expect(rows).toEqual(all);
    const sqls = executeInputs().map((i) => i.sql);
    expect(sqls[0]).toBe(sql);
    expect(sqls[1]).toBe(`${sql}\nLIMIT 1000 OFFSET 0`);
    expect(sqls[2]).toBe(`${sql}\nLIMIT 500 OFFSET 0`);
    // Later pages are sized from the bytes seen (20,000 / ~46 bytes per row) and halved when still too large.
    expect(sqls.slice(3).every((s) => /\nLIMIT \d+ OFFSET \d+$/.test(s ?? ''))).toBe(true);
    for (const i of executeInputs()) expect(i.parameters).toEqual([{ name: 's', value: { stringValue: 'active' } }]);
  });

  it('pages inside a transaction with its transactionId', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-p' });
    rds.on(CommitTransactionCommand).resolves({});
    serveTable();
    const rows = await makeDb().transaction((tx) => tx.query('SELECT id, name, payout FROM t ORDER BY id'));
    expect(rows).toHaveLength(2_500);
    expect(new Set(executeInputs().map((i) => i.transactionId))).toEqual(new Set(['tx-p']));
  });

  it('refuses to page a SELECT without a top-level ORDER BY, or with its own LIMIT, naming why', async () => {
    serveTable();
    const db = makeDb();
    await expect(db.query('SELECT id FROM t WHERE id IN (SELECT id FROM u ORDER BY id)')).rejects.toThrow(
      /it has no top-level ORDER BY/,
    );
    await expect(db.query('SELECT id FROM t ORDER BY id LIMIT 5000')).rejects.toThrow(
      /it already has a top-level LIMIT/,
    );
    await expect(db.query("SELECT id FROM t WHERE name = 'ORDER BY x' ")).rejects.toThrow(/no top-level ORDER BY/);
    expect(executeInputs()).toHaveLength(3);
  });
});
