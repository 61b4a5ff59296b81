import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { evaluateRules } from '#shared/rules/engine.js';
import { computeMigrationPlan } from '#shared/migration/plan.js';
import type { RuleId } from '#shared/config/schema.js';
import { clearAll, createTestDb, insertRollups, insertSlice, mapEntity, type TestDb } from './helpers.js';

let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
});
afterAll(async () => tdb?.drop());
beforeEach(async () => clearAll(tdb));
const run = (rule: RuleId, at: Date) =>
  evaluateRules({ db: tdb.db, names: tdb.names, config: tdb.config, at, only: [rule] });

describe('stale-source', () => {
  const at = new Date('2026-10-20T12:00:00Z'); // schedule 60 min × factor 2 → fresh since 10:00
  const freshAll = async (except: string) => {
    for (const p of ['hitpath', 'cake', 'everflow'].filter((x) => x !== except))
      await insertSlice(tdb, {
        platform: p,
        status: 'done',
        plannedAt: '2026-10-20T11:00:00Z',
        finishedAt: '2026-10-20T11:05:00Z',
      });
  };

  it('is quiet with a success inside 2 × schedule, fires just outside it ("no fetch")', async () => {
    await freshAll('everflow');
    await insertSlice(tdb, {
      platform: 'everflow',
      status: 'done',
      plannedAt: '2026-10-20T09:50:00Z',
      finishedAt: '2026-10-20T10:00:00Z',
    });
    expect(await run('stale-source', at)).toHaveLength(0);
    const f = await run('stale-source', new Date('2026-10-20T12:00:01Z'));
    expect(f).toHaveLength(1);
    expect(f[0].subject).toEqual({ platforms: ['everflow'] });
    expect(f[0].metrics).toMatchObject({
      reason: 'no-fetch',
      last_success_at: '2026-10-20T10:00:00.000Z',
      failed_fetches: 0,
    });
    expect(f[0].summary).toMatch(/not being fetched/);
  });

  it('says "API errors" when slices failed since the last success, with the error kind', async () => {
    await freshAll('everflow');
    await insertSlice(tdb, {
      platform: 'everflow',
      status: 'done',
      plannedAt: '2026-10-20T05:00:00Z',
      finishedAt: '2026-10-20T05:01:00Z',
    });
    await insertSlice(tdb, {
      platform: 'everflow',
      status: 'failed',
      plannedAt: '2026-10-20T04:00:00Z',
      finishedAt: '2026-10-20T04:02:00Z',
      error: 'older failure',
      errorKind: 'http',
    });
    await insertSlice(tdb, {
      platform: 'everflow',
      status: 'failed',
      plannedAt: '2026-10-20T11:00:00Z',
      finishedAt: '2026-10-20T11:02:00Z',
      error: 'HTTP 401 from /v1/networks/reporting/conversions: invalid key',
      errorKind: 'auth',
    });
    const f = await run('stale-source', at);
    expect(f).toHaveLength(1);
    expect(f[0].metrics).toMatchObject({ reason: 'api-error', failed_fetches: 1, error_kinds: 'auth' });
    expect(f[0].summary).toMatch(/API is answering errors.*auth.*HTTP 401/);
    expect(f[0].evidence[0]).toMatchObject({ error_kind: 'auth', stream: 'conversions' });
  });

  it('fires for a platform never fetched at all', async () => {
    await freshAll('cake');
    const f = await run('stale-source', at);
    expect(f.map((x) => [x.subject.platforms[0], x.metrics.reason, x.metrics.last_success_at])).toEqual([
      ['cake', 'no-fetch', null],
    ]);
  });

  it('for a past `at`, a fetch made after `at` counts as fresh', async () => {
    await freshAll('everflow');
    // evaluating 2026-10-18 12:00 (a replay): the only success is today's
    await insertSlice(tdb, {
      platform: 'everflow',
      status: 'fetched',
      plannedAt: '2026-10-20T11:00:00Z',
      fetchedAt: '2026-10-20T11:03:00Z',
    });
    expect(
      (await run('stale-source', new Date('2026-10-18T12:00:00Z'))).map((x) => x.subject.platforms[0]),
    ).not.toContain('everflow');
  });
});

