import type { Finding, RuleContext, RuleDefinition } from './types.js';
import { fingerprintOf, severityFor } from './types.js';
import { hourCutoff, isoFromSql, moneyLookbackStart, orderIds, plural, sqlTime, takeEvidence } from './common.js';
import { formatMoney, fromMicros, sumMoney } from './money.js';
import { HOUR_MS } from '../util/time.js';

/**
 * dual-running (docs/design.md §6): a mapped affiliate keeps sending NEW clicks to the same mapped offer
 * on a legacy platform and on the target, sustained well past its first target traffic.
 *
 * An affiliate that swaps its links at some hour of its move day produces hours of clicks on both
 * sides (old links in emails and on pages that refresh late, a tail of a few clicks the next
 * morning): that is the migration happening, not dual running. So the rule judges each legacy
 * platform × mapped affiliate × mapped offer from the hourly rollups of its window:
 *
 * - F = the hour of the affiliate's first target click on the offer in the window; the overlap
 *   begins there. G = F + `minOverlapHours` (default 36) ends the grace period of the switch.
 * - The offer "runs on both" when clicks keep arriving on both sides after G; the overlap lasts
 *   until the last legacy click.
 * - The finding is per legacy platform × affiliate, across every offer that runs on both (a partner
 *   splitting ~90 clicks a day over three offers is as much a dual runner as one big offer): after
 *   G, summed over those offers, legacy clicks ≥ `minClicks` and target clicks ≥ `minClicks` (volume
 *   over the whole overlap, not per day), and legacy clicks are ≥ `minLegacyShare` of both sides'
 *   clicks (a stray tail of old links next to a moved partner's full traffic stays quiet).
 * - It fires while the dual running goes on: the last legacy click of those offers is less than
 *   `minOverlapHours` before `at`. When the partner stops, the alert resolves (and says so).
 *
 * Only complete hours before `at` count. The window is the money-at-risk lookback
 * (migration.startDate, at most `maxLookbackDays`).
 *
 * Money at risk: payout of the legacy conversions (approved or pending, converted before `at`) whose
 * click falls in the overlap, on the offers involved: that is what the network pays on the old
 * platform for traffic the partner also sends to the new one.
 *
 * Reads: one aggregate per platform of its window's rollups (first/last click hour per affiliate ×
 * offer, joined to the crosswalk after grouping), then hourly rows only for the few candidates
 * whose legacy clicks go on past the grace period, then conversions by the
 * (offer_id, affiliate_id, converted_at) index for the findings.
 */

type PairRow = {
  aff_key: string;
  offer_key: string;
  affiliate_id: string;
  offer_id: string;
  first_hour: string;
  last_hour: string;
};

type HourRow = { hour: string; affiliate_id: string; offer_id: string; clicks: string | number };

/** One platform's ids and first/last click hour for a canonical affiliate × offer. */
interface Side {
  ids: { affiliate: string; offer: string }[];
  first: number;
  last: number;
}

/** An offer that runs on both sides after the grace period. */
interface OfferOverlap {
  offerKey: string;
  legacy: Side;
  target: Side;
  /** Overlap start (first target click hour) and grace end. */
  start: number;
  graceEnd: number;
  /** Last legacy click hour. */
  lastLegacy: number;
  /** Clicks from the overlap start, and after the grace period. */
  legacyClicks: number;
  targetClicks: number;
  legacyAfterGrace: number;
  targetAfterGrace: number;
}

const SEP = '\u0000';

