import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { parseConfig } from '#shared/config/load.js';
import type { Config } from '#shared/config/schema.js';
import { MYSQL8_SQL_MODE } from '#shared/db/mysql.js';
import { freshDatabase, type TestDatabase } from '../test/helpers/db.js';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306';

/** A fresh, migrated install under a random `b…` prefix (test/helpers/db.ts freshDatabase). */
export type BenchDatabase = TestDatabase;

export function freshBenchDatabase(platforms: string[], connectionLimit = 8): Promise<BenchDatabase> {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const prefix = `b${Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('')}`;
  return freshDatabase(platforms, prefix, { connectionLimit });
}

/** A raw mysql2 connection (for the ceiling runs and fast data generation: LOAD DATA LOCAL, plain multi-row INSERT). */
export async function rawConnection(): Promise<mysql.Connection> {
  const u = new URL(DATABASE_URL);
  const conn = await mysql.createConnection({
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password || ''),
    dateStrings: true,
    timezone: 'Z',
  });
  await conn.query(`SET SESSION sql_mode = '${MYSQL8_SQL_MODE}', time_zone = '+00:00'`);
  return conn;
}

export const HASH_KEY_ENV = { DUALTRACK_HASH_KEY: 'bench-hash-key-not-a-secret' };

/** A config with Everflow as the target and HitPath and CAKE as legacy platforms (no network calls are made). */
export function benchConfig(
  prefix: string,
  migration: { startDate: string; cutoverDate: string },
  platforms: string[] = ['everflow', 'hitpath', 'cake'],
): Config {
  const all: Record<string, unknown> = {
    everflow: { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'EVERFLOW_API_KEY' },
    hitpath: {
      kind: 'hitpath',
      baseUrl: 'https://reports.example.net/api.php',
      apiKeyEnv: 'HITPATH_API_KEY',
      timezone: 'America/New_York',
    },
    cake: { kind: 'cake', baseUrl: 'https://cake.example.net', apiKeyEnv: 'CAKE_API_KEY', timezone: 'America/Chicago' },
  };
  return parseConfig({
    baseCurrency: 'USD',
    databases: { prefix },
    migration: { legacy: platforms.filter((p) => p !== 'everflow'), target: 'everflow', ...migration },
    platforms: Object.fromEntries(platforms.map((p) => [p, all[p]])),
  });
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

/** Runs `worker` on `concurrency` lanes until it returns false. */
export async function lanes(concurrency: number, worker: () => Promise<boolean>): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (await worker());
    }),
  );
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}
