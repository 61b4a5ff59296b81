import type { Finding, RuleContext, RuleDefinition } from './types.js';
import { fingerprintOf, severityFor } from './types.js';
import { dateOf, hourCutoff, isoDay, orderIds, plural, sqlTime } from './common.js';
import { formatMoney, fromMicros, toMicros } from './money.js';
import { DAY_MS } from '../util/time.js';

/**
 * migration-lagging-partner (docs/design.md §6): a partner (affiliate) in `migration_plan` whose wave
 * `due_date` has passed — `at` ≥ due_date + 1 day 00:00 UTC, i.e. the whole due day is over — and who
 * has sent no clicks to the target platform (hourly_rollups, through the crosswalk) since
 * migration.startDate. A plan key without a target id in the crosswalk (including unmapped legacy
 * affiliates, keyed `<platform>:<id>`) has by definition no target traffic. Info severity.
 */

export const migrationLaggingPartner: RuleDefinition = {
  id: 'migration-lagging-partner',
  defaultSeverity: 'info',
  async evaluate(ctx: RuleContext): Promise<Finding[]> {
    const target = ctx.config.migration.target;
    const start = dateOf(ctx.config.migration.startDate);
    const to = hourCutoff(ctx.at);
    const lastDue = isoDay(new Date(ctx.at.getTime() - DAY_MS));
    const plan = await ctx.db.query<{ canonical_key: string; tier: number; due_date: string; legacy_revenue: string }>(
      `SELECT canonical_key, tier, DATE_FORMAT(due_date, '%Y-%m-%d') AS due_date, legacy_revenue FROM ${ctx.names.core}.migration_plan
       WHERE due_date <= :last ORDER BY tier, legacy_revenue DESC, canonical_key`,
      { last: lastDue },
    );
    const rows = plan.map((row) => {
      const unmapped = /^([a-z][a-z0-9]*):(.+)$/.exec(row.canonical_key);
      const known = ctx.crosswalk.idsOf('affiliate', row.canonical_key);
      const ids =
        Object.keys(known).length > 0
          ? known
          : unmapped && unmapped[1] in ctx.config.platforms
            ? { [unmapped[1]]: unmapped[2] }
            : {};
      const targetIds = ids[target] !== undefined ? [ids[target]] : [];
      return { row, ids, targetIds };
    });
    const withTraffic = await targetIdsWithClicks(
      ctx,
      target,
      rows.flatMap((r) => r.targetIds),
      start,
      to,
    );
    const out: Finding[] = [];
    for (const { row, ids, targetIds } of rows) {
      // Clicks are counts (never negative), so "SUM(clicks) > 0" is "some rollup row has clicks".
      if (targetIds.some((id) => withTraffic.has(id))) continue;
      const daysLate = Math.floor((ctx.at.getTime() - dateOf(row.due_date).getTime()) / DAY_MS);
      const affiliate = orderIds(ctx.config, ids);
      const revenue = toMicros(row.legacy_revenue);
      out.push({
        rule: migrationLaggingPartner.id,
        severity: severityFor(ctx.config, migrationLaggingPartner),
        fingerprint: fingerprintOf(migrationLaggingPartner.id, { affiliate: row.canonical_key }),
        subject: {
          affiliate,
          platforms: [...ctx.config.migration.legacy.filter((p) => p in affiliate), target],
          canonical_key: row.canonical_key,
        },
        summary:
          `Tier ${row.tier} partner ${await ctx.labels.label('affiliate', affiliate)} was due on ${target} by ${row.due_date} ` +
          `(${plural(daysLate, 'day')} ago) and has sent no ${target} traffic since ${ctx.config.migration.startDate}` +
          `${targetIds.length === 0 ? ` (no ${target} account in the crosswalk)` : ''}; legacy revenue before the move: ${formatMoney(revenue)}.`,
        metrics: {
          tier: row.tier,
          due_date: row.due_date,
          days_overdue: daysLate,
          target_clicks: 0,
          target_mapped: targetIds.length > 0,
          legacy_revenue_before_start: fromMicros(revenue),
        },
        evidence: [],
        money_at_risk: null,
      });
    }
    return out;
  },
};

const ID_CHUNK = 150; // ids per query: keeps the SQL text far below the Data API's 65,536 characters

/**
 * The given target-platform affiliate ids that have a rollup row with clicks in [from, to). One
 * statement per ID_CHUNK ids instead of one SUM per partner; EXISTS stops at the first such row
 * (hourly_rollups_affiliate (affiliate_id, hour)) instead of reading all of the partner's rows: the
 * per-partner SUMs took 3 s at 16M clicks (bench/RESULTS.md). Each id is compared in SQL, as the
 * database compares ids.
 */
async function targetIdsWithClicks(
  ctx: RuleContext,
  target: string,
  ids: string[],
  from: Date,
  to: Date,
): Promise<Set<string>> {
  const found = new Set<string>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += ID_CHUNK) {
    const chunk = unique.slice(i, i + ID_CHUNK);
    const params: Record<string, string> = { from: sqlTime(from), to: sqlTime(to) };
    const list = chunk.map((id, j) => {
      params[`i${j}`] = id;
      return `SELECT ${j} AS k, :i${j} AS id`;
    });
    const rows = await ctx.db.query<{ k: number | string }>(
      `SELECT t.k FROM (${list.join(' UNION ALL ')}) t
       WHERE EXISTS (SELECT 1 FROM ${ctx.names.platform(target)}.hourly_rollups r
                     WHERE r.affiliate_id = t.id AND r.hour >= :from AND r.hour < :to AND r.clicks > 0)`,
      params,
    );
    for (const r of rows) found.add(chunk[Number(r.k)]);
  }
  return found;
}
