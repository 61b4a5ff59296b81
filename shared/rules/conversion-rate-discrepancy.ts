import type { Finding, RuleContext, RuleDefinition } from './types.js';
import { fingerprintOf, severityFor } from './types.js';
import { hourCutoff, isoDay, orderIds, orderedPlatforms, pct, round, sqlTime } from './common.js';
import { twoProportionZTest } from './stats.js';
import { toMicros } from './money.js';
import { DAY_MS } from '../util/time.js';

/**
 * conversion-rate-discrepancy (docs/design.md §6): the same mapped offer (and offer × affiliate) converts
 * at different rates on two platforms over the last `windowDays` (complete hours before `at`).
 * Rate = base conversions / clicks from hourly_rollups. For every subject and every pair of
 * platforms where BOTH sides have ≥ `minClicks` clicks and ≥ `minConversions` conversions, one
 * comparison is tested. A comparison fires when all three hold:
 *   - practical: |rate_b / rate_a − 1| > `relativeTolerance`, with `a` the legacy-side (config order
 *     first) platform as the reference;
 *   - statistical: a pooled two-proportion z-test gives p < `pValue` / m (Bonferroni), where m is the
 *     number of comparisons tested in this evaluation (offers and offer × affiliate together);
 *   - volume: the minimums above.
 * Offer × affiliate subjects need the affiliate mapped too; offer totals include unmapped affiliates.
 */

type Agg = {
  offer_key: string;
  aff_key: string | null;
  offer_id: string;
  affiliate_id: string;
  clicks: string | number;
  conversions: string | number;
  revenue: string | null;
};

export interface Side {
  clicks: number;
  conversions: number;
  /** Revenue in micro-units (approved + pending, as stored), for the reconciliation report. */
  revenue: bigint;
  offerId: string;
  affiliateId?: string;
}

/** One comparison of a subject (offer, or offer × affiliate) between two platforms over the window. */
export interface RateComparison {
  offerKey: string;
  affKey: string | null;
  a: string;
  b: string;
  sa: Side;
  sb: Side;
  /** Both sides have the minimum volume, so the comparison counts in the Bonferroni m and may fire. */
  tested: boolean;
  rateA: number;
  rateB: number;
  /** |rate_b / rate_a − 1| (Infinity when rate_a is 0 and rate_b is not). */
  relative: number;
  z: number;
  p: number;
  /** All three conditions of the rule hold: this comparison is a finding. */
  fires: boolean;
}

export interface RateComparisons {
  from: Date;
  to: Date;
  windowDays: number;
  /** Number of tested comparisons (the Bonferroni m) and the corrected threshold. */
  m: number;
  alpha: number;
  comparisons: RateComparison[];
}

/**
 * The rule's statistics for every subject with volume on two platforms in the window, tested or
 * not (the parallel-run reconciliation report shows them all; the rule reports the ones that fire).
 * `windowDays` overrides the configured window (the report's --days); m counts tested comparisons.
 */
export async function compareConversionRates(
  input: Pick<RuleContext, 'db' | 'names' | 'config' | 'at'> & { windowDays?: number },
): Promise<RateComparisons> {
  const cfg = input.config.rules['conversion-rate-discrepancy'];
  const windowDays = input.windowDays ?? cfg.windowDays;
  const to = hourCutoff(input.at);
  const from = new Date(to.getTime() - windowDays * DAY_MS);
  const platforms = orderedPlatforms(input.config);
  // subject key → platform → side
  const subjects = new Map<string, { offerKey: string; affKey: string | null; sides: Map<string, Side> }>();
  // One independent read per platform, all at once; their rows are then merged in platform order.
  const perPlatform = await Promise.all(
    platforms.map((platform) =>
      input.db.query<Agg>(
        // Summed per platform offer × affiliate first (one read of the window's primary-key range),
        // then joined to the crosswalk: joined first, the optimizer fetched every rollup row through a
        // secondary index, 1–3.5 s per platform at 16M clicks (bench/RESULTS.md). Same sums.
        `SELECT STRAIGHT_JOIN mo.canonical_key AS offer_key, ma.canonical_key AS aff_key, MIN(d.offer_id) AS offer_id, MIN(d.affiliate_id) AS affiliate_id,
                SUM(d.clicks) AS clicks, SUM(d.conversions) AS conversions, SUM(d.revenue) AS revenue
         FROM (SELECT offer_id, affiliate_id, SUM(clicks) AS clicks, SUM(conversions) AS conversions, SUM(revenue) AS revenue
               FROM ${input.names.platform(platform)}.hourly_rollups
               WHERE hour >= :from AND hour < :to
               GROUP BY offer_id, affiliate_id) d
         JOIN ${input.names.core}.entity_map mo ON mo.entity_type = 'offer' AND mo.platform = :p AND mo.platform_id = d.offer_id
         LEFT JOIN ${input.names.core}.entity_map ma ON ma.entity_type = 'affiliate' AND ma.platform = :p AND ma.platform_id = d.affiliate_id
         GROUP BY mo.canonical_key, ma.canonical_key`,
        { p: platform, from: sqlTime(from), to: sqlTime(to) },
      ),
    ),
  );
  for (const [pi, platform] of platforms.entries()) {
    const rows = perPlatform[pi];
    for (const r of rows) {
      const clicks = Number(r.clicks);
      const conversions = Number(r.conversions);
      const revenue = toMicros(r.revenue ?? '0');
      const offerSubject = subjectFor(subjects, r.offer_key, null);
      const s = offerSubject.sides.get(platform) ?? { clicks: 0, conversions: 0, revenue: 0n, offerId: r.offer_id };
      s.clicks += clicks;
      s.conversions += conversions;
      s.revenue += revenue;
      offerSubject.sides.set(platform, s);
      if (r.aff_key !== null)
        subjectFor(subjects, r.offer_key, r.aff_key).sides.set(platform, {
          clicks,
          conversions,
          revenue,
          offerId: r.offer_id,
          affiliateId: r.affiliate_id,
        });
    }
  }

  const pairs: Omit<RateComparison, 'rateA' | 'rateB' | 'relative' | 'z' | 'p' | 'fires'>[] = [];
  const keys = [...subjects.keys()].sort();
  for (const k of keys) {
    const s = subjects.get(k)!;
    for (let i = 0; i < platforms.length; i++) {
      for (let j = i + 1; j < platforms.length; j++) {
        const sa = s.sides.get(platforms[i]);
        const sb = s.sides.get(platforms[j]);
        if (!sa || !sb) continue;
        const tested = !(
          sa.clicks < cfg.minClicks ||
          sb.clicks < cfg.minClicks ||
          sa.conversions < cfg.minConversions ||
          sb.conversions < cfg.minConversions
        );
        pairs.push({ offerKey: s.offerKey, affKey: s.affKey, a: platforms[i], b: platforms[j], sa, sb, tested });
      }
    }
  }
  const m = pairs.filter((t) => t.tested).length;
  const alpha = cfg.pValue / Math.max(1, m);
  const comparisons = pairs.map((t): RateComparison => {
    const ra = t.sa.clicks > 0 ? t.sa.conversions / t.sa.clicks : 0;
    const rb = t.sb.clicks > 0 ? t.sb.conversions / t.sb.clicks : 0;
    const rel = ra === 0 ? (rb === 0 ? 0 : Infinity) : Math.abs(rb / ra - 1);
    const { z, p } = twoProportionZTest(t.sa.conversions, t.sa.clicks, t.sb.conversions, t.sb.clicks);
    return {
      ...t,
      rateA: ra,
      rateB: rb,
      relative: rel,
      z,
      p,
      fires: t.tested && rel > cfg.relativeTolerance && p < alpha,
    };
  });
  return { from, to, windowDays, m, alpha, comparisons };
}

