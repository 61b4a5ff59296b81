import type { Config } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import { computeMigrationPlan, type PlanRow } from './plan.js';
import {
  computeMigrationStates,
  MIGRATION_STATES,
  type AffiliateMigration,
  type MigrationState,
  type MigrationStates,
} from './state.js';
import { compareConversionRates } from '../rules/conversion-rate-discrepancy.js';
import { Crosswalk } from '../rules/crosswalk.js';
import { dateOf, hourCutoff, isoDay, orderIds, round, sqlTime } from '../rules/common.js';
import { fromMicros, toMicros } from '../rules/money.js';
import type { PlatformIds } from '../rules/types.js';
import { DAY_MS } from '../util/time.js';

/**
 * The migration reports of docs/design.md §9 (`dualtrack report …`). Each returns plain rows; the CLI
 * prints them as a table, JSON lines or CSV. Money is decimal strings with 2 decimals, summed and
 * rounded in SQL (legacy revenue before the start comes from computeMigrationPlan's exact sums).
 */

// ---------------------------------------------------------------------------------------------
// report migration

/** Exactly the docs/design.md §9 JSON object, keys in this order. */
export interface MigrationReportRow {
  affiliate: PlatformIds;
  canonical_key: string | null;
  tier: number | null;
  due_date: string | null;
  state: MigrationState;
  overdue: boolean;
  first_target_click_at: string | null;
  last_legacy_click_at: string | null;
  legacy_revenue_before_start: string;
  revenue_last_7d: Record<string, string>;
}

export interface MigrationReport {
  at: Date;
  rows: MigrationReportRow[];
  states: MigrationStates;
  plan: Map<string, PlanRow>;
}

/**
 * One row per affiliate known to the crosswalk or seen in the data. Tiers and due dates come from
 * computeMigrationPlan (which also refreshes `migration_plan`); affiliates without legacy revenue
 * before the start have no tier. `overdue`: not migrated/retired once its due day is over (`at` ≥
 * due_date + 1 day, as the migration-lagging-partner rule counts). `revenue_last_7d` has every
 * platform the affiliate has an id on, plus the target (0.00 when it has no account there yet).
 * Order: tier, legacy revenue (highest first), key; affiliates without a tier last.
 */
export async function migrationReport(
  db: Db,
  names: DbNames,
  config: Config,
  at: Date,
  now: Date = new Date(),
): Promise<MigrationReport> {
  const planRows = await computeMigrationPlan(db, names, config, now);
  const plan = new Map(planRows.map((p) => [p.canonical_key, p]));
  const states = await computeMigrationStates(db, names, config, at);
  const cutoff = states.cutoff;
  const from = new Date(cutoff.getTime() - 7 * DAY_MS);
  const revenue = new Map<string, string>();
  const reportPlatforms = [
    ...config.migration.legacy,
    config.migration.target,
    ...Object.keys(config.platforms),
  ].filter((p, i, a) => p in config.platforms && a.indexOf(p) === i);
  for (const p of reportPlatforms) {
    const rows = await db.query<{ affiliate_id: string; revenue: string }>(
      `SELECT affiliate_id, CAST(ROUND(SUM(revenue), 2) AS CHAR) AS revenue FROM ${names.platform(p)}.hourly_rollups WHERE hour >= :from AND hour < :to GROUP BY affiliate_id`,
      { from: sqlTime(from), to: sqlTime(cutoff) },
    );
    for (const r of rows) revenue.set(`${p}\u0000${r.affiliate_id}`, money2(r.revenue));
  }
  const target = config.migration.target;
  const rows: (MigrationReportRow & { _rev: bigint; _key: string })[] = states.affiliates.map((a) => {
    const p = plan.get(a.key);
    const rev7: Record<string, string> = {};
    for (const platform of [...Object.keys(a.ids), ...(a.ids[target] === undefined ? [target] : [])])
      rev7[platform] =
        a.ids[platform] !== undefined ? (revenue.get(`${platform}\u0000${a.ids[platform]}`) ?? '0.00') : '0.00';
    const dueOver = p ? at.getTime() >= dateOf(p.due_date).getTime() + DAY_MS : false;
    const legacyRev = p ? toMicros(p.legacy_revenue) : 0n;
    return {
      affiliate: a.ids,
      canonical_key: a.canonical_key,
      tier: p?.tier ?? null,
      due_date: p?.due_date ?? null,
      state: a.state,
      overdue: dueOver && (a.state === 'legacy-only' || a.state === 'dual'),
      first_target_click_at: a.first_target_click_at,
      last_legacy_click_at: a.last_legacy_click_at,
      legacy_revenue_before_start: fromMicros(legacyRev, 2),
      revenue_last_7d: orderIds(config, rev7),
      _rev: legacyRev,
      _key: a.key,
    };
  });
  rows.sort(
    (x, y) =>
      (x.tier ?? 1e9) - (y.tier ?? 1e9) ||
      (x._rev === y._rev ? 0 : x._rev > y._rev ? -1 : 1) ||
      (x._key < y._key ? -1 : x._key > y._key ? 1 : 0),
  );
  return { at, rows: rows.map(({ _rev, _key, ...r }) => r), states, plan };
}

