import type { Config } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import { Crosswalk } from '../rules/crosswalk.js';
import { dateOf, hourCutoff, isoDay, isoFromSql, orderIds, sqlTime } from '../rules/common.js';
import type { PlatformIds } from '../rules/types.js';
import { DAY_MS, HOUR_MS } from '../util/time.js';

/**
 * Per-affiliate migration state (docs/design.md §9) at `at`, with the days it changed.
 *
 * - Affiliates: every crosswalk affiliate key, plus every legacy/target affiliate id seen in the
 *   hourly rollups before `at` that is not in the crosswalk (keyed `<platform>:<id>`, canonical key null).
 * - State from NEW clicks (rollup `clicks`, i.e. by click time) over the 7 days before an evaluation
 *   time t (complete rollup hours in [t − 7 d, t)): legacy clicks only → `legacy-only`; legacy and
 *   target → `dual`; target only → `migrated`, or `retired` when every legacy account the affiliate
 *   has (crosswalk + ids seen) is `inactive` in its legacy platform's entity list; no clicks → the
 *   previous state. Before any evaluation an affiliate is `legacy-only`. An affiliate that only ever
 *   had target traffic (a new partner) is `migrated` as soon as it has clicks: nothing left to move.
 * - History: evaluated deterministically at every 00:00 UTC from migration.startDate − 7 days up to
 *   `at`, then at `at` itself (hour cutoff, like the rules). A change found at t is dated on the
 *   UTC day of t − 1 ms, the last day whose clicks the window holds: a partner whose first target
 *   click is on day M turns `dual` on M, and one whose last legacy click is on day L turns
 *   `migrated` on L + 7.
 * - Entity status has no history here: `retired` uses the status as stored now, so a partner whose
 *   legacy account was closed shows `retired` (not `migrated`) for the whole period after its move.
 * Platforms that are neither legacy nor the target (a Partnerize source) do not count.
 */

export type MigrationState = 'legacy-only' | 'dual' | 'migrated' | 'retired';
export const MIGRATION_STATES: readonly MigrationState[] = ['legacy-only', 'dual', 'migrated', 'retired'];

export interface StateChange {
  /** UTC day (`YYYY-MM-DD`). */
  on: string;
  from: MigrationState;
  to: MigrationState;
}

export interface AffiliateMigration {
  /** Canonical key, or `<platform>:<id>` for an affiliate not in the crosswalk. */
  key: string;
  canonical_key: string | null;
  /** Platform ids, legacy first, target last. */
  ids: PlatformIds;
  state: MigrationState;
  changes: StateChange[];
  /** ISO times (seconds, `Z`) of the first target click and last legacy click before `at`; null when none. */
  first_target_click_at: string | null;
  last_legacy_click_at: string | null;
  /** Legacy accounts all inactive in the legacy entity lists (and at least one known). */
  legacy_inactive: boolean;
}

export interface MigrationStates {
  at: Date;
  /** Rollup hours before this count (hourCutoff(at)). */
  cutoff: Date;
  affiliates: AffiliateMigration[];
  crosswalk: Crosswalk;
}

const WINDOW_DAYS = 7;

