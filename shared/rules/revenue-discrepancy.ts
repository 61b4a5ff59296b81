import type { Finding, RuleContext, RuleDefinition } from './types.js';
import { fingerprintOf, severityFor } from './types.js';
import { dateOf, isoDay, orderedPlatforms, pct, round, sqlTime, utcDayStart } from './common.js';
import { divMicros, formatMoney, fromMicros, microsToNumber, toMicros } from './money.js';
import { meanAndSd, normalUpperTail } from './stats.js';
import { DAY_MS } from '../util/time.js';

/**
 * revenue-discrepancy (docs/design.md §6): total revenue across ALL platforms per UTC day (from
 * hourly_rollups), for each of the last `days` complete UTC days before `at`, against the mean of the
 * `baselineWeeks` previous same weekdays (d − 7, d − 14, …). Fires on a day whose revenue is below the
 * baseline mean by at least `minDrop` (relative) AND whose shortfall is significant against the
 * baseline's day-to-day variance: z = (mean − actual) / sd (sample sd of the baseline days), one-sided
 * p = P(Z ≥ z) < `pValue`. A baseline with zero spread makes any drop ≥ minDrop significant.
 *
 * Days are UTC days and every UTC day has 24 hours, so a US DST change (a 23- or 25-hour local day)
 * does not shorten or lengthen the compared day. A day is only judged when every baseline day is on
 * or after the first day any platform has data (installing mid-migration must not read "no history"
 * as "revenue fell"). Money at risk = baseline mean − actual. Revenue is summed as stored (no FX).
 * One finding per day (fingerprint: rule + date).
 */

export const revenueDiscrepancy: RuleDefinition = {
  id: 'revenue-discrepancy',
  defaultSeverity: 'warning',
  async evaluate(ctx: RuleContext): Promise<Finding[]> {
    const cfg = ctx.config.rules['revenue-discrepancy'];
    const platforms = orderedPlatforms(ctx.config);
    const lastDay = new Date(utcDayStart(ctx.at).getTime() - DAY_MS);
    const firstDay = new Date(lastDay.getTime() - (cfg.days - 1) * DAY_MS);
    const from = new Date(firstDay.getTime() - cfg.baselineWeeks * 7 * DAY_MS);
    const to = new Date(lastDay.getTime() + DAY_MS);

    const totals = new Map<string, bigint>();
    let earliest: string | null = null;
    // One independent read per platform: all at once.
    const perPlatform = await Promise.all(
      platforms.map(async (p) => {
        const db = ctx.names.platform(p);
        const [first] = await ctx.db.query<{ first: string | null }>(
          `SELECT MIN(hour) AS first FROM ${db}.hourly_rollups`,
        );
        const rows = await ctx.db.query<{ day: string; revenue: string }>(
          `SELECT DATE_FORMAT(hour, '%Y-%m-%d') AS day, SUM(revenue) AS revenue FROM ${db}.hourly_rollups
           WHERE hour >= :from AND hour < :to GROUP BY DATE_FORMAT(hour, '%Y-%m-%d')`,
          { from: sqlTime(from), to: sqlTime(to) },
        );
        return { first: first?.first ?? null, rows };
      }),
    );
    for (const { first, rows } of perPlatform) {
      if (first) {
        const d = first.slice(0, 10);
        if (earliest === null || d < earliest) earliest = d;
      }
      for (const r of rows) totals.set(r.day, (totals.get(r.day) ?? 0n) + toMicros(r.revenue));
    }
    if (earliest === null) return [];

    const out: Finding[] = [];
    for (let t = firstDay.getTime(); t <= lastDay.getTime(); t += DAY_MS) {
      const day = isoDay(new Date(t));
      const baselineDays = Array.from({ length: cfg.baselineWeeks }, (_, k) =>
        isoDay(new Date(t - (k + 1) * 7 * DAY_MS)),
      );
      if (baselineDays.some((d) => d < earliest!)) continue;
      const actual = totals.get(day) ?? 0n;
      const base = baselineDays.map((d) => totals.get(d) ?? 0n);
      const meanMicros = divMicros(
        base.reduce((a, b) => a + b, 0n),
        base.length,
      );
      if (meanMicros <= 0n) continue;
      const shortfall = meanMicros - actual;
      const drop = microsToNumber(shortfall) / microsToNumber(meanMicros);
      if (!(drop >= cfg.minDrop)) continue;
      const { sd } = meanAndSd(base.map(microsToNumber));
      const z = sd > 0 ? microsToNumber(shortfall) / sd : Infinity;
      const p = sd > 0 ? normalUpperTail(z) : 0;
      if (!(p < cfg.pValue)) continue;
      const weekday = dateOf(day).toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' });
      out.push({
        rule: revenueDiscrepancy.id,
        severity: severityFor(ctx.config, revenueDiscrepancy),
        fingerprint: fingerprintOf(revenueDiscrepancy.id, { date: day }),
        subject: { platforms, date: day },
        summary:
          `Revenue on ${weekday} ${day} (UTC) across ${platforms.join(', ')} was ${formatMoney(actual)}, ${pct(drop, 0)} below the ` +
          `${cfg.baselineWeeks}-week ${weekday} average of ${formatMoney(meanMicros)}: ${formatMoney(shortfall)} may be missing (data lost in the move?).`,
        metrics: {
          date: day,
          revenue: fromMicros(actual),
          baseline_mean: fromMicros(meanMicros),
          baseline_sd: round(sd, 2),
          drop: round(drop, 4),
          z: Number.isFinite(z) ? round(z, 3) : null,
          p_value: Number(p.toPrecision(3)),
        },
        evidence: baselineDays.map((d, k) => ({ baseline_day: d, revenue: fromMicros(base[k]) })).slice(0, 5),
        money_at_risk: fromMicros(shortfall),
      });
    }
    return out;
  },
};