export const dualRunning: RuleDefinition = {
  id: 'dual-running',
  defaultSeverity: 'warning',
  async evaluate(ctx: RuleContext): Promise<Finding[]> {
    const cfg = ctx.config.rules['dual-running'];
    const from = moneyLookbackStart(ctx.config, ctx.at, cfg.maxLookbackDays);
    const to = hourCutoff(ctx.at);
    if (from >= to) return [];
    const graceMs = cfg.minOverlapHours * HOUR_MS;
    const target = ctx.config.migration.target;
    const legacies = ctx.config.migration.legacy;
    // The target's and every legacy platform's pair aggregates are independent reads: all at once.
    const [targetPairs, ...legacyPairsAll] = await Promise.all(
      [target, ...legacies].map(async (p) => sidesOf(await pairsOf(ctx, p, from, to))),
    );

    const out: Finding[] = [];
    for (const [li, legacy] of legacies.entries()) {
      // Candidates: legacy clicks still arriving after the grace period, and recently (still going on).
      const candidates: { key: string; legacy: Side; target: Side }[] = [];
      for (const [key, l] of legacyPairsAll[li]) {
        const t = targetPairs.get(key);
        if (!t) continue;
        if (l.last < t.first + graceMs) continue; // stops within the switch's grace period
        if (l.last + HOUR_MS <= to.getTime() - graceMs) continue; // stopped: no longer running both
        if (t.last < t.first + graceMs) continue; // target went quiet again: not "both"
        candidates.push({ key, legacy: l, target: t });
      }
      if (candidates.length === 0) continue;
      const since = new Date(Math.max(from.getTime(), Math.min(...candidates.map((c) => c.target.first))));
      const [legacyHours, targetHours] = await Promise.all([
        hoursOf(
          ctx,
          legacy,
          candidates.flatMap((c) => c.legacy.ids.map((i) => i.affiliate)),
          since,
          to,
        ),
        hoursOf(
          ctx,
          target,
          candidates.flatMap((c) => c.target.ids.map((i) => i.affiliate)),
          since,
          to,
        ),
      ]);

      const byAffiliate = new Map<string, OfferOverlap[]>();
      for (const c of candidates) {
        const [affKey, offerKey] = c.key.split(SEP);
        const start = c.target.first;
        const graceEnd = start + graceMs;
        const l = sumHours(legacyHours, c.legacy, start, graceEnd);
        const t = sumHours(targetHours, c.target, start, graceEnd);
        if (l.afterGrace === 0 || t.afterGrace === 0) continue;
        const list = byAffiliate.get(affKey) ?? [];
        list.push({
          offerKey,
          legacy: c.legacy,
          target: c.target,
          start,
          graceEnd,
          lastLegacy: c.legacy.last,
          legacyClicks: l.all,
          targetClicks: t.all,
          legacyAfterGrace: l.afterGrace,
          targetAfterGrace: t.afterGrace,
        });
        byAffiliate.set(affKey, list);
      }

      for (const [affKey, offers] of byAffiliate) {
        const legacyAfter = offers.reduce((s, o) => s + o.legacyAfterGrace, 0);
        const targetAfter = offers.reduce((s, o) => s + o.targetAfterGrace, 0);
        if (legacyAfter < cfg.minClicks || targetAfter < cfg.minClicks) continue;
        const share = legacyAfter / (legacyAfter + targetAfter);
        if (share < cfg.minLegacyShare) continue;
        offers.sort((a, b) => b.legacyClicks - a.legacyClicks || (a.offerKey < b.offerKey ? -1 : 1));
        out.push(await findingOf(ctx, legacy, target, affKey, offers, { legacyAfter, targetAfter, share }));
      }
    }
    return out;
  },
};