export async function computeMigrationStates(
  db: Db,
  names: DbNames,
  config: Config,
  at: Date,
): Promise<MigrationStates> {
  const crosswalk = await Crosswalk.load(db, names);
  const { legacy, target } = config.migration;
  const platforms = [...legacy, target].filter((p) => p in config.platforms);
  const cutoff = hourCutoff(at);
  const walkStart = new Date(dateOf(config.migration.startDate).getTime() - WINDOW_DAYS * DAY_MS);
  const dataFrom = new Date(walkStart.getTime() - WINDOW_DAYS * DAY_MS);
  const lastBoundary = new Date(Math.floor(cutoff.getTime() / DAY_MS) * DAY_MS);
  const nDays = Math.max(0, Math.round((lastBoundary.getTime() - dataFrom.getTime()) / DAY_MS));

  // Affiliates: crosswalk keys first, then unmapped ids seen in the data.
  const entries = new Map<
    string,
    {
      canonical: string | null;
      ids: PlatformIds;
      legacyDaily: number[];
      targetDaily: number[];
      legacyTail: number;
      targetTail: number;
      firstTarget: string | null;
      lastLegacy: Record<string, string>;
    }
  >();
  const entry = (key: string, canonical: string | null) => {
    let e = entries.get(key);
    if (!e) {
      e = {
        canonical,
        ids: canonical ? crosswalk.idsOf('affiliate', canonical) : {},
        legacyDaily: new Array(nDays).fill(0),
        targetDaily: new Array(nDays).fill(0),
        legacyTail: 0,
        targetTail: 0,
        firstTarget: null,
        lastLegacy: {},
      };
      entries.set(key, e);
    }
    return e;
  };
  const mapped = await db.query<{ canonical_key: string }>(
    `SELECT DISTINCT canonical_key FROM ${names.core}.entity_map WHERE entity_type = 'affiliate' ORDER BY canonical_key`,
  );
  for (const r of mapped) entry(r.canonical_key, r.canonical_key);
  const forId = (p: string, id: string) => {
    const canonical = crosswalk.canonical('affiliate', p, id) ?? null;
    const e = entry(canonical ?? `${p}:${id}`, canonical);
    if (e.ids[p] === undefined) e.ids[p] = id;
    return e;
  };

  const tailFrom = new Date(cutoff.getTime() - WINDOW_DAYS * DAY_MS);
  for (const p of platforms) {
    const isTarget = p === target;
    const seen = await db.query<{ affiliate_id: string; first_h: string; last_h: string }>(
      `SELECT affiliate_id, MIN(hour) AS first_h, MAX(hour) AS last_h FROM ${names.platform(p)}.hourly_rollups WHERE hour < :cut AND clicks > 0 GROUP BY affiliate_id`,
      { cut: sqlTime(cutoff) },
    );
    for (const r of seen) {
      const e = forId(p, r.affiliate_id);
      if (isTarget) e.firstTarget = minTime(e.firstTarget, String(r.first_h));
      else e.lastLegacy[p] = maxTime(e.lastLegacy[p] ?? null, String(r.last_h));
    }
    if (nDays > 0) {
      const daily = await db.query<{ d: string; affiliate_id: string; clicks: string | number }>(
        `SELECT DATE_FORMAT(hour, '%Y-%m-%d') AS d, affiliate_id, SUM(clicks) AS clicks FROM ${names.platform(p)}.hourly_rollups
         WHERE hour >= :from AND hour < :to AND clicks > 0 GROUP BY DATE_FORMAT(hour, '%Y-%m-%d'), affiliate_id`,
        { from: sqlTime(dataFrom), to: sqlTime(lastBoundary) },
      );
      for (const r of daily) {
        const i = Math.round((dateOf(r.d).getTime() - dataFrom.getTime()) / DAY_MS);
        const e = forId(p, r.affiliate_id);
        (isTarget ? e.targetDaily : e.legacyDaily)[i] += Number(r.clicks);
      }
    }
    if (cutoff.getTime() !== lastBoundary.getTime()) {
      const tail = await db.query<{ affiliate_id: string; clicks: string | number }>(
        `SELECT affiliate_id, SUM(clicks) AS clicks FROM ${names.platform(p)}.hourly_rollups WHERE hour >= :from AND hour < :to AND clicks > 0 GROUP BY affiliate_id`,
        { from: sqlTime(tailFrom), to: sqlTime(cutoff) },
      );
      for (const r of tail) {
        const e = forId(p, r.affiliate_id);
        if (isTarget) e.targetTail += Number(r.clicks);
        else e.legacyTail += Number(r.clicks);
      }
    }
  }

  const inactive = await legacyInactiveIds(
    db,
    names,
    legacy.filter((p) => p in config.platforms),
  );
  const exactFirst = await exactClickTimes(
    db,
    names,
    target,
    'MIN',
    [...entries.values()]
      .filter((e) => e.firstTarget && e.ids[target] !== undefined)
      .map((e) => ({ id: e.ids[target], hour: e.firstTarget! })),
  );
  const exactLast = new Map<string, string>();
  for (const p of legacy.filter((x) => x in config.platforms)) {
    const found = await exactClickTimes(
      db,
      names,
      p,
      'MAX',
      [...entries.values()]
        .filter((e) => e.lastLegacy[p] && e.ids[p] !== undefined)
        .map((e) => ({ id: e.ids[p], hour: e.lastLegacy[p] })),
    );
    for (const [id, t] of found) exactLast.set(`${p}\u0000${id}`, t);
  }

  const out: AffiliateMigration[] = [];
  for (const [key, e] of entries) {
    const legacyIds = legacy.filter((p) => e.ids[p] !== undefined);
    const legacyInactive = legacyIds.length > 0 && legacyIds.every((p) => inactive.has(`${p}\u0000${e.ids[p]}`));
    const onTarget = legacyInactive ? 'retired' : 'migrated';
    let state: MigrationState = 'legacy-only';
    const changes: StateChange[] = [];
    const step = (t: Date, l: number, tg: number) => {
      let next: MigrationState = state;
      if (l > 0 && tg > 0) next = 'dual';
      else if (l > 0) next = 'legacy-only';
      else if (tg > 0) next = onTarget;
      if (next !== state) changes.push({ on: isoDay(new Date(t.getTime() - 1)), from: state, to: next });
      state = next;
    };
    // Prefix sums make every 7-day window O(1).
    const pl = prefix(e.legacyDaily);
    const pt = prefix(e.targetDaily);
    for (let k = WINDOW_DAYS; k <= nDays; k++) {
      const t = new Date(dataFrom.getTime() + k * DAY_MS);
      if (t.getTime() < walkStart.getTime()) continue;
      step(t, pl[k] - pl[k - WINDOW_DAYS], pt[k] - pt[k - WINDOW_DAYS]);
    }
    if (cutoff.getTime() !== lastBoundary.getTime()) step(cutoff, e.legacyTail, e.targetTail);
    else if (nDays < WINDOW_DAYS) {
      // `at` before the walk's first boundary: one evaluation at the cutoff from the daily sums.
      step(cutoff, sum(e.legacyDaily), sum(e.targetDaily));
    }
    let lastLegacy: string | null = null;
    for (const p of legacyIds) {
      const t = exactLast.get(`${p}\u0000${e.ids[p]}`);
      if (t && (!lastLegacy || t > lastLegacy)) lastLegacy = t;
    }
    out.push({
      key,
      canonical_key: e.canonical,
      ids: orderIds(config, e.ids),
      state,
      changes,
      first_target_click_at: e.ids[target] !== undefined ? (exactFirst.get(e.ids[target]) ?? null) : null,
      last_legacy_click_at: lastLegacy,
      legacy_inactive: legacyInactive,
    });
  }
  return { at, cutoff, affiliates: out, crosswalk };
}

