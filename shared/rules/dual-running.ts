import type { Finding, RuleContext, RuleDefinition } from './types.js';
import { fingerprintOf, severityFor } from './types.js';
import { hourCutoff, moneyLookbackStart, orderIds, plural, sqlTime, takeEvidence } from './common.js';
import { formatMoney, fromMicros, sumMoney, toMicros } from './money.js';

/**
 * dual-running (DESIGN.md §6): a mapped affiliate sends NEW traffic to the same mapped offer on a
 * legacy platform and on the target at the same time. Traffic = clicks from hourly_rollups (late
 * conversions from old legacy clicks are expected during a move and are not "running both").
 *
 * "Same window" = the same UTC day: the rule fires when, on at least one UTC day in the lookback,
 * the affiliate × offer has ≥ `minClicks` clicks on the legacy platform AND ≥ `minClicks` on the
 * target. A clean switch (legacy clicks stop, target clicks start) has at most one day with both —
 * the switch day — and then only if both halves of that day reach `minClicks` each; an affiliate
 * running both keeps producing such days. Only complete hours before `at` count. The lookback is
 * the money-at-risk one (migration.startDate, at most `maxLookbackDays`).
 *
 * Money at risk: for each dual day, the smaller of the two sides' payout (what could be paid twice
 * if the same users are counted on both), summed. One finding per legacy platform × affiliate × offer.
 */

type DayRow = {
  aff_key: string;
  offer_key: string;
  day: string;
  platform_aff: string;
  platform_offer: string;
  clicks: string | number;
  payout: string;
};

export const dualRunning: RuleDefinition = {
  id: 'dual-running',
  defaultSeverity: 'warning',
  async evaluate(ctx: RuleContext): Promise<Finding[]> {
    const cfg = ctx.config.rules['dual-running'];
    const from = moneyLookbackStart(ctx.config, ctx.at, cfg.maxLookbackDays);
    const to = hourCutoff(ctx.at);
    if (from >= to) return [];
    const target = ctx.config.migration.target;
    // The target's and every legacy platform's days are independent reads: all at once.
    const legacies = ctx.config.migration.legacy;
    const [targetDays, ...legacyDaysAll] = await Promise.all(
      [target, ...legacies].map((p) => dailyByCanonical(ctx, p, from, to, cfg.minClicks)),
    );
    const targetIndex = new Map(targetDays.map((r) => [`${r.aff_key}\u0000${r.offer_key}\u0000${r.day}`, r]));
    const out: Finding[] = [];
    for (const [li, legacy] of legacies.entries()) {
      const legacyDays = legacyDaysAll[li];
      const groups = new Map<string, { l: DayRow; t: DayRow }[]>();
      for (const l of legacyDays) {
        const t = targetIndex.get(`${l.aff_key}\u0000${l.offer_key}\u0000${l.day}`);
        if (!t) continue;
        const k = `${l.aff_key}\u0000${l.offer_key}`;
        const g = groups.get(k) ?? [];
        g.push({ l, t });
        groups.set(k, g);
      }
      for (const [k, days] of groups) {
        const [affKey, offerKey] = k.split('\u0000');
        const affiliate = orderIds(
          ctx.config,
          ctx.crosswalk.subjectIds('affiliate', { [legacy]: days[0].l.platform_aff, [target]: days[0].t.platform_aff }),
        );
        const offer = orderIds(
          ctx.config,
          ctx.crosswalk.subjectIds('offer', { [legacy]: days[0].l.platform_offer, [target]: days[0].t.platform_offer }),
        );
        const legacyClicks = days.reduce((s, d) => s + Number(d.l.clicks), 0);
        const targetClicks = days.reduce((s, d) => s + Number(d.t.clicks), 0);
        const money = days.reduce((s, d) => {
          const a = toMicros(d.l.payout);
          const b = toMicros(d.t.payout);
          return s + (a < b ? a : b);
        }, 0n);
        const first = days[0].l.day;
        const last = days[days.length - 1].l.day;
        out.push({
          rule: dualRunning.id,
          severity: severityFor(ctx.config, dualRunning),
          fingerprint: fingerprintOf(dualRunning.id, {
            platforms: [legacy, target],
            affiliate: affKey,
            offer: offerKey,
          }),
          subject: { offer, affiliate, platforms: [legacy, target] },
          summary:
            `Affiliate ${await ctx.labels.label('affiliate', affiliate)} is sending traffic to offer ${await ctx.labels.label('offer', offer)} on both ${legacy} and ${target}: ` +
            `${plural(days.length, 'day')} with ≥ ${cfg.minClicks} clicks on each (${first}${first === last ? '' : ` to ${last}`}; ${legacyClicks.toLocaleString('en-US')} ${legacy} / ${targetClicks.toLocaleString('en-US')} ${target} clicks)` +
            (money > 0n ? `; up to ${formatMoney(money)} in payout could be paid twice.` : '.'),
          metrics: {
            dual_days: days.length,
            first_dual_day: first,
            last_dual_day: last,
            legacy_clicks: legacyClicks,
            target_clicks: targetClicks,
            min_clicks: cfg.minClicks,
          },
          evidence: takeEvidence(
            [...days].reverse().map((d) => ({
              day: d.l.day,
              [`${legacy}_clicks`]: Number(d.l.clicks),
              [`${target}_clicks`]: Number(d.t.clicks),
              [`${legacy}_payout`]: fromMicros(sumMoney([d.l.payout])),
              [`${target}_payout`]: fromMicros(sumMoney([d.t.payout])),
            })),
          ),
          money_at_risk: fromMicros(money),
        });
      }
    }
    return out;
  },
};

