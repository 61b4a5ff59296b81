import type { Config } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import { Crosswalk } from '../rules/crosswalk.js';
import { fromMicros, toMicros } from '../rules/money.js';
import { DAY_MS } from '../util/time.js';

/**
 * Partner waves (docs/design.md §9): rank affiliates by legacy revenue earned before
 * migration.startDate (hourly_rollups of every legacy platform, hours < startDate 00:00 UTC), split
 * the ranking by `migration.waves.shares` into tiers 1…n (tier 1 = highest revenue), and make tier i
 * due on `startDate + dueDays[i−1]`.
 *
 * - Affiliates are keyed by their crosswalk canonical key (revenue of the same partner on two legacy
 *   platforms is added up); an unmapped legacy affiliate is keyed `<platform>:<id>`.
 * - Tier sizes: the first ⌈share × n⌉ … computed on cumulative shares, rounded to the nearest
 *   whole affiliate (cumulative rounding keeps the total exact); the last tier takes the rest.
 * - Ties in revenue are broken by key so that reruns give the same plan.
 * - Upserted into `<prefix>_core.migration_plan` with source 'auto'; rows with source 'manual'
 *   (an account manager's decision) are never overwritten and keep their place. Auto rows of
 *   affiliates that no longer appear are left as they are (history), not deleted.
 * Revenue is summed as stored (platform currency, no FX), as decimal strings.
 */

export interface PlanRow {
  canonical_key: string;
  tier: number;
  due_date: string;
  legacy_revenue: string;
  source: 'auto' | 'manual';
}

export async function computeMigrationPlan(
  db: Db,
  names: DbNames,
  config: Config,
  now: Date = new Date(),
): Promise<PlanRow[]> {
  const crosswalk = await Crosswalk.load(db, names);
  const start = `${config.migration.startDate} 00:00:00`;
  const revenue = new Map<string, bigint>();
  for (const legacy of config.migration.legacy) {
    const rows = await db.query<{ affiliate_id: string; revenue: string }>(
      `SELECT affiliate_id, SUM(revenue) AS revenue FROM ${names.platform(legacy)}.hourly_rollups WHERE hour < :start GROUP BY affiliate_id`,
      { start },
    );
    for (const r of rows) {
      const key = crosswalk.keyOf('affiliate', legacy, r.affiliate_id);
      revenue.set(key, (revenue.get(key) ?? 0n) + toMicros(r.revenue));
    }
  }
  const manual = await db.query<{ canonical_key: string; tier: number; due_date: string; legacy_revenue: string }>(
    `SELECT canonical_key, tier, DATE_FORMAT(due_date, '%Y-%m-%d') AS due_date, legacy_revenue FROM ${names.core}.migration_plan WHERE source = 'manual'`,
  );
  const manualKeys = new Set(manual.map((m) => m.canonical_key));
  const ranked = [...revenue.entries()].sort((a, b) => (a[1] === b[1] ? (a[0] < b[0] ? -1 : 1) : a[1] > b[1] ? -1 : 1));
  const { shares, dueDays } = config.migration.waves;
  const totalShare = shares.reduce((a, b) => a + b, 0);
  const n = ranked.length;
  const bounds: number[] = [];
  let cum = 0;
  for (let i = 0; i < shares.length; i++) {
    cum += shares[i];
    bounds.push(i === shares.length - 1 ? n : Math.round((cum / totalShare) * n));
  }
  const startMs = Date.parse(`${config.migration.startDate}T00:00:00Z`);
  const out: PlanRow[] = [];
  ranked.forEach(([key, rev], idx) => {
    const tierIdx = bounds.findIndex((b) => idx < b);
    const tier = (tierIdx === -1 ? shares.length - 1 : tierIdx) + 1;
    out.push({
      canonical_key: key,
      tier,
      due_date: new Date(startMs + dueDays[tier - 1] * DAY_MS).toISOString().slice(0, 10),
      legacy_revenue: fromMicros(rev, 6),
      source: 'auto',
    });
  });
  const auto = out.filter((r) => !manualKeys.has(r.canonical_key));
  const stamp = now.toISOString().replace('T', ' ').slice(0, 23);
  await db.batch(
    `INSERT INTO ${names.core}.migration_plan (canonical_key, tier, due_date, legacy_revenue, source, updated_at)
     VALUES (:key, :tier, :due, :rev, 'auto', :now)
     ON DUPLICATE KEY UPDATE
       tier = IF(source = 'manual', tier, VALUES(tier)),
       due_date = IF(source = 'manual', due_date, VALUES(due_date)),
       legacy_revenue = IF(source = 'manual', legacy_revenue, VALUES(legacy_revenue)),
       updated_at = IF(source = 'manual', updated_at, VALUES(updated_at))`,
    auto.map((r) => ({ key: r.canonical_key, tier: r.tier, due: r.due_date, rev: r.legacy_revenue, now: stamp })),
  );
  const manualRows: PlanRow[] = manual.map((m) => ({
    canonical_key: m.canonical_key,
    tier: m.tier,
    due_date: m.due_date,
    legacy_revenue: fromMicros(toMicros(m.legacy_revenue), 6),
    source: 'manual',
  }));
  return [...out.filter((r) => !manualKeys.has(r.canonical_key)), ...manualRows].sort(
    (a, b) =>
      a.tier - b.tier ||
      (toMicros(b.legacy_revenue) > toMicros(a.legacy_revenue)
        ? 1
        : toMicros(b.legacy_revenue) < toMicros(a.legacy_revenue)
          ? -1
          : a.canonical_key < b.canonical_key
            ? -1
            : 1),
  );
}
