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
 * platform-duplicate (docs/design.md §6): the same advertiser order id approved twice (or more) on ONE
 * platform. Base conversions only (post-conversion events legitimately share an order); pending,
 * rejected and invalid ones do not count (Everflow, for one, records the second conversion of a
 * transaction as rejected — that is the platform working). The earliest approved conversion of an
 * order is the original; every later one is a duplicate and its payout is money at risk.
 * Lookback: migration.startDate, at most `maxLookbackDays` before `at`. One finding per platform ×
 * affiliate × offer (of the duplicate conversions).
 */

/** Orders per detail query: keeps the expanded `IN` list far below the Data API's 65,536 SQL characters. */
const ORDER_CHUNK = 200;

type DupRow = {
  order_id: string;
  conversion_id: string;
  converted_at: string;
  affiliate_id: string;
  offer_id: string;
  payout: string;
};

export const platformDuplicate: RuleDefinition = {
  id: 'platform-duplicate',
  defaultSeverity: 'warning',
  async evaluate(ctx: RuleContext): Promise<Finding[]> {
    const cfg = ctx.config.rules['platform-duplicate'];
    const from = moneyLookbackStart(ctx.config, ctx.at, cfg.maxLookbackDays);
    if (from >= ctx.at) return [];
    const out: Finding[] = [];
    const platforms = orderedPlatforms(ctx.config);
    // One independent read per platform: all at once (the engine's note on concurrency).
    const perPlatform = await Promise.all(
      platforms.map((platform) => duplicateRows(ctx, ctx.names.platform(platform), from)),
    );
    for (const [i, platform] of platforms.entries()) {
      const rows = perPlatform[i];
      const groups = new Map<string, { dup: DupRow; original: DupRow }[]>();
      let original: DupRow | null = null;
      for (const r of rows) {
        if (!original || original.order_id !== r.order_id) {
          original = r;
          continue;
        }
        const k = `${r.affiliate_id}\u0000${r.offer_id}`;
        const g = groups.get(k) ?? [];
        g.push({ dup: r, original });
        groups.set(k, g);
      }
      for (const [k, dups] of groups) {
        const [aff, off] = k.split('\u0000');
        const affiliate = orderIds(ctx.config, ctx.crosswalk.subjectIds('affiliate', { [platform]: aff }));
        const offer = orderIds(ctx.config, ctx.crosswalk.subjectIds('offer', { [platform]: off }));
        const money = sumMoney(dups.map((d) => d.dup.payout));
        const orders = new Set(dups.map((d) => d.dup.order_id)).size;
        out.push({
          rule: platformDuplicate.id,
          severity: severityFor(ctx.config, platformDuplicate),
          fingerprint: fingerprintOf(platformDuplicate.id, {
            platforms: [platform],
            affiliate: ctx.crosswalk.keyOf('affiliate', platform, aff),
            offer: ctx.crosswalk.keyOf('offer', platform, off),
          }),
          subject: { offer, affiliate, platforms: [platform] },
          summary:
            `${plural(orders, 'order')} approved more than once on ${platform} for affiliate ${await ctx.labels.label('affiliate', affiliate)} on offer ${await ctx.labels.label('offer', offer)} ` +
            `since ${isoDay(from)}: ${plural(dups.length, 'extra conversion')}, ${formatMoney(money)} in payout at risk.`,
          metrics: { orders, duplicate_conversions: dups.length, since: isoDay(from) },
          evidence: takeEvidence(
            [...dups].reverse().map((d) => ({
              order_id: d.dup.order_id,
              conversion_id: d.dup.conversion_id,
              converted_at: isoFromSql(d.dup.converted_at),
              original_conversion_id: d.original.conversion_id,
              original_converted_at: isoFromSql(d.original.converted_at),
              payout: fromMicros(sumMoney([d.dup.payout])),
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
 * The approved base conversions in the window of every order approved more than once, ordered by
 * order_id (SQL collation), converted_at, conversion_id. Two steps, so that only the duplicates'
 * rows are read: the GROUP BY reads just the covering index conversions_order_status
 * (sql/platform/002), in order_id order, without a temporary table; the rows of the (few)
 * duplicated orders are then fetched by order_id. As one statement (a join to the grouped derived
 * table) MariaDB 10.11 sorted the whole window into an on-disk temporary table first: 5 s per
 * platform at 16M clicks (bench/RESULTS.md).
 */
async function duplicateRows(ctx: RuleContext, db: string, from: Date): Promise<DupRow[]> {
  const window = { from: sqlTime(from), at: sqlTime(ctx.at) };
  const filter = `converted_at >= :from AND converted_at < :at AND is_event = 0 AND status = 'approved'`;
  const orders = await ctx.db.query<{ order_id: string }>(
    `SELECT order_id FROM ${db}.conversions
     WHERE ${filter} AND order_id IS NOT NULL AND order_id <> ''
     GROUP BY order_id HAVING COUNT(*) > 1 ORDER BY order_id`,
    window,
  );
  const rows: DupRow[] = [];
  for (let i = 0; i < orders.length; i += ORDER_CHUNK) {
    const chunk = orders.slice(i, i + ORDER_CHUNK).map((o) => o.order_id);
    rows.push(
      ...(await ctx.db.query<DupRow>(
        `SELECT order_id, conversion_id, converted_at, affiliate_id, offer_id, payout FROM ${db}.conversions
         WHERE order_id IN (:orders) AND ${filter}
         ORDER BY order_id, converted_at, conversion_id`,
        { ...window, orders: chunk },
      )),
    );
  }
  return rows;
}