export const conversionRateDiscrepancy: RuleDefinition = {
  id: 'conversion-rate-discrepancy',
  defaultSeverity: 'warning',
  async evaluate(ctx: RuleContext): Promise<Finding[]> {
    const cfg = ctx.config.rules['conversion-rate-discrepancy'];
    const { from, m, alpha, comparisons } = await compareConversionRates(ctx);
    const out: Finding[] = [];
    for (const t of comparisons) {
      if (!t.fires) continue;
      const ra = t.rateA;
      const rb = t.rateB;
      const rel = t.relative;
      const { z, p } = t;
      const offer = orderIds(
        ctx.config,
        ctx.crosswalk.subjectIds('offer', { [t.a]: t.sa.offerId, [t.b]: t.sb.offerId }),
      );
      const affiliate =
        t.affKey !== null
          ? orderIds(
              ctx.config,
              ctx.crosswalk.subjectIds('affiliate', { [t.a]: t.sa.affiliateId!, [t.b]: t.sb.affiliateId! }),
            )
          : undefined;
      const who = `offer ${await ctx.labels.label('offer', offer)}${affiliate ? ` for affiliate ${await ctx.labels.label('affiliate', affiliate)}` : ''}`;
      const lower = rb < ra ? t.b : t.a;
      out.push({
        rule: conversionRateDiscrepancy.id,
        severity: severityFor(ctx.config, conversionRateDiscrepancy),
        fingerprint: fingerprintOf(conversionRateDiscrepancy.id, {
          platforms: [t.a, t.b],
          offer: t.offerKey,
          affiliate: t.affKey ?? undefined,
        }),
        subject: affiliate ? { offer, affiliate, platforms: [t.a, t.b] } : { offer, platforms: [t.a, t.b] },
        summary:
          `Conversion rate of ${who} differs: ${pct(ra, 2)} on ${t.a} vs ${pct(rb, 2)} on ${t.b} over the last ${cfg.windowDays} days ` +
          `(${pct(rel === Infinity ? 1 : rel, 0)} relative; p=${p.toExponential(1)}, ${m} comparisons). ${lower} may be losing conversions.`,
        metrics: {
          window_from: isoDay(from),
          [`${t.a}_clicks`]: t.sa.clicks,
          [`${t.a}_conversions`]: t.sa.conversions,
          [`${t.a}_rate`]: round(ra),
          [`${t.b}_clicks`]: t.sb.clicks,
          [`${t.b}_conversions`]: t.sb.conversions,
          [`${t.b}_rate`]: round(rb),
          relative_difference: rel === Infinity ? null : round(rel),
          z: round(z, 3),
          p_value: Number(p.toPrecision(3)),
          comparisons: m,
          alpha: Number(alpha.toPrecision(3)),
        },
        evidence: [],
        money_at_risk: null,
      });
    }
    return out;
  },
};

function subjectFor(
  map: Map<string, { offerKey: string; affKey: string | null; sides: Map<string, Side> }>,
  offerKey: string,
  affKey: string | null,
) {
  const k = `${offerKey}\u0000${affKey ?? ''}`;
  let s = map.get(k);
  if (!s) {
    s = { offerKey, affKey, sides: new Map() };
    map.set(k, s);
  }
  return s;
}
