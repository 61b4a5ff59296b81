import type { Finding, RuleContext, RuleDefinition } from './types.js';
import { fingerprintOf, severityFor } from './types.js';
import { hourCutoff, isoFromSql, orderIds, orderedPlatforms, plural, round, sqlTime } from './common.js';
import { poissonZero } from './stats.js';
import { HOUR_MS } from '../util/time.js';

/**
 * tracking-outage (docs/design.md §6), "the postback domain dropped": an offer (and, with
 * `perAffiliate`, an affiliate × offer) on one platform keeps receiving clicks but records zero
 * conversions, for long enough that its normal conversion rate makes zero very unlikely.
 *
 * - The stretch: the trailing run of complete hours before `at` with zero conversions, from the hour
 *   after the last hour with a conversion (looked for up to MAX_STRETCH_HOURS back; a longer silence is
 *   judged on its last MAX_STRETCH_HOURS). It must be ≥ `minHours` long and contain clicks.
 * - Expected conversions λ = Σ over stretch hours of clicks(h) × rate(hour-of-week(h)), where rate is
 *   conversions / clicks of the same UTC hour-of-week over the `baselineWeeks` weeks immediately
 *   before the stretch (so the outage never dilutes its own baseline; each hour-of-week appears
 *   exactly `baselineWeeks` times), shrunk toward the whole baseline's rate (SHRINK_CLICKS). A
 *   baseline with fewer than `minBaselineConversions` conversions gives no verdict. Scaling by the
 *   stretch's own clicks means a quiet night predicts few conversions.
 * - Fires when P(0 | λ) = e^−λ < `pValue`. It stops firing (the alert resolves) as soon as a
 *   conversion arrives in the last `minHours` hours.
 * Hour-of-week is UTC; a DST change shifts local traffic by an hour in UTC, which moves clicks and
 * conversions together and so leaves the rate-based λ nearly unchanged.
 * When the whole offer fires on a platform, its affiliate × offer findings are not reported again.
 * Rates are computed in SQL (DECIMAL); λ is a statistic, not money.
 */

export const MAX_STRETCH_HOURS = 168;
/**
 * Each hour-of-week's rate is shrunk toward the whole baseline's rate as if it had this many more
 * clicks at that rate: with 4 weeks, an hour-of-week has only 4 hours of history, and 1 click with
 * 1 (late) conversion must not read as a 100% rate.
 */
export const SHRINK_CLICKS = 50;
const CHUNK = 150; // candidates per query: keeps the SQL text far below the Data API's 65,536 characters

interface Candidate {
  offerId: string;
  affiliateId: string | null;
  start: Date;
}

type LambdaRow = {
  k: number | string;
  stretch_clicks: string | number;
  lambda: string | null;
  baseline_clicks: string | number | null;
  baseline_conversions: string | number | null;
};

export const trackingOutage: RuleDefinition = {
  id: 'tracking-outage',
  defaultSeverity: 'critical',
  async evaluate(ctx: RuleContext): Promise<Finding[]> {
    const cfg = ctx.config.rules['tracking-outage'];
    const cutoff = hourCutoff(ctx.at);
    // Platforms are independent: evaluated at once, findings kept in platform order.
    const perPlatform = await Promise.all(
      orderedPlatforms(ctx.config).map(async (platform) => {
        const [offerFindings, aff] = await Promise.all([
          evaluateLevel(ctx, platform, cutoff, false),
          cfg.perAffiliate ? evaluateLevel(ctx, platform, cutoff, true) : null,
        ]);
        if (!aff) return offerFindings.findings;
        const firedOffers = new Set(offerFindings.offerIds);
        return [...offerFindings.findings, ...aff.findings.filter((_, i) => !firedOffers.has(aff.offerIds[i]))];
      }),
    );
    return perPlatform.flat();
  },
};

