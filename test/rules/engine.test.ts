import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateRulesDetailed, RuleEvaluationError, RULES } from '#shared/rules/engine.js';
import { createTestDb, hours, insertConversions, insertRollups, mapEntity, type TestDb } from './helpers.js';

/**
 * The engine runs several rules at once (RULE_CONCURRENCY). What callers rely on must not depend on
 * that: the same findings in the same order (rule order, then fingerprint) as one rule at a time, and
 * a failing rule fails the whole evaluation with its name, even when the other rules succeed.
 */

let tdb: TestDb;
const at = new Date('2026-10-20T12:00:00Z');

beforeAll(async () => {
  tdb = await createTestDb();
  await mapEntity(tdb, 'affiliate', 'aff-001', { hitpath: '1001', everflow: '57', cake: '301' });
  await mapEntity(tdb, 'affiliate', 'aff-002', { hitpath: '1002', everflow: '58', cake: '302' });
  await mapEntity(tdb, 'offer', 'off-77', { hitpath: '77', everflow: '12', cake: '900' });
  // cross-platform-duplicate (hitpath ↔ everflow and cake ↔ everflow by order id) and
  // platform-duplicate (an order approved twice on everflow) for two affiliates.
  for (const [h, e, c, n] of [
    ['1001', '57', '301', 1],
    ['1002', '58', '302', 2],
  ] as const) {
    await insertConversions(tdb, 'hitpath', [
      { id: `h${n}a`, at: '2026-10-05T10:00:00Z', aff: h, offer: '77', orderId: `ORD-${n}-1`, payout: '12.50' },
      { id: `h${n}b`, at: '2026-10-06T10:00:00Z', aff: h, offer: '77', orderId: `ORD-${n}-2`, payout: '7.25' },
    ]);
    await insertConversions(tdb, 'cake', [
      { id: `c${n}a`, at: '2026-10-07T10:00:00Z', aff: c, offer: '900', orderId: `ORD-${n}-3`, payout: '5.00' },
    ]);
    await insertConversions(tdb, 'everflow', [
      { id: `e${n}a`, at: '2026-10-05T10:02:00Z', aff: e, offer: '12', orderId: `ORD-${n}-1`, payout: '12.00' },
      { id: `e${n}b`, at: '2026-10-06T10:02:00Z', aff: e, offer: '12', orderId: `ORD-${n}-2`, payout: '8.00' },
      { id: `e${n}c`, at: '2026-10-07T10:02:00Z', aff: e, offer: '12', orderId: `ORD-${n}-3`, payout: '5.00' },
      { id: `e${n}d`, at: '2026-10-08T10:00:00Z', aff: e, offer: '12', orderId: `ORD-${n}-4`, payout: '6.00' },
      { id: `e${n}e`, at: '2026-10-08T11:00:00Z', aff: e, offer: '12', orderId: `ORD-${n}-4`, payout: '6.50' },
    ]);
    // dual-running: both sides well above minClicks for days after the first target click, up to `at`.
    for (const [p, aff, offer] of [
      ['hitpath', h, '77'],
      ['everflow', e, '12'],
    ] as const) {
      await insertRollups(
        tdb,
        p,
        hours('2026-10-16T00:00:00Z', '2026-10-20T12:00:00Z').map((hour) => ({
          hour,
          aff,
          offer,
          clicks: 5 * n,
          payout: '1.00',
        })),
      );
    }
  }
});
afterAll(async () => tdb?.drop());

describe('evaluateRules with several rules at once', () => {
  it('gives the same findings in the same order as one rule at a time', async () => {
    const one = await evaluateRulesDetailed({ db: tdb.db, names: tdb.names, config: tdb.config, at, concurrency: 1 });
    const many = await evaluateRulesDetailed({
      db: tdb.db,
      names: tdb.names,
      config: tdb.config,
      at,
      concurrency: RULES.length,
    });
    const byDefault = await evaluateRulesDetailed({ db: tdb.db, names: tdb.names, config: tdb.config, at });
    const rulesFound = [...new Set(one.findings.map((f) => f.rule))];
    // Findings of four rules (stale-source: nothing was ever fetched), so the order between rules is exercised.
    expect(rulesFound).toEqual(['stale-source', 'cross-platform-duplicate', 'platform-duplicate', 'dual-running']);
    expect(one.findings.filter((f) => f.rule === 'cross-platform-duplicate')).toHaveLength(4);
    expect(many).toEqual(one);
    expect(byDefault).toEqual(one);
    expect(one.evaluated).toEqual(RULES.map((r) => r.id));
  });

  it('fails the evaluation naming the broken rule, after the other rules have finished', async () => {
    // Only migration-lagging-partner reads core.migration_plan.
    await tdb.db.execute(`RENAME TABLE ${tdb.names.core}.migration_plan TO ${tdb.names.core}.migration_plan_gone`);
    try {
      const err = await evaluateRulesDetailed({ db: tdb.db, names: tdb.names, config: tdb.config, at }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RuleEvaluationError);
      expect((err as RuleEvaluationError).rule).toBe('migration-lagging-partner');
      expect((err as Error).message).toMatch(/^rule migration-lagging-partner failed: .*migration_plan/);
      // The other rules still work on their own.
      const rest = await evaluateRulesDetailed({
        db: tdb.db,
        names: tdb.names,
        config: tdb.config,
        at,
        only: ['cross-platform-duplicate', 'dual-running'],
      });
      expect(rest.evaluated).toEqual(['cross-platform-duplicate', 'dual-running']);
    } finally {
      await tdb.db.execute(`RENAME TABLE ${tdb.names.core}.migration_plan_gone TO ${tdb.names.core}.migration_plan`);
    }
  });
});
