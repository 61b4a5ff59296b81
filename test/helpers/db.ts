import { randomBytes } from 'node:crypto';
import { createMysqlDb } from '#shared/db/mysql.js';
import { dropInstall, migrate } from '#shared/db/migrate.js';
import { dbNames, type DbNames } from '#shared/db/names.js';
import type { Db } from '#shared/db/port.js';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306';

export interface TestDatabase {
  db: Db;
  names: DbNames;
  platforms: string[];
  /** Drops every database of this prefix and closes the pool. */
  drop(): Promise<void>;
}

/**
 * A fresh, migrated install under a random prefix (`t` + 7 chars), so test files can run in
 * parallel. The benchmarks use it too (bench/common.ts, prefix `b…`).
 */
export async function freshDatabase(
  platforms: string[],
  prefix = `t${randomBytes(4).toString('hex').slice(0, 7)}`,
  options: { connectionLimit?: number } = {},
): Promise<TestDatabase> {
  const db = createMysqlDb(DATABASE_URL, options);
  const names = dbNames(prefix);
  await migrate(db, names, platforms);
  return {
    db,
    names,
    platforms,
    async drop() {
      await dropInstall(db, names, platforms);
      await db.close();
    },
  };
}

/** A digest of whole tables (every column, ordered by primary key), for "identical after replay" checks. */
export async function tableDigest(db: Db, tables: string[]): Promise<string> {
  const parts: string[] = [];
  for (const t of tables) {
    const rows = await db.query(`SELECT * FROM ${t}`);
    const lines = rows.map((r) => JSON.stringify(r)).sort();
    // Content only (not the table's name), so tables of two installs with different prefixes compare equal.
    parts.push(`${lines.length}:${lines.join('\n')}`);
  }
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(parts.join('\n#\n')).digest('hex');
}