async function evaluateLevel(
  ctx: RuleContext,
  platform: string,
  cutoff: Date,
  perAffiliate: boolean,
): Promise<{ findings: Finding[]; offerIds: string[] }> {
  const cfg = ctx.config.rules['tracking-outage'];
  const db = `${ctx.names.platform(platform)}.hourly_rollups`;
  const recentFrom = new Date(cutoff.getTime() - cfg.minHours * HOUR_MS);
  const capFrom = new Date(cutoff.getTime() - MAX_STRETCH_HOURS * HOUR_MS);
  const by = perAffiliate ? 'offer_id, affiliate_id' : 'offer_id';
  const selAff = perAffiliate ? 'affiliate_id' : 'NULL AS affiliate_id';

  const silent = await ctx.db.query<{ offer_id: string; affiliate_id: string | null }>(
    `SELECT offer_id, ${selAff} FROM ${db} WHERE hour >= :from AND hour < :to
     GROUP BY ${by} HAVING SUM(conversions) = 0 AND SUM(clicks) > 0 ORDER BY ${by}`,
    { from: sqlTime(recentFrom), to: sqlTime(cutoff) },
  );
  if (silent.length === 0) return { findings: [], offerIds: [] };

  const candidates: Candidate[] = [];
  for (let i = 0; i < silent.length; i += CHUNK) {
    const chunk = silent.slice(i, i + CHUNK);
    const offers = [...new Set(chunk.map((c) => c.offer_id))];
    const affs = perAffiliate ? [...new Set(chunk.map((c) => c.affiliate_id!))] : [];
    const last = await ctx.db.query<{ offer_id: string; affiliate_id: string | null; last_hour: string }>(
      `SELECT offer_id, ${selAff}, MAX(hour) AS last_hour FROM ${db}
       WHERE offer_id IN (:offers) ${perAffiliate ? 'AND affiliate_id IN (:affs)' : ''} AND conversions > 0 AND hour >= :from AND hour < :to
       GROUP BY ${by}`,
      { offers, affs, from: sqlTime(capFrom), to: sqlTime(cutoff) },
    );
    const lastByKey = new Map(last.map((r) => [`${r.offer_id}\u0000${r.affiliate_id ?? ''}`, r.last_hour]));
    for (const c of chunk) {
      const lh = lastByKey.get(`${c.offer_id}\u0000${c.affiliate_id ?? ''}`);
      const start = lh ? new Date(new Date(isoFromSql(lh)!).getTime() + HOUR_MS) : capFrom;
      if (cutoff.getTime() - start.getTime() < cfg.minHours * HOUR_MS) continue;
      candidates.push({ offerId: c.offer_id, affiliateId: c.affiliate_id, start });
    }
  }

  const threshold = -Math.log(cfg.pValue);
  const findings: Finding[] = [];
  const offersOfFindings: string[] = [];
  for (let i = 0; i < candidates.length; i += CHUNK) {
    const chunk = candidates.slice(i, i + CHUNK);
    const params: Record<string, string | number> = {
      cutoff: sqlTime(cutoff),
      bd: cfg.baselineWeeks * 7,
      shrink: SHRINK_CLICKS,
    };
    const cand = chunk
      .map((c, j) => {
        params[`o${j}`] = c.offerId;
        params[`s${j}`] = sqlTime(c.start);
        if (perAffiliate) params[`a${j}`] = c.affiliateId!;
        return `SELECT ${j} AS k, :o${j} AS offer_id, ${perAffiliate ? `:a${j}` : 'NULL'} AS affiliate_id, CAST(:s${j} AS DATETIME) AS start`;
      })
      .join(' UNION ALL ');
    const join = `r.offer_id = c.offer_id${perAffiliate ? ' AND r.affiliate_id = c.affiliate_id' : ''}`;
    const how = `(WEEKDAY(r.hour) * 24 + HOUR(r.hour))`;
    const rows = await ctx.db.query<LambdaRow>(
      `WITH cand AS (${cand}),
       base AS (SELECT c.k, ${how} AS how, SUM(r.clicks) AS clicks, SUM(r.conversions) AS conv
                FROM cand c JOIN ${db} r ON ${join}
                WHERE r.hour >= c.start - INTERVAL :bd DAY AND r.hour < c.start GROUP BY c.k, ${how}),
       tot AS (SELECT k, SUM(clicks) AS clicks, SUM(conv) AS conv FROM base GROUP BY k),
       cur AS (SELECT c.k, ${how} AS how, SUM(r.clicks) AS clicks
               FROM cand c JOIN ${db} r ON ${join}
               WHERE r.hour >= c.start AND r.hour < :cutoff GROUP BY c.k, ${how})
       SELECT cur.k AS k, SUM(cur.clicks) AS stretch_clicks,
              SUM(CASE WHEN tot.clicks > 0
                       THEN cur.clicks * (COALESCE(base.conv, 0) + :shrink * tot.conv / tot.clicks) / (COALESCE(base.clicks, 0) + :shrink)
                       ELSE 0 END) AS lambda,
              MAX(tot.clicks) AS baseline_clicks, MAX(tot.conv) AS baseline_conversions
       FROM cur JOIN tot ON tot.k = cur.k LEFT JOIN base ON base.k = cur.k AND base.how = cur.how
       GROUP BY cur.k ORDER BY cur.k`,
      params,
    );
    for (const r of rows) {
      const lambda = Number(r.lambda ?? 0);
      if (!(lambda > threshold)) continue;
      // Too little history to know the normal rate (a new offer, the first days of data): no verdict.
      if (Number(r.baseline_conversions ?? 0) < cfg.minBaselineConversions) continue;
      const c = chunk[Number(r.k)];
      const p = poissonZero(lambda);
      const hours = Math.round((cutoff.getTime() - c.start.getTime()) / HOUR_MS);
      const offer = orderIds(ctx.config, ctx.crosswalk.subjectIds('offer', { [platform]: c.offerId }));
      const affiliate = perAffiliate
        ? orderIds(ctx.config, ctx.crosswalk.subjectIds('affiliate', { [platform]: c.affiliateId! }))
        : undefined;
      const who = `Offer ${await ctx.labels.label('offer', offer)}${affiliate ? ` for affiliate ${await ctx.labels.label('affiliate', affiliate)}` : ''}`;
      const clicks = Number(r.stretch_clicks);
      findings.push({
        rule: trackingOutage.id,
        severity: severityFor(ctx.config, trackingOutage),
        fingerprint: fingerprintOf(trackingOutage.id, {
          platforms: [platform],
          offer: ctx.crosswalk.keyOf('offer', platform, c.offerId),
          affiliate: perAffiliate ? ctx.crosswalk.keyOf('affiliate', platform, c.affiliateId!) : undefined,
        }),
        subject: affiliate ? { offer, affiliate, platforms: [platform] } : { offer, platforms: [platform] },
        summary:
          `${who} on ${platform} has had ${plural(clicks, 'click')} but no conversions for ${plural(hours, 'hour')} (since ${c.start.toISOString().slice(0, 16).replace('T', ' ')} UTC); ` +
          `its usual rate predicts ${lambda.toFixed(1)} conversions (chance of none: ${p.toExponential(1)}). Tracking (postback/pixel) may be broken.`,
        metrics: {
          since: c.start.toISOString(),
          hours,
          clicks,
          expected_conversions: round(lambda, 2),
          p_value: Number(p.toPrecision(3)),
          baseline_weeks: cfg.baselineWeeks,
          baseline_clicks: Number(r.baseline_clicks ?? 0),
          baseline_conversions: Number(r.baseline_conversions ?? 0),
        },
        evidence: [],
        money_at_risk: null,
      });
      offersOfFindings.push(c.offerId);
    }
  }
  // offerIds[i] is the platform offer id of findings[i].
  return { findings, offerIds: offersOfFindings };
}
