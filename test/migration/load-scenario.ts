import type { Harness } from '../helpers/pipeline-harness.js';
import { refreshRollups, touchedGroups, upsertClicks, upsertConversions } from '#shared/db/upsert.js';
import type { ClickRow, ConversionRow } from '#shared/model/canonical.js';
import { statusAt } from '../../dev/simulators/scenario/types.js';

/**
 * Loads the scenario's clicks and conversions of [from, to) (event time) with the pipeline's own
 * loader (upsertClicks / upsertConversions + refreshRollups, what normalize-worker runs after a
 * connector mapped a page), skipping only the HTTP fetch. Fetching 36 days of clicks through the
 * simulators takes minutes (hourly click slices), far over a test's budget; the tests still send a
 * window through LocalRunner.ingest end to end. Statuses are as the platforms report them at the
 * scenario's end (the clock of the harness).
 */
export async function loadScenarioWindow(
  h: Harness,
  from: number,
  to: number,
  platforms = Object.keys(h.scenario.options.platforms),
): Promise<void> {
  const end = h.clock.now().getTime();
  const iso = (ms: number) => new Date(ms).toISOString();
  for (const p of platforms) {
    const database = h.t.names.platform(p);
    const clicks: ClickRow[] = h.scenario.clicks[p]
      .filter((c) => c.clickedAt >= from && c.clickedAt < to)
      .map((c) => ({
        click_id: c.clickId,
        clicked_at: iso(c.clickedAt),
        affiliate_id: c.affiliateId,
        offer_id: c.offerId,
        advertiser_id: c.advertiserId,
        sub1: c.subs[0],
        sub2: c.subs[1],
        sub3: c.subs[2],
        sub4: c.subs[3],
        sub5: c.subs[4],
        ip: c.ip,
        user_agent_hash: null,
        country_code: c.countryCode,
        is_unique: c.isUnique,
      }));
    for (let i = 0; i < clicks.length; i += 5000) {
      const chunk = clicks.slice(i, i + 5000);
      await upsertClicks(h.t.db, database, chunk);
      await refreshRollups(
        h.t.db,
        database,
        'clicks',
        touchedGroups(chunk, (r: ClickRow) => r.clicked_at),
      );
    }
    const conversions: ConversionRow[] = h.scenario.conversions[p]
      .filter((c) => c.convertedAt >= from && c.convertedAt < to && c.convertedAt < end)
      .map((c) => ({
        conversion_id: c.conversionId,
        click_id: c.clickId,
        transaction_id: c.transactionId,
        order_id: c.orderId,
        converted_at: iso(c.convertedAt),
        clicked_at: iso(c.clickedAt),
        affiliate_id: c.affiliateId,
        offer_id: c.offerId,
        advertiser_id: c.advertiserId,
        sub1: c.subs[0],
        sub2: c.subs[1],
        sub3: c.subs[2],
        sub4: c.subs[3],
        sub5: c.subs[4],
        event_name: c.eventName,
        is_event: c.eventName !== null,
        status: statusAt(c, end).status,
        revenue: c.revenue,
        payout: c.payout,
        sale_amount: c.saleAmount,
        currency: c.currency,
        ip: c.ip,
        user_agent_hash: null,
        country_code: c.countryCode,
        raw: null,
      }));
    for (let i = 0; i < conversions.length; i += 2000) {
      const chunk = conversions.slice(i, i + 2000);
      await upsertConversions(h.t.db, database, chunk, iso(end));
      await refreshRollups(
        h.t.db,
        database,
        'conversions',
        touchedGroups(chunk, (r: ConversionRow) => r.converted_at),
      );
    }
  }
}