// ---------------------------------------------------------------------------------------------
// report migration --by-day

export interface TransitionDayRow {
  day: string;
  /** Tier number, or null for affiliates outside the plan (no legacy revenue before the start). */
  wave: number | null;
  affiliates: number;
  legacy_only: number;
  dual: number;
  migrated: number;
  retired: number;
  /** Transitions that day, by the state entered. */
  to_dual: number;
  to_migrated: number;
  to_retired: number;
  to_legacy_only: number;
  /** Not migrated/retired at the end of the day although the wave's due day is over. */
  overdue: number;
}

/** Affiliates transitioned per day and wave, with the state counts at the end of each day, from migration.startDate to `at`'s day. */
export function transitionsByDay(report: MigrationReport, config: Config): TransitionDayRow[] {
  const first = dateOf(config.migration.startDate).getTime();
  const last = Math.floor((report.states.cutoff.getTime() - 1) / DAY_MS) * DAY_MS;
  const planOf = (a: AffiliateMigration) => report.plan.get(a.key);
  const waves = [...new Set(report.states.affiliates.map((a) => planOf(a)?.tier ?? null))].sort(
    (x, y) => (x ?? 1e9) - (y ?? 1e9),
  );
  const out: TransitionDayRow[] = [];
  for (let d = first; d <= last; d += DAY_MS) {
    const day = isoDay(new Date(d));
    for (const wave of waves) {
      const row: TransitionDayRow = {
        day,
        wave,
        affiliates: 0,
        legacy_only: 0,
        dual: 0,
        migrated: 0,
        retired: 0,
        to_dual: 0,
        to_migrated: 0,
        to_retired: 0,
        to_legacy_only: 0,
        overdue: 0,
      };
      for (const a of report.states.affiliates) {
        const p = planOf(a);
        if ((p?.tier ?? null) !== wave) continue;
        row.affiliates++;
        const state = stateOn(a, day);
        row[STATE_COLUMN[state]]++;
        for (const c of a.changes) if (c.on === day) row[`to_${STATE_COLUMN[c.to]}` as 'to_dual']++;
        if (p && day >= p.due_date && (state === 'legacy-only' || state === 'dual')) row.overdue++;
      }
      out.push(row);
    }
  }
  return out;
}

const STATE_COLUMN: Record<MigrationState, 'legacy_only' | 'dual' | 'migrated' | 'retired'> = {
  'legacy-only': 'legacy_only',
  dual: 'dual',
  migrated: 'migrated',
  retired: 'retired',
};

/** The state at the end of `day` (the last change on or before it; legacy-only before any). */
export function stateOn(a: Pick<AffiliateMigration, 'changes'>, day: string): MigrationState {
  let s: MigrationState = 'legacy-only';
  for (const c of a.changes) {
    if (c.on > day) break;
    s = c.to;
  }
  return s;
}

export function stateCounts(report: MigrationReport): Record<MigrationState, number> {
  const out = Object.fromEntries(MIGRATION_STATES.map((s) => [s, 0])) as Record<MigrationState, number>;
  for (const r of report.rows) out[r.state]++;
  return out;
}

// ---------------------------------------------------------------------------------------------
// report revenue

export interface RevenueDayRow {
  day: string;
  platform: string;
  clicks: number;
  conversions: number;
  events: number;
  revenue: string;
  payout: string;
  /** Revenue in the base currency (fx_rates); null when a rate is missing for that day. */
  revenue_base: string | null;
  currencies: string;
  active_affiliates: number;
}

/**
 * Revenue and conversions by platform per day (the cutover curve) and active affiliates (clicks > 0
 * that day) per platform, for UTC days in [from, to), read from the reporting views that BI reads
 * (daily_platform_traffic, daily_platform_revenue), so the CLI and the dashboards agree.
 */
