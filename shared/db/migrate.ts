import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './port.js';
import type { DbNames } from './names.js';
import { splitStatements } from './params.js';
import { allReportingViewStatements } from './views.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';

/**
 * `dualtrack db migrate`: creates `<prefix>_core`, `<prefix>_reporting` and one database per
 * configured platform, applies the versioned files of `sql/core/` to core and of `sql/platform/`
 * (the per-platform template) to each platform database, records version and SHA-256 checksum in
 * `<prefix>_core.schema_migrations`, refuses (naming the file) when an applied file was edited, and
 * recreates the reporting views. Running it again changes nothing.
 *
 * Each statement is sent on its own (the Data API runs one statement per call; MySQL DDL commits
 * implicitly anyway), so a file is applied statement by statement and only recorded once all of
 * them succeeded; statements are written `IF NOT EXISTS` so a half-applied file can be re-run.
 */

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export interface MigrationFile {
  scope: 'core' | 'platform';
  version: number;
  name: string;
  file: string;
  text: string;
  checksum: string;
}

export const SQL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'sql');

export function loadMigrationFiles(sqlDir = SQL_DIR): MigrationFile[] {
  const out: MigrationFile[] = [];
  for (const scope of ['core', 'platform'] as const) {
    const dir = join(sqlDir, scope);
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    const seen = new Map<number, string>();
    for (const f of files) {
      const m = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(f);
      if (!m) throw new MigrationError(`sql/${scope}/${f}: migration files are named NNN_name.sql`);
      const version = Number(m[1]);
      if (seen.has(version))
        throw new MigrationError(`sql/${scope}/${f}: version ${m[1]} is also used by ${seen.get(version)}`);
      seen.set(version, f);
      const text = readFileSync(join(dir, f), 'utf8');
      out.push({
        scope,
        version,
        name: m[2],
        file: `sql/${scope}/${f}`,
        text,
        checksum: createHash('sha256').update(text).digest('hex'),
      });
    }
  }
  return out;
}

export interface MigrateResult {
  created: string[];
  applied: { database: string; file: string }[];
  views: number;
}

/** Drops every database of an install (tests, benchmarks and the demo start from a clean prefix). */
export async function dropInstall(db: Db, names: DbNames, platforms: readonly string[]): Promise<void> {
  for (const d of names.all(platforms)) await db.execute(`DROP DATABASE IF EXISTS ${d}`);
}

export interface MigrateOptions {
  logger?: Logger;
  files?: MigrationFile[];
  /** Base currency of the money views (config `baseCurrency`, default USD). */
  baseCurrency?: string;
  /** How to wait for an index the server is still building after the Data API call timed out (see waitForIndex). */
  indexWait?: IndexWait;
}

export interface IndexWait {
  /** Default: setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Default 10 s. */
  pollMs?: number;
  /** Waiting budget for the whole run, all indexes together. Default 8 min (the migration function has 10). */
  maxMs?: number;
}

export async function migrate(
  db: Db,
  names: DbNames,
  platforms: readonly string[],
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const logger = options.logger ?? silentLogger;
  const files = options.files ?? loadMigrationFiles();
  const databases = names.all(platforms);
  const existing = new Set(
    (await db.query<{ name: string }>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA')).map(
      (r) => r.name,
    ),
  );
  const created: string[] = [];
  for (const d of databases) {
    if (existing.has(d)) continue;
    await db.execute(`CREATE DATABASE IF NOT EXISTS ${d} CHARACTER SET utf8mb4`);
    created.push(d);
    logger.info('database created', { database: d });
  }
  await db.execute(`CREATE TABLE IF NOT EXISTS ${names.core}.schema_migrations (
      db_name     VARCHAR(64)  NOT NULL,
      version     INT          NOT NULL,
      name        VARCHAR(128) NOT NULL,
      checksum    CHAR(64)     NOT NULL,
      applied_at  DATETIME(3)  NOT NULL,
      PRIMARY KEY (db_name, version)
    )`);
  const recorded = await db.query<{ db_name: string; version: number; checksum: string }>(
    `SELECT db_name, version, checksum FROM ${names.core}.schema_migrations`,
  );
  const done = new Map(recorded.map((r) => [`${r.db_name}/${r.version}`, r.checksum]));

  // Refuse before applying anything when an applied file was edited.
  const targets: { database: string; file: MigrationFile; render: (t: string) => string }[] = [];
  for (const f of files) {
    const dbs = f.scope === 'core' ? [names.core] : platforms.map((p) => names.platform(p));
    for (const database of dbs) {
      const render = (t: string) =>
        t
          .replaceAll('{{core}}', names.core)
          .replaceAll('{{reporting}}', names.reporting)
          .replaceAll('{{db}}', database);
      const prior = done.get(`${database}/${f.version}`);
      if (prior === undefined) targets.push({ database, file: f, render });
      else if (prior !== f.checksum) {
        throw new MigrationError(
          `${f.file} was edited after it was applied to ${database} (checksum ${prior.slice(0, 12)}… recorded, ${f.checksum.slice(0, 12)}… on disk): add a new migration instead of changing an applied one`,
        );
      }
    }
  }
  const applied: MigrateResult['applied'] = [];
  const waited = { ms: 0 };
  for (const t of targets) {
    for (const stmt of splitStatements(t.render(t.file.text)))
      await executeIdempotent(db, stmt, logger, options.indexWait ?? {}, waited);
    await db.execute(
      `INSERT INTO ${names.core}.schema_migrations (db_name, version, name, checksum, applied_at) VALUES (:db, :v, :n, :c, NOW(3))`,
      {
        db: t.database,
        v: t.file.version,
        n: t.file.name,
        c: t.file.checksum,
      },
    );
    applied.push({ database: t.database, file: t.file.file });
    logger.info('migration applied', { database: t.database, file: t.file.file });
  }
  const views = allReportingViewStatements(names, platforms, options.baseCurrency);
  for (const v of views) await db.execute(v);
  return { created, applied, views: views.length };
}

