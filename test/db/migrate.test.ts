import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMysqlDb } from '#shared/db/mysql.js';
import { dbNames } from '#shared/db/names.js';
import { loadMigrationFiles, migrate, MigrationError, type MigrationFile } from '#shared/db/migrate.js';

/** migrate() on the mysql2 adapter: idempotent schema, and applied files are immutable. */

const PLATFORMS = ['everflow', 'hitpath'];
const db = createMysqlDb('mysql://root@127.0.0.1:3306');

function randomPrefix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `t${Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('')}`;
}

const prefix = randomPrefix();
const names = dbNames(prefix);
const like = `${prefix}\\_%`;

/** Columns and indexes of every database of the prefix, with the prefix removed, as one digest (and the rows, for messages). */
async function schemaDigest(): Promise<{ digest: string; columns: number; indexes: number; tables: string[] }> {
  const columns = await db.query(
    `SELECT SUBSTRING(TABLE_SCHEMA, :cut) AS db, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA LIKE :like
      ORDER BY db, TABLE_NAME, ORDINAL_POSITION`,
    { like, cut: prefix.length + 2 },
  );
  const indexes = await db.query(
    `SELECT SUBSTRING(TABLE_SCHEMA, :cut) AS db, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA LIKE :like
      ORDER BY db, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    { like, cut: prefix.length + 2 },
  );
  const tables = [...new Set(columns.map((c) => `${c.db}.${c.TABLE_NAME}`))].sort();
  const digest = createHash('sha256').update(JSON.stringify({ columns, indexes })).digest('hex');
  return { digest, columns: columns.length, indexes: indexes.length, tables };
}

beforeAll(async () => {
  await migrate(db, names, PLATFORMS);
});

afterAll(async () => {
  const dbs = await db.query<{ name: string }>(
    `SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :like`,
    { like },
  );
  for (const { name } of dbs) await db.execute(`DROP DATABASE IF EXISTS ${name}`);
  await db.close();
});

describe('migrate (mysql2)', () => {
  it('gives the same schema when run again, and when every file is re-applied from scratch', async () => {
    const first = await schemaDigest();
    expect(first.tables).toEqual(
      expect.arrayContaining([
        'core.schema_migrations',
        'core.rate_limits',
        'everflow.conversions',
        'hitpath.clicks',
        'reporting.conversions',
      ]),
    );
    expect(first.columns).toBeGreaterThan(100);
    expect(first.indexes).toBeGreaterThan(10);

    const again = await migrate(db, names, PLATFORMS);
    expect(again).toMatchObject({ created: [], applied: [] });
    expect(await schemaDigest()).toEqual(first);

    // A file that failed half-way is re-run whole: its statements must be idempotent too.
    await db.execute(`DELETE FROM ${names.core}.schema_migrations`);
    const reapplied = await migrate(db, names, PLATFORMS);
    expect(reapplied.applied.length).toBe(
      loadMigrationFiles().filter((f) => f.scope === 'core').length +
        PLATFORMS.length * loadMigrationFiles().filter((f) => f.scope === 'platform').length,
    );
    expect(await schemaDigest()).toEqual(first);
  });

  it('refuses an applied migration that was edited, naming the file, before applying anything else', async () => {
    const files = loadMigrationFiles();
    const platformFile = files.find((f) => f.scope === 'platform' && f.version === 1)!;
    const editedText = platformFile.text.replace(
      'sub5            VARCHAR(255)  NULL,',
      'sub5            VARCHAR(255)  NULL,\n  sub6            VARCHAR(255)  NULL,',
    );
    expect(editedText).not.toBe(platformFile.text);
    const edited: MigrationFile = {
      ...platformFile,
      text: editedText,
      checksum: createHash('sha256').update(editedText).digest('hex'),
    };
    const added: MigrationFile = {
      scope: 'core',
      version: 999,
      name: 'never_applied',
      file: 'sql/core/999_never_applied.sql',
      text: 'CREATE TABLE IF NOT EXISTS {{core}}.never_applied (id INT NOT NULL PRIMARY KEY);',
      checksum: createHash('sha256').update('never').digest('hex'),
    };
    const withEdit = [...files.filter((f) => f !== platformFile), edited, added];

    const err = await migrate(db, names, PLATFORMS, { files: withEdit }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^sql/platform/001_platform_tables\\.sql was edited after it was applied to ${prefix}_(everflow|hitpath)`,
      ),
    );
    const [t] = await db.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = :core AND TABLE_NAME = 'never_applied'`,
      {
        core: names.core,
      },
    );
    expect(t.n).toBe(0);
    // The unedited files still pass.
    await expect(migrate(db, names, PLATFORMS, { files })).resolves.toMatchObject({ applied: [] });
  });
});