export async function revenueReport(
  db: Db,
  names: DbNames,
  config: Config,
  from: Date,
  to: Date,
): Promise<RevenueDayRow[]> {
  const traffic = await db.query<{
    day: string;
    platform: string;
    clicks: string | number;
    conversions: string | number;
    events: string | number;
    revenue: string;
    payout: string;
    active_affiliates: string | number;
  }>(
    `SELECT DATE_FORMAT(day, '%Y-%m-%d') AS day, platform, clicks, conversions, events, CAST(ROUND(revenue, 2) AS CHAR) AS revenue, CAST(ROUND(payout, 2) AS CHAR) AS payout, active_affiliates
       FROM ${names.reporting}.daily_platform_traffic WHERE day >= :from AND day < :to`,
    { from: isoDay(from), to: isoDay(to) },
  );
  const money = await db.query<{
    day: string;
    platform: string;
    revenue_base: string | null;
    currencies: string | null;
  }>(
    `SELECT DATE_FORMAT(day, '%Y-%m-%d') AS day, platform, CAST(ROUND(revenue_base, 2) AS CHAR) AS revenue_base, currencies
       FROM ${names.reporting}.daily_platform_revenue WHERE day >= :from AND day < :to`,
    { from: isoDay(from), to: isoDay(to) },
  );
  const base = new Map(money.map((m) => [`${m.day}\u0000${m.platform}`, m]));
  const order = [
    ...config.migration.legacy,
    ...Object.keys(config.platforms).filter(
      (p) => !config.migration.legacy.includes(p) && p !== config.migration.target,
    ),
    config.migration.target,
  ];
  const rows: RevenueDayRow[] = [];
  const byKey = new Map(traffic.map((t) => [`${t.day}\u0000${t.platform}`, t]));
  for (let d = Math.floor(from.getTime() / DAY_MS) * DAY_MS; d < to.getTime(); d += DAY_MS) {
    const day = isoDay(new Date(d));
    for (const platform of order.filter((p) => p in config.platforms)) {
      const t = byKey.get(`${day}\u0000${platform}`);
      const m = base.get(`${day}\u0000${platform}`);
      rows.push({
        day,
        platform,
        clicks: Number(t?.clicks ?? 0),
        conversions: Number(t?.conversions ?? 0),
        events: Number(t?.events ?? 0),
        revenue: money2(t?.revenue ?? '0'),
        payout: money2(t?.payout ?? '0'),
        revenue_base: m ? (m.revenue_base === null ? null : money2(m.revenue_base)) : '0.00',
        currencies: m?.currencies ?? '',
        active_affiliates: Number(t?.active_affiliates ?? 0),
      });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// report reconcile

export type ReconcileVerdict = 'discrepancy' | 'ok' | 'within-tolerance' | 'not-significant' | 'low-volume';

export interface ReconcileRow {
  offer: PlatformIds;
  offer_key: string;
  affiliate: PlatformIds | null;
  affiliate_key: string | null;
  platform_a: string;
  platform_b: string;
  clicks_a: number;
  clicks_b: number;
  conversions_a: number;
  conversions_b: number;
  revenue_a: string;
  revenue_b: string;
  rate_a: number;
  rate_b: number;
  /** rate_b / rate_a − 1 (signed; null when rate_a is 0). */
  rate_difference: number | null;
  /** revenue_b − revenue_a. */
  revenue_difference: string;
  p_value: number;
  verdict: ReconcileVerdict;
}

/**
 * Parallel-run reconciliation per mapped offer and offer × affiliate over the `days` before `at`
 * (default: the conversion-rate-discrepancy window), with the rule's own statistics
 * (compareConversionRates: same volume minimums, tolerance, z-test and Bonferroni m). Verdicts:
 * `discrepancy` — the rule fires for it; `ok` — tested, within tolerance and not significant;
 * `within-tolerance` — significant but smaller than the tolerance; `not-significant` — beyond the
 * tolerance but not significant after correction; `low-volume` — below the minimums, not tested.
 * Offers first (each followed by its affiliates), discrepancies first within an offer.
 */
export async function reconcileReport(
  db: Db,
  names: DbNames,
  config: Config,
  at: Date,
  days?: number,
): Promise<{ from: Date; to: Date; comparisons: number; rows: ReconcileRow[] }> {
  const cfg = config.rules['conversion-rate-discrepancy'];
  const crosswalk = await Crosswalk.load(db, names);
  const r = await compareConversionRates({ db, names, config, at, windowDays: days });
  const rows = r.comparisons.map((c): ReconcileRow & { _o: string; _a: string } => {
    const significant = c.p < r.alpha;
    const beyond = c.relative > cfg.relativeTolerance;
    const verdict: ReconcileVerdict = !c.tested
      ? 'low-volume'
      : c.fires
        ? 'discrepancy'
        : beyond
          ? 'not-significant'
          : significant
            ? 'within-tolerance'
            : 'ok';
    return {
      offer: orderIds(config, crosswalk.subjectIds('offer', { [c.a]: c.sa.offerId, [c.b]: c.sb.offerId })),
      offer_key: c.offerKey,
      affiliate:
        c.affKey !== null
          ? orderIds(config, crosswalk.subjectIds('affiliate', { [c.a]: c.sa.affiliateId!, [c.b]: c.sb.affiliateId! }))
          : null,
      affiliate_key: c.affKey,
      platform_a: c.a,
      platform_b: c.b,
      clicks_a: c.sa.clicks,
      clicks_b: c.sb.clicks,
      conversions_a: c.sa.conversions,
      conversions_b: c.sb.conversions,
      revenue_a: fromMicros(c.sa.revenue, 2),
      revenue_b: fromMicros(c.sb.revenue, 2),
      rate_a: round(c.rateA),
      rate_b: round(c.rateB),
      rate_difference: c.rateA === 0 ? null : round(c.rateB / c.rateA - 1),
      revenue_difference: fromMicros(c.sb.revenue - c.sa.revenue, 2),
      p_value: Number(c.p.toPrecision(3)),
      verdict,
      _o: c.offerKey,
      _a: c.affKey ?? '',
    };
  });
  const rank: Record<ReconcileVerdict, number> = {
    discrepancy: 0,
    'not-significant': 1,
    'within-tolerance': 2,
    ok: 3,
    'low-volume': 4,
  };
  rows.sort(
    (x, y) =>
      (x._o < y._o ? -1 : x._o > y._o ? 1 : 0) ||
      (x._a === '' ? -1 : 0) - (y._a === '' ? -1 : 0) ||
      rank[x.verdict] - rank[y.verdict] ||
      (x._a < y._a ? -1 : x._a > y._a ? 1 : 0) ||
      (x.platform_a < y.platform_a ? -1 : 1),
  );
  return { from: r.from, to: r.to, comparisons: r.m, rows: rows.map(({ _o, _a, ...row }) => row) };
}

// ---------------------------------------------------------------------------------------------
// report unmapped

export interface UnmappedRow {
  platform: string;
  affiliate_id: string;
  name: string | null;
  status: string | null;
  clicks: number;
  conversions: number;
  revenue: string;
  last_seen_on: string;
}

/** Affiliates with traffic in the `days` before `at` that are not in the crosswalk, highest revenue first (so the crosswalk gets fixed where the money is). */
export async function unmappedReport(
  db: Db,
  names: DbNames,
  config: Config,
  at: Date,
  days = 30,
): Promise<UnmappedRow[]> {
  const to = hourCutoff(at);
  const from = new Date(to.getTime() - days * DAY_MS);
  const out: (UnmappedRow & { _rev: bigint })[] = [];
  for (const p of Object.keys(config.platforms)) {
    const rows = await db.query<{
      affiliate_id: string;
      name: string | null;
      status: string | null;
      clicks: string | number;
      conversions: string | number;
      revenue: string;
      last_h: string;
    }>(
      `SELECT r.affiliate_id, a.name, a.status, SUM(r.clicks) AS clicks, SUM(r.conversions) AS conversions, CAST(ROUND(SUM(r.revenue), 2) AS CHAR) AS revenue, DATE_FORMAT(MAX(r.hour), '%Y-%m-%d') AS last_h
         FROM ${names.platform(p)}.hourly_rollups r
         LEFT JOIN ${names.core}.entity_map m ON m.entity_type = 'affiliate' AND m.platform = :p AND m.platform_id = r.affiliate_id
         LEFT JOIN ${names.platform(p)}.affiliates a ON a.id = r.affiliate_id
        WHERE r.hour >= :from AND r.hour < :to AND m.platform_id IS NULL
        GROUP BY r.affiliate_id, a.name, a.status`,
      { p, from: sqlTime(from), to: sqlTime(to) },
    );
    for (const r of rows) {
      const revenue = money2(r.revenue);
      out.push({
        platform: p,
        affiliate_id: r.affiliate_id,
        name: r.name,
        status: r.status,
        clicks: Number(r.clicks),
        conversions: Number(r.conversions),
        revenue,
        last_seen_on: r.last_h,
        _rev: toMicros(revenue),
      });
    }
  }
  out.sort((x, y) =>
    x._rev === y._rev ? (x.platform + x.affiliate_id < y.platform + y.affiliate_id ? -1 : 1) : x._rev > y._rev ? -1 : 1,
  );
  return out.map(({ _rev, ...r }) => r);
}

/** SQL's decimal text with exactly 2 decimals ("12.5" → "12.50", null → "0.00"). */
function money2(v: string | null | undefined): string {
  return fromMicros(toMicros(v ?? '0'), 2);
}