/**
 * MySQL 8 has no `ADD INDEX IF NOT EXISTS` / `DROP INDEX IF EXISTS`, so a migration adds or drops
 * one index per `ALTER TABLE` statement, and a re-run of such a statement that finds the index
 * already there (errno 1061, ER_DUP_KEYNAME) or already gone (1091, ER_CANT_DROP_FIELD_OR_KEY)
 * leaves the schema as the statement would. Only single-clause statements qualify: in a
 * multi-clause ALTER that error would hide the clauses not yet applied.
 */
const ALREADY_DONE: readonly { statement: RegExp; errno: number }[] = [
  { statement: /^ALTER\s+TABLE\s+\S+\s+ADD\s+(?:INDEX|KEY)\s+\w+\s*\([^()]*\)$/i, errno: 1061 },
  { statement: /^ALTER\s+TABLE\s+\S+\s+DROP\s+(?:INDEX|KEY)\s+\w+$/i, errno: 1091 },
];

async function executeIdempotent(
  db: Db,
  stmt: string,
  logger: Logger,
  wait: IndexWait,
  waited: { ms: number },
): Promise<void> {
  try {
    await db.execute(stmt);
  } catch (e) {
    const { errno, code } = (e as { options?: { errno?: number; code?: string } }).options ?? {};
    const oneLine = stmt.replace(/\s+/g, ' ').trim();
    if (ALREADY_DONE.some((d) => d.errno === errno && d.statement.test(oneLine))) return;
    const index = code === 'StatementTimeoutException' ? oneIndexChange(oneLine) : null;
    if (index) return waitForIndex(db, index, logger, wait, waited);
    throw e;
  }
}

interface IndexChange {
  schema: string;
  table: string;
  index: string;
  /** true: ADD (wait until it exists); false: DROP (wait until it is gone). */
  add: boolean;
}

function oneIndexChange(oneLine: string): IndexChange | null {
  const m = /^ALTER\s+TABLE\s+(\w+)\.(\w+)\s+(ADD|DROP)\s+(?:INDEX|KEY)\s+(\w+)\b/i.exec(oneLine);
  if (!m || !ALREADY_DONE.some((d) => d.statement.test(oneLine))) return null;
  return { schema: m[1], table: m[2], index: m[4], add: m[3].toUpperCase() === 'ADD' };
}

/**
 * The RDS Data API gives up on a call after 45 s (StatementTimeoutException); DDL is sent with
 * `continueAfterTimeout`, so the server goes on building (or dropping) the index. On a large table
 * (an index over tens of millions of clicks) that is the normal case, not a failure: poll
 * information_schema until the index is there (or gone), logging progress, and go on. If the run's
 * waits add up to more than `maxMs`, stop with a MigrationError that says so. The server still
 * finishes, and the next run (deploy again) records the file: its re-run of the one-index ALTER
 * finds the index done.
 */
async function waitForIndex(
  db: Db,
  ix: IndexChange,
  logger: Logger,
  wait: IndexWait,
  budget: { ms: number },
): Promise<void> {
  const sleep = wait.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const pollMs = wait.pollMs ?? 10_000;
  const maxMs = wait.maxMs ?? 8 * 60_000;
  const what = `index ${ix.index} on ${ix.schema}.${ix.table}`;
  logger.info(
    `the Data API call timed out; the server goes on ${ix.add ? 'building' : 'dropping'} the ${what}, waiting for it`,
    { index: ix.index, table: `${ix.schema}.${ix.table}` },
  );
  for (let waited = 0; ; waited += pollMs, budget.ms += pollMs) {
    const [row] = await db.query<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = :s AND TABLE_NAME = :t AND INDEX_NAME = :i`,
      { s: ix.schema, t: ix.table, i: ix.index },
    );
    if (Number(row.n) > 0 === ix.add) {
      logger.info(`${what} ${ix.add ? 'built' : 'dropped'}`, {
        index: ix.index,
        waitedSeconds: Math.round(waited / 1000),
      });
      return;
    }
    if (budget.ms >= maxMs) {
      throw new MigrationError(
        `${what} is still being ${ix.add ? 'built' : 'dropped'} on the server after ${Math.round(waited / 1000)} s (the Data API call timed out, the statement goes on running there): run the migration again (deploy again) once it has finished`,
      );
    }
    if (waited > 0 && waited % 60_000 < pollMs)
      logger.info(`still waiting for the ${what}`, { waitedSeconds: Math.round(waited / 1000) });
    await sleep(pollMs);
  }
}