async function findingOf(
  ctx: RuleContext,
  legacy: string,
  target: string,
  affKey: string,
  offers: OfferOverlap[],
  totals: { legacyAfter: number; targetAfter: number; share: number },
): Promise<Finding> {
  const cfg = ctx.config.rules['dual-running'];
  const first = offers[0];
  const affiliate = orderIds(
    ctx.config,
    ctx.crosswalk.subjectIds('affiliate', {
      [legacy]: first.legacy.ids[0].affiliate,
      [target]: first.target.ids[0].affiliate,
    }),
  );
  const offerIdsOf = (o: OfferOverlap) =>
    orderIds(
      ctx.config,
      ctx.crosswalk.subjectIds('offer', { [legacy]: o.legacy.ids[0].offer, [target]: o.target.ids[0].offer }),
    );
  const offerIds = offers.map(offerIdsOf);
  const payouts = await Promise.all(offers.map((o) => overlapPayout(ctx, legacy, o)));
  const money = payouts.reduce((s, p) => s + p, 0n);
  const start = Math.min(...offers.map((o) => o.start));
  const lastLegacy = Math.max(...offers.map((o) => o.lastLegacy));
  const hoursLasted = Math.round((lastLegacy + HOUR_MS - start) / HOUR_MS);
  const legacyClicks = offers.reduce((s, o) => s + o.legacyClicks, 0);
  const targetClicks = offers.reduce((s, o) => s + o.targetClicks, 0);
  const offerLabels = await Promise.all(offerIds.map((ids) => ctx.labels.label('offer', ids)));
  const n = (x: number) => x.toLocaleString('en-US');
  return {
    rule: dualRunning.id,
    severity: severityFor(ctx.config, dualRunning),
    // Per legacy platform × affiliate: the alert stays one alert while offers join or leave the overlap.
    fingerprint: fingerprintOf(dualRunning.id, { platforms: [legacy, target], affiliate: affKey }),
    subject: {
      affiliate,
      ...(offers.length === 1 ? { offer: offerIds[0] } : {}),
      platforms: [legacy, target],
    },
    summary:
      `Affiliate ${await ctx.labels.label('affiliate', affiliate)} has been sending new clicks to both ${legacy} and ${target} ` +
      `since ${hourText(start)} (${durationText(hoursLasted)}): ${n(legacyClicks)} ${legacy} / ${n(targetClicks)} ${target} clicks ` +
      `on ${offers.length === 1 ? 'offer' : `${offers.length} offers:`} ${offerLabels.join(', ')}` +
      (money > 0n ? `; ${formatMoney(money)} of ${legacy} payout from those clicks could be paid twice.` : '.'),
    metrics: {
      overlap_start: new Date(start).toISOString(),
      overlap_hours: hoursLasted,
      last_legacy_click_hour: new Date(lastLegacy).toISOString(),
      offers: offers.length,
      legacy_clicks: legacyClicks,
      target_clicks: targetClicks,
      legacy_clicks_after_grace: totals.legacyAfter,
      target_clicks_after_grace: totals.targetAfter,
      legacy_share: Math.round(totals.share * 1000) / 1000,
      min_overlap_hours: cfg.minOverlapHours,
      min_clicks: cfg.minClicks,
    },
    evidence: takeEvidence(
      offers.map((o, i) => ({
        offer: offerIds[i],
        first_target_click_hour: new Date(o.start).toISOString(),
        last_legacy_click_hour: new Date(o.lastLegacy).toISOString(),
        [`${legacy}_clicks`]: o.legacyClicks,
        [`${target}_clicks`]: o.targetClicks,
        [`${legacy}_payout`]: fromMicros(payouts[i]),
      })),
    ),
    money_at_risk: fromMicros(money),
  };
}

/**
 * First and last click hour per platform affiliate × offer in [from, to), grouped first and joined
 * to the crosswalk after (STRAIGHT_JOIN keeps that order: joining first made the optimizer fetch
 * every rollup row through an index lookup, seconds per platform at 16M clicks, bench/RESULTS.md).
 */
async function pairsOf(ctx: RuleContext, platform: string, from: Date, to: Date): Promise<PairRow[]> {
  return ctx.db.query<PairRow>(
    `SELECT STRAIGHT_JOIN ma.canonical_key AS aff_key, mo.canonical_key AS offer_key, d.affiliate_id, d.offer_id,
            d.first_hour, d.last_hour
     FROM (SELECT affiliate_id, offer_id, MIN(hour) AS first_hour, MAX(hour) AS last_hour
           FROM ${ctx.names.platform(platform)}.hourly_rollups
           WHERE hour >= :from AND hour < :to AND clicks > 0
           GROUP BY affiliate_id, offer_id) d
     JOIN ${ctx.names.core}.entity_map ma ON ma.entity_type = 'affiliate' AND ma.platform = :p AND ma.platform_id = d.affiliate_id
     JOIN ${ctx.names.core}.entity_map mo ON mo.entity_type = 'offer' AND mo.platform = :p AND mo.platform_id = d.offer_id
     ORDER BY aff_key, offer_key, d.affiliate_id, d.offer_id`,
    { p: platform, from: sqlTime(from), to: sqlTime(to) },
  );
}

