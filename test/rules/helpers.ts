import { randomUUID } from 'node:crypto';
import { createMysqlDb } from '#shared/db/mysql.js';
import { dbNames, type DbNames } from '#shared/db/names.js';
import { dropInstall, migrate } from '#shared/db/migrate.js';
import type { Db } from '#shared/db/port.js';
import { parseConfig } from '#shared/config/load.js';
import type { Config } from '#shared/config/schema.js';
import { toSqlDateTime } from '#shared/util/time.js';

/**
 * Crafted database states for rule tests: a fresh prefix migrated with the real migrations, rows
 * inserted directly (the ingestion pipeline is not needed to test the rules).
 */

export interface TestDb {
  db: Db;
  names: DbNames;
  config: Config;
  drop(): Promise<void>;
}

export function testPrefix(): string {
  return `t${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;
}

export function baseConfig(prefix: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    databases: { prefix },
    migration: { legacy: ['hitpath', 'cake'], target: 'everflow', startDate: '2026-09-01', cutoverDate: '2026-10-15' },
    platforms: {
      everflow: { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'EVERFLOW_API_KEY' },
      hitpath: {
        kind: 'hitpath',
        baseUrl: 'https://reports.example.net/api.php',
        apiKeyEnv: 'HITPATH_API_KEY',
        timezone: 'America/New_York',
      },
      cake: {
        kind: 'cake',
        baseUrl: 'https://cake.example.net',
        apiKeyEnv: 'CAKE_API_KEY',
        timezone: 'America/Chicago',
      },
    },
    ...extra,
  };
}

export async function createTestDb(
  extra: Record<string, unknown> = {},
  mutate?: (raw: Record<string, unknown>) => void,
): Promise<TestDb> {
  const prefix = testPrefix();
  const raw = baseConfig(prefix, extra);
  mutate?.(raw);
  const config = parseConfig(raw, 'test config');
  const names = dbNames(prefix);
  const db = createMysqlDb(process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306');
  await migrate(db, names, Object.keys(config.platforms));
  return {
    db,
    names,
    config,
    async drop() {
      await dropInstall(db, names, Object.keys(config.platforms));
      await db.close();
    },
  };
}

const t = (iso: string | Date) => toSqlDateTime(iso);

export interface RollupInput {
  hour: string | Date;
  aff: string;
  offer: string;
  clicks?: number;
  conversions?: number;
  revenue?: string;
  payout?: string;
}

/** Multi-row upsert of rollup rows (chunked). */
export async function insertRollups(tdb: TestDb, platform: string, rows: readonly RollupInput[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 400) {
    const chunk = rows.slice(i, i + 400);
    const params: Record<string, string | number> = {};
    const values = chunk.map((r, j) => {
      params[`h${j}`] = t(r.hour);
      params[`a${j}`] = r.aff;
      params[`o${j}`] = r.offer;
      params[`c${j}`] = r.clicks ?? 0;
      params[`v${j}`] = r.conversions ?? 0;
      params[`r${j}`] = r.revenue ?? '0';
      params[`p${j}`] = r.payout ?? '0';
      return `(:h${j}, :a${j}, :o${j}, :c${j}, :c${j}, :v${j}, 0, :r${j}, :p${j})`;
    });
    await tdb.db.execute(
      `INSERT INTO ${tdb.names.platform(platform)}.hourly_rollups (hour, affiliate_id, offer_id, clicks, unique_clicks, conversions, events, revenue, payout)
       VALUES ${values.join(', ')}
       ON DUPLICATE KEY UPDATE clicks = VALUES(clicks), unique_clicks = VALUES(unique_clicks), conversions = VALUES(conversions), revenue = VALUES(revenue), payout = VALUES(payout)`,
      params,
    );
  }
}

export interface ConversionInput {
  id: string;
  at: string;
  clickedAt?: string | null;
  aff: string;
  offer: string;
  orderId?: string | null;
  transactionId?: string | null;
  clickId?: string | null;
  subs?: (string | null)[];
  status?: 'approved' | 'pending' | 'rejected' | 'invalid';
  isEvent?: boolean;
  revenue?: string;
  payout?: string;
  ip?: string | null;
  ua?: string | null;
}

export async function insertConversions(
  tdb: TestDb,
  platform: string,
  rows: readonly ConversionInput[],
): Promise<void> {
  for (const r of rows) {
    const subs = r.subs ?? [];
    await tdb.db.execute(
      `INSERT INTO ${tdb.names.platform(platform)}.conversions (conversion_id, click_id, transaction_id, order_id, converted_at, clicked_at, affiliate_id, offer_id,
         sub1, sub2, sub3, sub4, sub5, is_event, status, revenue, payout, currency, ip, user_agent_hash, first_seen_at, updated_at)
       VALUES (:id, :click, :txn, :ord, :at, :clicked, :aff, :offer, :s1, :s2, :s3, :s4, :s5, :ev, :status, :rev, :pay, 'USD', :ip, :ua, :at, :at)`,
      {
        id: r.id,
        click: r.clickId ?? null,
        txn: r.transactionId ?? null,
        ord: r.orderId ?? null,
        at: t(r.at),
        clicked:
          r.clickedAt === undefined
            ? t(new Date(Date.parse(r.at) - 3600_000))
            : r.clickedAt === null
              ? null
              : t(r.clickedAt),
        aff: r.aff,
        offer: r.offer,
        s1: subs[0] ?? null,
        s2: subs[1] ?? null,
        s3: subs[2] ?? null,
        s4: subs[3] ?? null,
        s5: subs[4] ?? null,
        ev: r.isEvent ? 1 : 0,
        status: r.status ?? 'approved',
        rev: r.revenue ?? '10.00',
        pay: r.payout ?? '5.00',
        ip: r.ip ?? null,
        ua: r.ua ?? null,
      },
    );
  }
}

export async function mapEntity(
  tdb: TestDb,
  type: 'affiliate' | 'offer' | 'advertiser',
  key: string,
  ids: Record<string, string>,
): Promise<void> {
  for (const [platform, id] of Object.entries(ids)) {
    await tdb.db.execute(
      `INSERT INTO ${tdb.names.core}.entity_map (entity_type, platform, platform_id, canonical_key, source, confidence, updated_at)
       VALUES (:type, :p, :id, :key, 'imported', 1, '2026-09-01 00:00:00')`,
      { type, p: platform, id, key },
    );
  }
}

export async function insertEntity(
  tdb: TestDb,
  platform: string,
  table: 'affiliates' | 'offers',
  id: string,
  name: string,
  status = 'active',
): Promise<void> {
  await tdb.db.execute(
    `INSERT INTO ${tdb.names.platform(platform)}.${table} (id, name, status, updated_at) VALUES (:id, :name, :status, '2026-09-01 00:00:00')`,
    { id, name, status },
  );
}

export async function insertSlice(
  tdb: TestDb,
  s: {
    platform: string;
    stream?: string;
    status: 'planned' | 'fetching' | 'fetched' | 'done' | 'failed';
    finishedAt?: string | null;
    fetchedAt?: string | null;
    plannedAt: string;
    error?: string;
    errorKind?: string;
  },
): Promise<void> {
  await tdb.db.execute(
    `INSERT INTO ${tdb.names.core}.fetch_slices (slice_id, platform, stream, window_from, window_to, status, error, error_kind, planned_at, started_at, fetched_at, finished_at)
     VALUES (:id, :p, :stream, :from, :to, :status, :error, :kind, :planned, :planned, :fetched, :finished)`,
    {
      id: randomUUID(),
      p: s.platform,
      stream: s.stream ?? 'conversions',
      from: t(new Date(Date.parse(s.plannedAt) - 3 * 3600_000)),
      to: t(s.plannedAt),
      status: s.status,
      error: s.error ?? null,
      kind: s.errorKind ?? null,
      planned: t(s.plannedAt),
      fetched: s.fetchedAt ? t(s.fetchedAt) : null,
      finished: s.finishedAt ? t(s.finishedAt) : null,
    },
  );
}

/** Hours [from, to) as ISO strings. */
export function hours(fromIso: string, toIso: string): string[] {
  const out: string[] = [];
  for (let ms = Date.parse(fromIso); ms < Date.parse(toIso); ms += 3600_000) out.push(new Date(ms).toISOString());
  return out;
}

/** Empties every table a rule reads, between tests sharing one prefix. */
export async function clearAll(tdb: TestDb): Promise<void> {
  for (const p of Object.keys(tdb.config.platforms)) {
    for (const table of ['conversions', 'hourly_rollups', 'affiliates', 'offers'])
      await tdb.db.execute(`DELETE FROM ${tdb.names.platform(p)}.${table}`);
  }
  for (const table of ['entity_map', 'fetch_slices', 'migration_plan', 'alerts', 'alert_events'])
    await tdb.db.execute(`DELETE FROM ${tdb.names.core}.${table}`);
}
