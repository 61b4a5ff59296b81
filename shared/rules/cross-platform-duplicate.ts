import type { Finding, RuleContext, RuleDefinition } from './types.js';
import { fingerprintOf, severityFor } from './types.js';
import {
  isoDay,
  isoFromSql,
  moneyLookbackStart,
  orderIds,
  orderedPlatforms,
  plural,
  sqlTime,
  takeEvidence,
} from './common.js';
import { formatMoney, fromMicros, sumMoney } from './money.js';

/**
 * cross-platform-duplicate (docs/design.md §6): one sale recorded on two platforms, so the affiliate may
 * be paid twice. For every pair of configured platforms, a key ladder is tried in order and each
 * conversion is matched at most once (the first, strongest key wins):
 *   1. `order_id`: the advertiser's order / transaction id, equal on both sides;
 *   2. the transaction-id bridge, only between a CAKE and an Everflow platform (CAKE's guide to
 *      running alongside Everflow passes Everflow's `{transaction_id}` into CAKE `s2` and CAKE's
 *      request id `#oreqid#` into an Everflow sub id): CAKE `sub2` = Everflow `transaction_id`, or an
 *      Everflow `sub1`…`sub5` = the CAKE conversion's `click_id` / `transaction_id` (where the CAKE
 *      connector keeps the request id). Bridge values shorter than 6 characters are ignored: sub ids
 *      also carry short values such as affiliate ids that would collide by chance;
 *   3. same mapped offer (crosswalk) + same IP (+ same user-agent hash when both sides have one),
 *      conversion times within `ipWindowMinutes`; the nearest in time is taken. The IP itself never goes into evidence (personal data).
 * Only base conversions that are approved or pending count (a rejected one is not paid). The lookback
 * runs from migration.startDate (at most `maxLookbackDays` before `at`) to `at`. One finding per
 * platform pair × affiliate × offer (canonical keys of the first platform's side); money at risk is
 * the sum over matched pairs of the smaller payout of the two (the amount paid twice), computed in
 * SQL/BigInt, in the platforms' own currency (no FX conversion).
 */

type PairRow = {
  a_id: string;
  b_id: string;
  a_aff: string;
  a_offer: string;
  b_aff: string;
  b_offer: string;
  a_at: string;
  b_at: string;
  a_payout: string;
  b_payout: string;
  dup_payout: string;
  key_value: string | null;
};

const PAID = `('approved', 'pending')`;
const BRIDGE_MIN = 6;

export const crossPlatformDuplicate: RuleDefinition = {
  id: 'cross-platform-duplicate',
  defaultSeverity: 'critical',
  async evaluate(ctx: RuleContext): Promise<Finding[]> {
    const cfg = ctx.config.rules['cross-platform-duplicate'];
    const from = moneyLookbackStart(ctx.config, ctx.at, cfg.maxLookbackDays);
    if (from >= ctx.at) return [];
    const platforms = orderedPlatforms(ctx.config);
    const pairs: [string, string][] = [];
    for (let i = 0; i < platforms.length; i++)
      for (let j = i + 1; j < platforms.length; j++) pairs.push([platforms[i], platforms[j]]);
    // The pairs are independent reads (the heaviest rule at volume, bench/RESULTS.md), so they run at
    // once; each pair's steps too. Findings keep the pair order.
    const perPair = await Promise.all(
      pairs.map(([p, q]) => evaluatePair(ctx, p, q, from, Math.round(cfg.ipWindowMinutes * 60))),
    );
    return perPair.flat();
  },
};