describe('migration plan and migration-lagging-partner', () => {
  beforeEach(async () => {
    // Five legacy affiliates with revenue before 2026-09-01; aff-001 is on both legacy platforms.
    await mapEntity(tdb, 'affiliate', 'aff-001', { hitpath: '1001', cake: '301', everflow: '57' });
    await mapEntity(tdb, 'affiliate', 'aff-002', { hitpath: '1002', everflow: '58' });
    await mapEntity(tdb, 'affiliate', 'aff-003', { hitpath: '1003' });
    const rev = (aff: string, revenue: string) => ({
      hour: '2026-08-15T10:00:00Z',
      aff,
      offer: '77',
      clicks: 10,
      revenue,
    });
    await insertRollups(tdb, 'hitpath', [
      rev('1001', '600.10'),
      rev('1002', '900.00'),
      rev('1003', '300.00'),
      rev('1004', '50.00'),
      { ...rev('1002', '99999'), hour: '2026-09-01T00:00:00Z' },
    ]);
    await insertRollups(tdb, 'cake', [rev('301', '400.00'), rev('302', '10.00')]);
  });

  it('ranks by legacy revenue before startDate through the crosswalk and keeps manual rows', async () => {
    await tdb.db.execute(
      `INSERT INTO ${tdb.names.core}.migration_plan (canonical_key, tier, due_date, legacy_revenue, source, updated_at) VALUES ('aff-003', 1, '2026-09-03', 0, 'manual', '2026-09-01 00:00:00')`,
    );
    const plan = await computeMigrationPlan(tdb.db, tdb.names, tdb.config, new Date('2026-09-02T00:00:00Z'));
    const byKey = Object.fromEntries(plan.map((p) => [p.canonical_key, p]));
    expect(byKey['aff-001']).toMatchObject({
      tier: 1,
      due_date: '2026-09-08',
      legacy_revenue: '1000.100000',
      source: 'auto',
    });
    expect(byKey['aff-002']).toMatchObject({ tier: 1, due_date: '2026-09-08', legacy_revenue: '900.000000' });
    expect(byKey['aff-003']).toMatchObject({ tier: 1, due_date: '2026-09-03', source: 'manual' });
    expect(byKey['hitpath:1004']).toMatchObject({ tier: 3, due_date: '2026-09-22' });
    expect(byKey['cake:302']).toMatchObject({ tier: 3 });
    const stored = await tdb.db.query<{ canonical_key: string; tier: number; source: string }>(
      `SELECT canonical_key, tier, source FROM ${tdb.names.core}.migration_plan ORDER BY canonical_key`,
    );
    expect(stored).toHaveLength(5);
    expect(stored.find((s) => s.canonical_key === 'aff-003')).toMatchObject({ tier: 1, source: 'manual' });
  });

  it('fires for a partner past due + 1 day with no target clicks since start, not for one that moved', async () => {
    await computeMigrationPlan(tdb.db, tdb.names, tdb.config);
    await insertRollups(tdb, 'everflow', [{ hour: '2026-09-05T10:00:00Z', aff: '57', offer: '12', clicks: 3 }]);
    // tier 1 due 2026-09-08: on the due day itself nobody is late yet
    expect(await run('migration-lagging-partner', new Date('2026-09-08T23:00:00Z'))).toHaveLength(0);
    const f = await run('migration-lagging-partner', new Date('2026-09-09T00:00:00Z'));
    expect(f.map((x) => x.subject.canonical_key)).toEqual(['aff-002']);
    expect(f[0].severity).toBe('info');
    expect(f[0].subject).toMatchObject({
      affiliate: { hitpath: '1002', everflow: '58' },
      platforms: ['hitpath', 'everflow'],
    });
    const later = await run('migration-lagging-partner', new Date('2026-09-23T00:00:00Z'));
    expect(later.map((x) => x.subject.canonical_key).sort()).toEqual([
      'aff-002',
      'aff-003',
      'cake:302',
      'hitpath:1004',
    ]);
    expect(later.find((x) => x.subject.canonical_key === 'cake:302')!.metrics.target_mapped).toBe(false);
  });
});
