import { createHash, randomBytes } from 'node:crypto';
import { ExecuteStatementCommand } from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMysqlDb } from '#shared/db/mysql.js';
import { createDataApiDb } from '#shared/db/data-api.js';
import { decimal, type Db, type Params } from '#shared/db/port.js';
import { dbNames, type DbNames } from '#shared/db/names.js';
import { loadMigrationFiles, migrate } from '#shared/db/migrate.js';
import { DbRateLimiter } from '#shared/platforms/rate-limit.js';
import {
  createDataApiOnMariaDb,
  FAKE_RESOURCE_ARN,
  FAKE_SECRET_ARN,
  type DataApiOnMariaDb,
} from '../helpers/data-api-on-mariadb.js';

/**
 * The same repository-level suite on both adapters of the database port: mysql2 on MariaDB, and
 * the Data API adapter talking to a fake Data API that executes on the same MariaDB. Whatever
 * repository code sees must not depend on which adapter runs it; the last block compares the
 * values each run observed.
 */

const URL = 'mysql://root@127.0.0.1:3306';
const PLATFORMS = ['everflow', 'cake'];

function randomPrefix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `t${Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('')}`;
}

interface Adapter {
  name: 'mysql2' | 'data-api';
  open(): { db: Db; fake?: DataApiOnMariaDb };
}

const adapters: Adapter[] = [
  { name: 'mysql2', open: () => ({ db: createMysqlDb(URL) }) },
  {
    name: 'data-api',
    open: () => {
      // A 64 KiB response limit instead of 1 MiB, so the large-SELECT test below pages with little data.
      const fake = createDataApiOnMariaDb({ url: URL, maxResponseBytes: 64 * 1024 });
      const db = createDataApiDb({
        client: fake.client,
        resourceArn: FAKE_RESOURCE_ARN,
        secretArn: FAKE_SECRET_ARN,
        pageTargetBytes: 32 * 1024,
        sleep: async () => {},
      });
      return { db, fake };
    },
  },
];

/** What each adapter's run observed, compared across adapters at the end. */
const observed: Record<string, Record<string, unknown>> = {};

const admin = createMysqlDb(URL);
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) {
    const dbs = await admin.query<{ name: string }>(
      `SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :like`,
      { like: `${p}\\_%` },
    );
    for (const { name } of dbs) await admin.execute(`DROP DATABASE IF EXISTS ${name}`);
  }
  await admin.close();
});

function conversion(i: number, overrides: Partial<Record<string, unknown>> = {}): Params {
  return {
    id: `conv-${i}`,
    click: i % 2 === 0 ? `clk-${i}` : null,
    at: new Date(Date.UTC(2024, 2, 31, 0, 59, 59, 999) + i * 3_600_000),
    aff: `aff-${i % 3}`,
    offer: '00042',
    ev: i % 2 === 0,
    status: 'approved',
    rev: decimal(`${i}.125000`),
    pay: decimal(`${i}.100000`),
    sale: i % 3 === 0 ? null : decimal(`${i * 10}.990000`),
    cur: 'EUR',
    raw: JSON.stringify({ id: `conv-${i}`, amount: `${i}.125`, tags: ['a', 'ü'] }),
    seen: new Date('2024-04-01T00:00:00.000Z'),
    upd: new Date('2024-04-01T00:00:00.000Z'),
    ...overrides,
  } as Params;
}

function upsertSql(names: DbNames, platform: string): string {
  return `INSERT INTO ${names.platform(platform)}.conversions
      (conversion_id, click_id, converted_at, affiliate_id, offer_id, is_event, status, revenue, payout, sale_amount, currency, raw, first_seen_at, updated_at)
    VALUES (:id, :click, :at, :aff, :offer, :ev, :status, :rev, :pay, :sale, :cur, :raw, :seen, :upd)
    ON DUPLICATE KEY UPDATE
      click_id = VALUES(click_id), converted_at = VALUES(converted_at), affiliate_id = VALUES(affiliate_id), offer_id = VALUES(offer_id),
      is_event = VALUES(is_event), status = VALUES(status), revenue = VALUES(revenue), payout = VALUES(payout),
      sale_amount = VALUES(sale_amount), currency = VALUES(currency), raw = VALUES(raw),
      first_seen_at = LEAST(first_seen_at, VALUES(first_seen_at)), updated_at = VALUES(updated_at)`;
}