async function evaluatePair(
  ctx: RuleContext,
  p: string,
  q: string,
  from: Date,
  windowSeconds: number,
): Promise<Finding[]> {
  const A = ctx.names.platform(p);
  const B = ctx.names.platform(q);
  const core = ctx.names.core;
  const params = { from: sqlTime(from), at: sqlTime(ctx.at), p, q, w: windowSeconds, minlen: BRIDGE_MIN };
  const cols = `a.conversion_id AS a_id, b.conversion_id AS b_id, a.affiliate_id AS a_aff, a.offer_id AS a_offer, b.affiliate_id AS b_aff, b.offer_id AS b_offer,
    a.converted_at AS a_at, b.converted_at AS b_at, a.payout AS a_payout, b.payout AS b_payout, LEAST(a.payout, b.payout) AS dup_payout`;
  const both = `a.converted_at >= :from AND a.converted_at < :at AND a.is_event = 0 AND a.status IN ${PAID}
    AND b.converted_at >= :from AND b.converted_at < :at AND b.is_event = 0 AND b.status IN ${PAID}`;
  const order = `ORDER BY a.converted_at, a.conversion_id, b.converted_at, b.conversion_id`;

  // Each step is one statement; they are independent, so they run at once, and the one-to-one
  // matching below takes their rows in ladder order.
  const steps: { key: string; rows: Promise<PairRow[]> }[] = [];
  // Pairs are found on indexes alone (a derived table the optimizer cannot merge: DISTINCT), then
  // only the matched rows are read; STRAIGHT_JOIN keeps that order. Joining the full rows directly
  // read every conversion of the window on one side, ~500 bytes each: 1–6.5 s per pair and step at
  // 16M clicks with a 128 MB buffer pool (bench/RESULTS.md). InnoDB secondary indexes carry the
  // primary key, so conversions_order_status and conversions_ip (ip, converted_at) cover the inner
  // joins. The pair conditions on the full rows are applied again outside, unchanged.
  const window = `a.converted_at >= :from AND a.converted_at < :at AND b.converted_at >= :from AND b.converted_at < :at`;
  steps.push({
    key: 'order_id',
    rows: ctx.db.query<PairRow>(
      `SELECT STRAIGHT_JOIN ${cols}, a.order_id AS key_value
       FROM (SELECT DISTINCT a.conversion_id AS a_pk, b.conversion_id AS b_pk
             FROM ${A}.conversions a JOIN ${B}.conversions b ON b.order_id = a.order_id
             WHERE a.order_id IS NOT NULL AND a.order_id <> '' AND ${both}) m
       JOIN ${A}.conversions a ON a.conversion_id = m.a_pk
       JOIN ${B}.conversions b ON b.conversion_id = m.b_pk
       WHERE a.order_id IS NOT NULL AND a.order_id <> '' AND b.order_id = a.order_id AND ${both} ${order}`,
      params,
    ),
  });

  const kindP = ctx.config.platforms[p].kind;
  const kindQ = ctx.config.platforms[q].kind;
  if ((kindP === 'cake' && kindQ === 'everflow') || (kindP === 'everflow' && kindQ === 'cake')) {
    // Written with `a` = the config-order first platform; the CAKE/Everflow roles decide the columns.
    const cakeIsA = kindP === 'cake';
    const c = cakeIsA ? 'a' : 'b';
    const e = cakeIsA ? 'b' : 'a';
    // s2 bridge: pairs found on two indexes alone (CAKE conversions_sub2 (sub2, converted_at), from
    // sql/platform/003, and Everflow conversions_transaction_id; both carry the primary key), then
    // only the paired rows are read, as for order_id. The window is checked on the CAKE side inside
    // (its index has converted_at) and in full on both rows outside. Before the index this read every
    // CAKE row of the window: 1.5–3 s at 16M clicks with a 128 MB buffer pool (bench/notes.md).
    const cakeConv = cakeIsA ? `${A}.conversions` : `${B}.conversions`;
    const everConv = cakeIsA ? `${B}.conversions` : `${A}.conversions`;
    steps.push({
      key: 'cake_s2_everflow_transaction_id',
      rows: ctx.db.query<PairRow>(
        `SELECT STRAIGHT_JOIN ${cols}, ${c}.sub2 AS key_value
         FROM (SELECT DISTINCT ${c}.conversion_id AS c_pk, ${e}.conversion_id AS e_pk
               FROM ${cakeConv} ${c} JOIN ${everConv} ${e} ON ${e}.transaction_id = ${c}.sub2
               WHERE CHAR_LENGTH(${c}.sub2) >= :minlen AND ${c}.converted_at >= :from AND ${c}.converted_at < :at) m
         JOIN ${A}.conversions a ON a.conversion_id = m.${cakeIsA ? 'c_pk' : 'e_pk'}
         JOIN ${B}.conversions b ON b.conversion_id = m.${cakeIsA ? 'e_pk' : 'c_pk'}
         WHERE ${e}.transaction_id = ${c}.sub2 AND CHAR_LENGTH(${c}.sub2) >= :minlen AND ${both} ${order}`,
        params,
      ),
    });
    // Everflow sub1…sub5 = CAKE click_id / transaction_id. No index covers the subs, so the Everflow
    // rows of the window are read, once: the five subs are unpivoted by a 5-row table (join buffer)
    // and each sub of at least BRIDGE_MIN characters probes CAKE's click_id and transaction_id
    // indexes (two LEFT JOINs in one pass; it was one UNION branch, and one full Everflow read, per
    // CAKE column, and every sub, NULL or short, was probed: 1.9M probes at 16M clicks). Both sides
    // must reach BRIDGE_MIN: they can differ in length only by trailing spaces, which the PAD SPACE
    // collations ignore in `=`. The inner query
    // returns (Everflow pk, CAKE pk by click_id, CAKE pk by transaction_id); a 2-row table splits the
    // two CAKE pks into pairs, whose full rows are then read by primary key and checked in full
    // (length of the matched CAKE column, both sides' window and status). DISTINCT keeps each pair
    // once, as the UNION did.
    const sub = `CASE k.n WHEN 1 THEN ${e}.sub1 WHEN 2 THEN ${e}.sub2 WHEN 3 THEN ${e}.sub3 WHEN 4 THEN ${e}.sub4 ELSE ${e}.sub5 END`;
    const five = `(SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) k`;
    const cakeCol = `CASE j.n WHEN 1 THEN ${c}.click_id ELSE ${c}.transaction_id END`;
    const subs = `${c}.click_id IN (${e}.sub1, ${e}.sub2, ${e}.sub3, ${e}.sub4, ${e}.sub5)`;
    const subsT = `${c}.transaction_id IN (${e}.sub1, ${e}.sub2, ${e}.sub3, ${e}.sub4, ${e}.sub5)`;
    steps.push({
      key: 'everflow_sub_cake_request_id',
      rows: ctx.db.query<PairRow>(
        `SELECT DISTINCT STRAIGHT_JOIN ${cols}, COALESCE(${c}.click_id, ${c}.transaction_id) AS key_value
         FROM (SELECT DISTINCT ${e}.conversion_id AS e_pk, c1.conversion_id AS c1_pk, c2.conversion_id AS c2_pk
               FROM ${everConv} ${e} STRAIGHT_JOIN ${five} ON CHAR_LENGTH(${sub}) >= :minlen
                 LEFT JOIN ${cakeConv} c1 ON c1.click_id = ${sub}
                 LEFT JOIN ${cakeConv} c2 ON c2.transaction_id = ${sub}
               WHERE ${e}.converted_at >= :from AND ${e}.converted_at < :at AND ${e}.is_event = 0 AND ${e}.status IN ${PAID}
                 AND (c1.conversion_id IS NOT NULL OR c2.conversion_id IS NOT NULL)) m
         JOIN (SELECT 1 AS n UNION ALL SELECT 2) j
         JOIN ${everConv} ${e} ON ${e}.conversion_id = m.e_pk
         JOIN ${cakeConv} ${c} ON ${c}.conversion_id = CASE j.n WHEN 1 THEN m.c1_pk ELSE m.c2_pk END
         WHERE CHAR_LENGTH(${cakeCol}) >= :minlen AND (CASE j.n WHEN 1 THEN ${subs} ELSE ${subsT} END) AND ${both}
         ORDER BY a_at, a_id, b_at, b_id`,
        params,
      ),
    });
  }

  steps.push({
    key: 'offer_ip',
    rows: ctx.db.query<PairRow>(
      `SELECT STRAIGHT_JOIN ${cols}, NULL AS key_value
       FROM (SELECT DISTINCT a.conversion_id AS a_pk, b.conversion_id AS b_pk
             FROM ${A}.conversions a JOIN ${B}.conversions b ON b.ip = a.ip
               AND b.converted_at >= a.converted_at - INTERVAL :w SECOND AND b.converted_at <= a.converted_at + INTERVAL :w SECOND
             WHERE a.ip IS NOT NULL AND a.ip <> '' AND ${window}) m
       JOIN ${A}.conversions a ON a.conversion_id = m.a_pk
       JOIN ${B}.conversions b ON b.conversion_id = m.b_pk AND b.ip = a.ip
         AND b.converted_at >= a.converted_at - INTERVAL :w SECOND AND b.converted_at <= a.converted_at + INTERVAL :w SECOND
       JOIN ${core}.entity_map ma ON ma.entity_type = 'offer' AND ma.platform = :p AND ma.platform_id = a.offer_id
       JOIN ${core}.entity_map mb ON mb.entity_type = 'offer' AND mb.platform = :q AND mb.platform_id = b.offer_id AND mb.canonical_key = ma.canonical_key
       WHERE a.ip IS NOT NULL AND a.ip <> ''
         AND (a.user_agent_hash IS NULL OR b.user_agent_hash IS NULL OR a.user_agent_hash = b.user_agent_hash)
         AND ${both}
       ORDER BY a.converted_at, a.conversion_id, ABS(TIMESTAMPDIFF(MICROSECOND, a.converted_at, b.converted_at)), b.conversion_id`,
      params,
    ),
  });

  // Greedy one-to-one matching down the ladder.
  const usedA = new Set<string>();
  const usedB = new Set<string>();
  const matches: (PairRow & { match: string })[] = [];
  const stepRows = await Promise.all(steps.map((step) => step.rows));
  for (const [k, step] of steps.entries()) {
    for (const r of stepRows[k]) {
      if (usedA.has(r.a_id) || usedB.has(r.b_id)) continue;
      usedA.add(r.a_id);
      usedB.add(r.b_id);
      matches.push({ ...r, match: step.key });
    }
  }
  if (matches.length === 0) return [];

  const groups = new Map<string, (PairRow & { match: string })[]>();
  for (const m of matches) {
    const k = `${ctx.crosswalk.keyOf('affiliate', p, m.a_aff)}\u0000${ctx.crosswalk.keyOf('offer', p, m.a_offer)}`;
    const g = groups.get(k) ?? [];
    g.push(m);
    groups.set(k, g);
  }
  const rule = crossPlatformDuplicate;
  const out: Finding[] = [];
  for (const [k, rows] of groups) {
    const [affKey, offerKey] = k.split('\u0000');
    const first = rows[0];
    const affiliate = orderIds(
      ctx.config,
      ctx.crosswalk.subjectIds('affiliate', { [q]: first.b_aff, [p]: first.a_aff }),
    );
    const offer = orderIds(ctx.config, ctx.crosswalk.subjectIds('offer', { [q]: first.b_offer, [p]: first.a_offer }));
    const money = sumMoney(rows.map((r) => r.dup_payout));
    const byKey: Record<string, number> = {};
    for (const r of rows) byKey[r.match] = (byKey[r.match] ?? 0) + 1;
    const [affLabel, offerLabel] = [
      await ctx.labels.label('affiliate', affiliate),
      await ctx.labels.label('offer', offer),
    ];
    const firstAt = isoFromSql(rows[0].a_at);
    const lastAt = isoFromSql(rows[rows.length - 1].a_at);
    out.push({
      rule: rule.id,
      severity: severityFor(ctx.config, rule),
      fingerprint: fingerprintOf(rule.id, { platforms: [p, q], affiliate: affKey, offer: offerKey }),
      subject: { offer, affiliate, platforms: [p, q] },
      summary:
        `${plural(rows.length, 'sale')} recorded on both ${p} and ${q} for affiliate ${affLabel} on offer ${offerLabel} ` +
        `(${firstAt?.slice(0, 10)} to ${lastAt?.slice(0, 10)}): ${formatMoney(money)} in payout may be paid twice.`,
      metrics: {
        duplicates: rows.length,
        ...Object.fromEntries(Object.entries(byKey).map(([m, n]) => [`matched_by_${m}`, n])),
        since: isoDay(from),
      },
      evidence: takeEvidence(
        [...rows].reverse().map((r) => ({
          match: r.match,
          key: r.key_value,
          [`${p}_conversion_id`]: r.a_id,
          [`${q}_conversion_id`]: r.b_id,
          [`${p}_converted_at`]: isoFromSql(r.a_at),
          [`${q}_converted_at`]: isoFromSql(r.b_at),
          [`${p}_payout`]: fromMicros(sumMoney([r.a_payout])),
          [`${q}_payout`]: fromMicros(sumMoney([r.b_payout])),
        })),
      ),
      money_at_risk: fromMicros(money),
    });
  }
  return out;
}