/** Canonical affiliate × offer → its platform ids and first/last click hour on that platform. */
function sidesOf(rows: PairRow[]): Map<string, Side> {
  const out = new Map<string, Side>();
  for (const r of rows) {
    const key = `${r.aff_key}${SEP}${r.offer_key}`;
    const first = hourMs(r.first_hour);
    const last = hourMs(r.last_hour);
    const s = out.get(key);
    if (!s) out.set(key, { ids: [{ affiliate: r.affiliate_id, offer: r.offer_id }], first, last });
    else {
      s.ids.push({ affiliate: r.affiliate_id, offer: r.offer_id });
      s.first = Math.min(s.first, first);
      s.last = Math.max(s.last, last);
    }
  }
  return out;
}

/** Hourly clicks of the given platform affiliates in [since, to), keyed affiliate_id × offer_id. */
async function hoursOf(
  ctx: RuleContext,
  platform: string,
  affiliateIds: string[],
  since: Date,
  to: Date,
): Promise<Map<string, { hour: number; clicks: number }[]>> {
  const rows = await ctx.db.query<HourRow>(
    `SELECT hour, affiliate_id, offer_id, clicks FROM ${ctx.names.platform(platform)}.hourly_rollups
     WHERE affiliate_id IN (:ids) AND hour >= :since AND hour < :to AND clicks > 0`,
    { ids: [...new Set(affiliateIds)], since: sqlTime(since), to: sqlTime(to) },
  );
  const out = new Map<string, { hour: number; clicks: number }[]>();
  for (const r of rows) {
    const k = `${r.affiliate_id}${SEP}${r.offer_id}`;
    const list = out.get(k) ?? [];
    list.push({ hour: hourMs(r.hour), clicks: Number(r.clicks) });
    out.set(k, list);
  }
  return out;
}

function sumHours(
  hours: Map<string, { hour: number; clicks: number }[]>,
  side: Side,
  start: number,
  graceEnd: number,
): { all: number; afterGrace: number } {
  let all = 0;
  let afterGrace = 0;
  for (const id of side.ids)
    for (const h of hours.get(`${id.affiliate}${SEP}${id.offer}`) ?? []) {
      if (h.hour < start) continue;
      all += h.clicks;
      if (h.hour >= graceEnd) afterGrace += h.clicks;
    }
  return { all, afterGrace };
}

/** Payout of the legacy conversions whose click is in the overlap [start, last legacy hour + 1 h), converted before `at`. */
async function overlapPayout(ctx: RuleContext, legacy: string, o: OfferOverlap): Promise<bigint> {
  const sums = await Promise.all(
    o.legacy.ids.map((id) =>
      ctx.db.query<{ payout: string | null }>(
        `SELECT SUM(payout) AS payout FROM ${ctx.names.platform(legacy)}.conversions
         WHERE offer_id = :offer AND affiliate_id = :aff AND converted_at >= :start AND converted_at < :at
           AND COALESCE(clicked_at, converted_at) >= :start AND COALESCE(clicked_at, converted_at) < :end
           AND status IN ('approved', 'pending')`,
        {
          offer: id.offer,
          aff: id.affiliate,
          start: sqlTime(new Date(o.start)),
          end: sqlTime(new Date(o.lastLegacy + HOUR_MS)),
          at: sqlTime(ctx.at),
        },
      ),
    ),
  );
  return sumMoney(sums.map((r) => r[0]?.payout ?? null));
}

function hourMs(s: string): number {
  return Date.parse(isoFromSql(s)!);
}

function hourText(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 13).replace('T', ' ')}:00 UTC`;
}

function durationText(hours: number): string {
  const d = Math.floor(hours / 24);
  const h = hours % 24;
  return d === 0 ? plural(h, 'hour') : h === 0 ? plural(d, 'day') : `${plural(d, 'day')} ${plural(h, 'hour')}`;
}
