import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataApiDb } from '#shared/db/data-api.js';
import { loadMigrationFiles, migrate, MigrationError, type MigrationFile } from '#shared/db/migrate.js';
import { createMysqlDb } from '#shared/db/mysql.js';
import { dbNames } from '#shared/db/names.js';
import type { Logger } from '#shared/util/logger.js';
import {
  createDataApiOnMariaDb,
  FAKE_RESOURCE_ARN,
  FAKE_SECRET_ARN,
  type DataApiOnMariaDb,
} from '../helpers/data-api-on-mariadb.js';

/**
 * The Data API gives up on a call after 45 s, while the server goes on running DDL sent with
 * continueAfterTimeout. Adding an index to a large table (sql/platform/004 on tens of millions of
 * clicks) hits that: migrate waits for the index to appear instead of failing the deploy, and, when
 * it takes too long, says so and records nothing, so the next run finishes the job.
 */

const DATABASE_URL = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306';
const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
const prefix = `t${Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('')}`;
const names = dbNames(prefix);
const PLATFORMS = ['everflow', 'hitpath'];
const inspect = createMysqlDb(DATABASE_URL);
let fake: DataApiOnMariaDb;

function extraFile(version: number, text: string): MigrationFile {
  return {
    scope: 'platform',
    version,
    name: `slow_${version}`,
    file: `sql/platform/${version}_slow_${version}.sql`,
    text,
    checksum: createHash('sha256').update(text).digest('hex'),
  };
}

function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (m: string) => void lines.push(m);
  return { lines, debug: log, info: log, warn: log, error: log };
}

async function hasIndex(platform: string, index: string): Promise<boolean> {
  const rows = await inspect.query(
    `SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = :s AND TABLE_NAME = 'clicks' AND INDEX_NAME = :i`,
    { s: names.platform(platform), i: index },
  );
  return rows.length > 0;
}

async function recorded(version: number): Promise<string[]> {
  const rows = await inspect.query<{ db_name: string }>(
    `SELECT db_name FROM ${names.core}.schema_migrations WHERE version = :v ORDER BY db_name`,
    { v: version },
  );
  return rows.map((r) => r.db_name);
}

beforeAll(async () => {
  fake = createDataApiOnMariaDb({ url: DATABASE_URL });
});

afterAll(async () => {
  const dbs = await inspect.query<{ name: string }>(
    'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :like',
    { like: `${prefix}\\_%` },
  );
  for (const { name } of dbs) await inspect.execute(`DROP DATABASE IF EXISTS ${name}`);
  await inspect.close();
  await fake.close();
});

describe('migrate through the Data API when an index outlasts the call', () => {
  const db = () =>
    createDataApiDb({
      client: fake.client,
      resourceArn: FAKE_RESOURCE_ARN,
      secretArn: FAKE_SECRET_ARN,
      sleep: async () => {},
    });

  it('waits for the index the server goes on building, then records the file', async () => {
    const file = extraFile(901, 'ALTER TABLE {{db}}.clicks ADD INDEX t_slow_a (country_code);\n');
    fake.timeOutOn(/ADD INDEX t_slow_a\b/);
    const logger = memoryLogger();
    let sleeps = 0;
    const result = await migrate(db(), names, PLATFORMS, {
      logger,
      files: [...loadMigrationFiles(), file],
      // The server finishes while migrate sleeps between polls.
      indexWait: {
        pollMs: 10_000,
        sleep: async () => {
          sleeps++;
          await fake.finishTimedOut();
        },
      },
    });
    expect(result.applied.filter((a) => a.file === file.file).map((a) => a.database)).toEqual(
      PLATFORMS.map((p) => names.platform(p)),
    );
    expect(await hasIndex('everflow', 't_slow_a')).toBe(true);
    expect(await hasIndex('hitpath', 't_slow_a')).toBe(true);
    expect(await recorded(901)).toEqual(PLATFORMS.map((p) => names.platform(p)).sort());
    // One poll found it missing, one sleep, one poll found it: per platform database.
    expect(sleeps).toBe(2);
    expect(logger.lines).toContain(
      `the Data API call timed out; the server goes on building the index t_slow_a on ${names.platform('everflow')}.clicks, waiting for it`,
    );
    expect(logger.lines).toContain(`index t_slow_a on ${names.platform('hitpath')}.clicks built`);
  });

  it('gives up after maxMs saying the index is still being built, records nothing, and the next run completes it', async () => {
    const file = extraFile(902, 'ALTER TABLE {{db}}.clicks ADD INDEX t_slow_b (ip);\n');
    fake.timeOutOn(/ADD INDEX t_slow_b\b/);
    let sleeps = 0;
    const err = await migrate(db(), names, PLATFORMS, {
      files: [...loadMigrationFiles(), file],
      indexWait: { pollMs: 10_000, maxMs: 30_000, sleep: async () => void sleeps++ },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toBe(
      `index t_slow_b on ${names.platform('everflow')}.clicks is still being built on the server after 30 s (the Data API call timed out, the statement goes on running there): run the migration again (deploy again) once it has finished`,
    );
    expect(sleeps).toBe(3);
    expect(await recorded(902)).toEqual([]);
    // The server finishes; a deploy runs the migration again. Its ADD INDEX times out again (the
    // fake still times it out) and the first poll finds the index: done, for both platforms.
    expect(await fake.finishTimedOut()).toBe(1);
    let sleeps2 = 0;
    await migrate(db(), names, PLATFORMS, {
      files: [...loadMigrationFiles(), file],
      indexWait: {
        sleep: async () => {
          sleeps2++;
          await fake.finishTimedOut();
        },
      },
    });
    expect(await hasIndex('everflow', 't_slow_b')).toBe(true);
    expect(await hasIndex('hitpath', 't_slow_b')).toBe(true);
    expect(await recorded(902)).toEqual(PLATFORMS.map((p) => names.platform(p)).sort());
    expect(sleeps2).toBe(1); // hitpath's ADD had not run before
  });

  it('still fails on a timeout of any other statement, naming it', async () => {
    const file = extraFile(903, 'CREATE TABLE IF NOT EXISTS {{db}}.t_slow_c (id INT PRIMARY KEY);\n');
    fake.timeOutOn(/CREATE TABLE IF NOT EXISTS \w+\.t_slow_c\b/);
    const err = await migrate(db(), names, PLATFORMS, {
      files: [...loadMigrationFiles(), file],
      indexWait: { sleep: async () => {} },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^StatementTimeoutException: Request timed out \[CREATE TABLE IF NOT EXISTS \w+_everflow\.t_slow_c/,
    );
    expect(await recorded(903)).toEqual([]);
  });
});