async function legacyInactiveIds(db: Db, names: DbNames, legacy: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const p of legacy) {
    const rows = await db.query<{ id: string }>(
      `SELECT id FROM ${names.platform(p)}.affiliates WHERE status = 'inactive'`,
    );
    for (const r of rows) out.add(`${p}\u0000${r.id}`);
  }
  return out;
}

/**
 * The exact first (MIN) or last (MAX) click time of each affiliate inside the rollup hour found
 * for it: one indexed range of one hour on `clicks_time_rollup` (covering) per affiliate, 100 per statement.
 * When raw clicks were purged (retention), the hour itself is the answer (start of the hour for
 * MIN, its last second for MAX).
 */
async function exactClickTimes(
  db: Db,
  names: DbNames,
  platform: string,
  fn: 'MIN' | 'MAX',
  items: { id: string; hour: string }[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < items.length; i += 100) {
    const chunk = items.slice(i, i + 100);
    const params: Record<string, string> = {};
    const conds = chunk.map((it, j) => {
      const h = Date.parse(`${String(it.hour).replace(' ', 'T').slice(0, 19)}Z`);
      params[`a${j}`] = it.id;
      params[`f${j}`] = sqlTime(new Date(h));
      params[`t${j}`] = sqlTime(new Date(h + HOUR_MS));
      return `(clicked_at >= :f${j} AND clicked_at < :t${j} AND affiliate_id = :a${j})`;
    });
    const rows = await db.query<{ affiliate_id: string; t: string }>(
      `SELECT affiliate_id, ${fn}(clicked_at) AS t FROM ${names.platform(platform)}.clicks WHERE ${conds.join(' OR ')} GROUP BY affiliate_id`,
      params,
    );
    for (const r of rows) out.set(r.affiliate_id, isoSeconds(r.t));
    for (const it of chunk) {
      if (out.has(it.id)) continue;
      const h = Date.parse(`${String(it.hour).replace(' ', 'T').slice(0, 19)}Z`);
      out.set(it.id, new Date(fn === 'MIN' ? h : h + HOUR_MS - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    }
  }
  return out;
}

/** `2026-10-20 13:02:11.123` → `2026-10-20T13:02:11Z` (the DESIGN §9 example's precision). */
export function isoSeconds(sql: unknown): string {
  return (isoFromSql(sql) as string).replace(/\.\d{3}Z$/, 'Z');
}

function prefix(a: number[]): number[] {
  const p = [0];
  for (const x of a) p.push(p[p.length - 1] + x);
  return p;
}

function sum(a: number[]): number {
  return a.reduce((x, y) => x + y, 0);
}

function minTime(a: string | null, b: string): string {
  return a === null || b < a ? b : a;
}
function maxTime(a: string | null, b: string): string {
  return a === null || b > a ? b : a;
}