/**
 * Clicks per canonical affiliate × canonical offer × UTC day on one platform, days with ≥ minClicks only.
 * The window's rollups are summed per platform affiliate × offer × day first (one read of the
 * hourly_rollups primary key range, in hour order), and only those sums are joined to the
 * crosswalk (STRAIGHT_JOIN keeps that order). Joining first made the optimizer start from
 * entity_map and fetch every rollup row through hourly_rollups_affiliate, one random primary-key
 * lookup each: 4–6 s per platform at 16M clicks (bench/RESULTS.md). Sums of sums and MIN of MINs
 * give the same values.
 */
async function dailyByCanonical(
  ctx: RuleContext,
  platform: string,
  from: Date,
  to: Date,
  minClicks: number,
): Promise<DayRow[]> {
  return ctx.db.query<DayRow>(
    `SELECT STRAIGHT_JOIN ma.canonical_key AS aff_key, mo.canonical_key AS offer_key, d.day,
            MIN(d.affiliate_id) AS platform_aff, MIN(d.offer_id) AS platform_offer, SUM(d.clicks) AS clicks, SUM(d.payout) AS payout
     FROM (SELECT affiliate_id, offer_id, DATE_FORMAT(hour, '%Y-%m-%d') AS day, SUM(clicks) AS clicks, SUM(payout) AS payout
           FROM ${ctx.names.platform(platform)}.hourly_rollups
           WHERE hour >= :from AND hour < :to
           GROUP BY affiliate_id, offer_id, DATE_FORMAT(hour, '%Y-%m-%d')) d
     JOIN ${ctx.names.core}.entity_map ma ON ma.entity_type = 'affiliate' AND ma.platform = :p AND ma.platform_id = d.affiliate_id
     JOIN ${ctx.names.core}.entity_map mo ON mo.entity_type = 'offer' AND mo.platform = :p AND mo.platform_id = d.offer_id
     GROUP BY ma.canonical_key, mo.canonical_key, d.day
     HAVING SUM(d.clicks) >= :min
     ORDER BY aff_key, offer_key, day`,
    { p: platform, from: sqlTime(from), to: sqlTime(to), min: minClicks },
  );
}