describe.each(adapters)('$name adapter', (adapter) => {
  const prefix = randomPrefix();
  prefixes.push(prefix);
  const names = dbNames(prefix);
  const seen: Record<string, unknown> = (observed[adapter.name] = {});
  let db: Db;
  let fake: DataApiOnMariaDb | undefined;

  beforeAll(() => {
    ({ db, fake } = adapter.open());
  });
  afterAll(async () => {
    await db.close();
    await fake?.close();
  });

  async function tableDigest(table: string): Promise<{ checksum: unknown; digest: string; rows: number }> {
    const [c] = await db.query<{ Checksum: unknown }>(`CHECKSUM TABLE ${table}`);
    const rows = await db.query(`SELECT * FROM ${table} ORDER BY conversion_id`);
    return {
      checksum: c.Checksum,
      digest: createHash('sha256').update(JSON.stringify(rows)).digest('hex'),
      rows: rows.length,
    };
  }

  it('migrate() creates the databases, and a second run applies nothing', async () => {
    const first = await migrate(db, names, PLATFORMS);
    expect(first.created.sort()).toEqual(
      [names.core, names.reporting, names.platform('everflow'), names.platform('cake')].sort(),
    );
    const files = loadMigrationFiles();
    const expected = files.flatMap((f) =>
      f.scope === 'core' ? [`${names.core} ${f.file}`] : PLATFORMS.map((p) => `${names.platform(p)} ${f.file}`),
    );
    expect(first.applied.map((a) => `${a.database} ${a.file}`).sort()).toEqual(expected.sort());
    const tables = await db.query<{ t: string }>(
      `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (:dbs) AND TABLE_NAME IN ('conversions', 'rate_limits', 'schema_migrations') ORDER BY t`,
      { dbs: [names.core, names.platform('everflow')] },
    );
    expect(tables.map((r) => r.t)).toEqual([
      `${names.core}.rate_limits`,
      `${names.core}.schema_migrations`,
      `${names.platform('everflow')}.conversions`,
    ]);

    const second = await migrate(db, names, PLATFORMS);
    expect(second).toMatchObject({ created: [], applied: [] });
    const [count] = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${names.core}.schema_migrations`);
    expect(count.n).toBe(first.applied.length);
    seen.migrations = count.n;
    expect(db.dialect).toBe(adapter.name === 'mysql2' ? 'mysql' : 'data-api');
    if (fake) expect(fake.mock.commandCalls(ExecuteStatementCommand).length).toBeGreaterThan(10);
  });

  it('an ON DUPLICATE KEY UPDATE upsert run twice leaves an identical table', async () => {
    const table = `${names.platform('everflow')}.conversions`;
    const rows = Array.from({ length: 6 }, (_, i) => conversion(i + 1));
    await db.batch(upsertSql(names, 'everflow'), rows);
    const once = await tableDigest(table);
    await db.batch(upsertSql(names, 'everflow'), rows);
    const twice = await tableDigest(table);
    expect(once.rows).toBe(6);
    expect(twice).toEqual(once);
    // The digest is not blind: one changed amount changes it.
    await db.execute(upsertSql(names, 'everflow'), conversion(3, { rev: decimal('3.125001') }));
    expect((await tableDigest(table)).checksum).not.toEqual(once.checksum);
    await db.execute(upsertSql(names, 'everflow'), conversion(3));
    expect(await tableDigest(table)).toEqual(once);
    seen.upsert = once;
  });

  it('expands IN lists, including an empty one', async () => {
    const table = `${names.platform('everflow')}.conversions`;
    const hit = await db.query<{ conversion_id: string }>(
      `SELECT conversion_id FROM ${table} WHERE conversion_id IN (:ids) AND offer_id = :offer ORDER BY conversion_id`,
      {
        ids: ['conv-2', 'conv-4', 'conv-404'],
        offer: '00042',
      },
    );
    expect(hit.map((r) => r.conversion_id)).toEqual(['conv-2', 'conv-4']);
    expect(await db.query(`SELECT conversion_id FROM ${table} WHERE conversion_id IN (:ids)`, { ids: [] })).toEqual([]);
    const [n] = await db.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM ${table} WHERE affiliate_id IN (:a) AND is_event IN (:e)`,
      { a: ['aff-1', 'aff-2'], e: [true] },
    );
    expect(n.n).toBe(2); // conv-2 (aff-2, even) and conv-4 (aff-1, even)
    seen.inList = hit;
  });

  it('round-trips DECIMAL, DATETIME, NULL, JSON, TINYINT(1) and big integers to the same values', async () => {
    const table = `${names.platform('cake')}.conversions`;
    const raw = '{"amount": "1234567890.123456", "tags": ["a", "ü"], "n": null}';
    await db.execute(upsertSql(names, 'cake'), {
      ...conversion(7),
      id: 'rt-1',
      at: new Date('2024-10-27T00:30:00.250Z'),
      rev: decimal('1234567890.123456'),
      pay: decimal('-0.000001'),
      sale: null,
      click: null,
      raw,
      ev: true,
    });
    const rows = await db.query(
      `SELECT conversion_id, converted_at, clicked_at, revenue, payout, sale_amount, raw, is_event, first_seen_at FROM ${table} WHERE converted_at = :at`,
      { at: new Date('2024-10-27T00:30:00.250Z') },
    );
    expect(rows).toStrictEqual([
      {
        conversion_id: 'rt-1',
        converted_at: '2024-10-27 00:30:00.250',
        clicked_at: null,
        revenue: '1234567890.123456',
        payout: '-0.000001',
        sale_amount: null,
        raw,
        is_event: 1,
        first_seen_at: '2024-04-01 00:00:00.000',
      },
    ]);
    expect(JSON.parse(rows[0].raw as string)).toEqual({ amount: '1234567890.123456', tags: ['a', 'ü'], n: null });
    const [calc] = await db.query(
      `SELECT :a + :b AS dec_sum, CAST(:big AS SIGNED) AS big, COUNT(*) AS n, SUM(revenue) AS total, MAX(converted_at) AS latest, CAST(NULL AS DATETIME) AS nothing, :id AS digits FROM ${table}`,
      { a: decimal('0.1'), b: decimal('0.2'), big: 9007199254740993n, id: '000123' },
    );
    expect(calc).toStrictEqual({
      dec_sum: '0.3',
      big: '9007199254740993',
      n: 1,
      total: '1234567890.123456',
      latest: '2024-10-27 00:30:00.250',
      nothing: null,
      digits: '000123',
    });
    seen.roundTrip = { rows, calc };
  });

  it('commits a transaction, and rolls one back when it throws', async () => {
    const table = `${names.core}.watermarks`;
    const insert = `INSERT INTO ${table} (platform, stream, watermark, updated_at) VALUES (:p, :s, :w, :u)`;
    const w = new Date('2024-05-01T12:00:00.000Z');
    const count = async (p: string) =>
      (await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE platform = :p`, { p }))[0].n;

    const inside = await db.transaction(async (tx) => {
      await tx.execute(insert, { p: 'everflow', s: 'conversions', w, u: w });
      await tx.execute(insert, { p: 'everflow', s: 'clicks', w, u: w });
      const seenInside = await tx.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE platform = :p`, {
        p: 'everflow',
      });
      // Not committed yet: another session does not see it.
      expect(await count('everflow')).toBe(0);
      return seenInside[0].n;
    });
    expect(inside).toBe(2);
    expect(await count('everflow')).toBe(2);

    await expect(
      db.transaction(async (tx) => {
        await tx.execute(insert, { p: 'cake', s: 'conversions', w, u: w });
        await tx.execute(`UPDATE ${table} SET watermark = :w WHERE platform = 'everflow'`, {
          w: new Date('2030-01-01T00:00:00Z'),
        });
        throw new Error('loader failed half-way');
      }),
    ).rejects.toThrow('loader failed half-way');
    expect(await count('cake')).toBe(0);
    const marks = await db.query(`SELECT stream, watermark FROM ${table} WHERE platform = 'everflow' ORDER BY stream`);
    expect(marks).toEqual([
      { stream: 'clicks', watermark: '2024-05-01 12:00:00.000' },
      { stream: 'conversions', watermark: '2024-05-01 12:00:00.000' },
    ]);
    // A failing statement inside a transaction rolls back and surfaces as a DbError naming the duplicate.
    await expect(db.transaction((tx) => tx.execute(insert, { p: 'everflow', s: 'clicks', w, u: w }))).rejects.toThrow(
      /Duplicate entry/,
    );
    if (fake) expect(fake.openTransactions()).toBe(0);
    seen.transactions = marks;
  });

  it('returns a SELECT larger than the response limit whole and in order (the Data API adapter pages it)', async () => {
    const table = `${names.platform('cake')}.affiliates`;
    const sets = Array.from({ length: 400 }, (_, i) => ({
      id: `aff-${String(i).padStart(4, '0')}`,
      name: `Affiliate ${i} ${'n'.repeat(200)}`,
      status: i % 5 === 0 ? 'inactive' : 'active',
      email: i % 7 === 0 ? null : `a${i}@example.test`,
      upd: new Date(Date.UTC(2024, 0, 1, 0, 0, i)),
    }));
    await db.batch(
      `INSERT INTO ${table} (id, name, status, email, updated_at) VALUES (:id, :name, :status, :email, :upd)`,
      sets,
    );
    const before = fake?.mock.commandCalls(ExecuteStatementCommand).length ?? 0;
    const rows = await db.query<{ id: string; email: string | null; updated_at: string }>(
      `SELECT id, name, status, email, updated_at FROM ${table} WHERE status IN (:st) ORDER BY id`,
      { st: ['active', 'inactive'] },
    );
    expect(rows.map((r) => r.id)).toEqual(sets.map((s) => s.id));
    expect(rows[7]).toEqual({
      id: 'aff-0007',
      name: sets[7].name,
      status: 'active',
      email: null,
      updated_at: '2024-01-01 00:00:07.000',
    });
    if (fake) {
      const pages = fake.mock
        .commandCalls(ExecuteStatementCommand)
        .slice(before)
        .map((c) => c.args[0].input.sql ?? '');
      expect(pages.filter((s) => /\nLIMIT \d+ OFFSET \d+$/.test(s)).length).toBeGreaterThan(2);
    }
    seen.largeSelect = createHash('sha256').update(JSON.stringify(rows)).digest('hex');
  });

  it('DbRateLimiter takes tokens from the bucket row: 3 per 60 s acquire at once and leave ~0', async () => {
    const limiter = new DbRateLimiter(db, names, { everflow: { requests: 3, perSeconds: 60 } });
    const started = Date.now();
    for (let i = 0; i < 3; i++) await limiter.acquire('everflow');
    expect(Date.now() - started).toBeLessThan(5_000);
    const [row] = await db.query<{ tokens: string; capacity: number; per_seconds: string }>(
      `SELECT tokens, capacity, per_seconds FROM ${names.core}.rate_limits WHERE bucket = :b`,
      { b: 'everflow' },
    );
    expect(Number(row.tokens)).toBeGreaterThanOrEqual(0);
    expect(Number(row.tokens)).toBeLessThan(0.05);
    expect(row.capacity).toBe(3);
    expect(row.per_seconds).toBe('60.000');
    // A 4th request would have to wait ~20 s for a token: it goes to sleep, which the abort ends at once.
    const stop = new AbortController();
    stop.abort(new Error('not waiting for a token in a test'));
    await expect(limiter.acquire('everflow', stop.signal)).rejects.toThrow('not waiting for a token in a test');
    seen.rateLimit = { capacity: row.capacity, per_seconds: row.per_seconds };
  });
});

describe('both adapters', () => {
  it('observed identical values in every test above', () => {
    expect(Object.keys(observed.mysql2)).toEqual([
      'migrations',
      'upsert',
      'inList',
      'roundTrip',
      'transactions',
      'largeSelect',
      'rateLimit',
    ]);
    expect(observed['data-api']).toStrictEqual(observed.mysql2);
  });
});
