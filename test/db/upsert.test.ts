import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshRollups, touchedGroups, upsertClicks, upsertConversions } from '#shared/db/upsert.js';
import { freshDatabase, tableDigest, type TestDatabase } from '../helpers/db.js';
import { clickRow, conversionRow } from '../helpers/factories.js';

let t: TestDatabase;
let ev: string;
beforeAll(async () => {
  t = await freshDatabase(['everflow']);
  ev = t.names.platform('everflow');
});
afterAll(async () => t.drop());

const conversions = Array.from({ length: 700 }, (_, i) =>
  conversionRow({
    conversion_id: `c${i}`,
    order_id: `o${i}`,
    affiliate_id: `a${i % 7}`,
    offer_id: `f${i % 3}`,
    converted_at: new Date(Date.UTC(2026, 9, 12, i % 24, i % 60)).toISOString(),
    revenue: `${i}.10`,
    payout: `${i % 10}.05`,
  }),
);
const clicks = Array.from({ length: 2500 }, (_, i) =>
  clickRow({
    click_id: `k${i}`,
    affiliate_id: `a${i % 7}`,
    offer_id: `f${i % 3}`,
    clicked_at: new Date(Date.UTC(2026, 9, 12, i % 24, i % 60)).toISOString(),
    is_unique: i % 5 !== 0,
  }),
);

async function load(fetchedAt: string) {
  await upsertConversions(t.db, ev, conversions, fetchedAt);
  await upsertClicks(t.db, ev, clicks);
  await refreshRollups(
    t.db,
    ev,
    'conversions',
    touchedGroups(conversions, (r: { converted_at: string }) => r.converted_at),
  );
  await refreshRollups(
    t.db,
    ev,
    'clicks',
    touchedGroups(clicks, (r: { clicked_at: string }) => r.clicked_at),
  );
}

describe('idempotent upserts', () => {
  it('loading the same rows twice leaves identical tables, split across statements under the SQL limit', async () => {
    await load('2026-10-13T00:00:00.000Z');
    const once = await tableDigest(t.db, [`${ev}.conversions`, `${ev}.clicks`, `${ev}.hourly_rollups`]);
    await load('2026-10-13T00:00:00.000Z');
    const twice = await tableDigest(t.db, [`${ev}.conversions`, `${ev}.clicks`, `${ev}.hourly_rollups`]);
    expect(twice).toBe(once);
    const [counts] = await t.db.query<{ c: number; k: number }>(
      `SELECT (SELECT COUNT(*) FROM ${ev}.conversions) AS c, (SELECT COUNT(*) FROM ${ev}.clicks) AS k`,
    );
    expect(counts).toEqual({ c: 700, k: 2500 });
  });

  it('a later re-read of the same content changes nothing (not even updated_at)', async () => {
    const before = await tableDigest(t.db, [`${ev}.conversions`]);
    await upsertConversions(t.db, ev, conversions, '2026-10-20T00:00:00.000Z');
    expect(await tableDigest(t.db, [`${ev}.conversions`])).toBe(before);
  });

  it('rollups equal the base tables and money sums exactly', async () => {
    const [r] = await t.db.query<{ clicks: string; uniq: string; conv: string; revenue: string; payout: string }>(
      `SELECT SUM(clicks) AS clicks, SUM(unique_clicks) AS uniq, SUM(conversions) AS conv, SUM(revenue) AS revenue, SUM(payout) AS payout FROM ${ev}.hourly_rollups`,
    );
    expect({ clicks: r.clicks, uniq: r.uniq, conv: r.conv }).toEqual({ clicks: '2500', uniq: '2000', conv: '700' });
    // Exact decimal totals: sum(i + 0.10) for i < 700 and sum((i % 10) + 0.05).
    expect(r.revenue).toBe('244720.000000');
    expect(r.payout).toBe('3185.000000');
  });

  it('an older fetch delivered late does not roll back a newer status, and first_seen_at keeps the earliest fetch', async () => {
    const newer = [
      conversionRow({
        conversion_id: 'c-late',
        order_id: 'o5',
        affiliate_id: 'a-solo',
        offer_id: 'f2',
        converted_at: conversions[5].converted_at,
        status: 'rejected',
        revenue: '5.10',
        payout: '5.05',
      }),
    ];
    const older = [conversionRow({ ...newer[0], status: 'pending' })];
    await upsertConversions(t.db, ev, newer, '2026-10-15T00:00:00.000Z');
    await upsertConversions(t.db, ev, older, '2026-10-14T00:00:00.000Z');
    const [row] = await t.db.query<{ status: string; first_seen_at: string; updated_at: string }>(
      `SELECT status, first_seen_at, updated_at FROM ${ev}.conversions WHERE conversion_id = 'c-late'`,
    );
    expect(row).toEqual({
      status: 'rejected',
      first_seen_at: '2026-10-14 00:00:00.000',
      updated_at: '2026-10-15 00:00:00.000',
    });
    await refreshRollups(
      t.db,
      ev,
      'conversions',
      touchedGroups(newer, (r: { converted_at: string }) => r.converted_at),
    );
    const [h] = await t.db.query<{ conversions: number }>(
      `SELECT conversions FROM ${ev}.hourly_rollups WHERE affiliate_id = 'a-solo' AND offer_id = 'f2' AND hour = :h`,
      { h: `${conversions[5].converted_at.slice(0, 10)} ${conversions[5].converted_at.slice(11, 13)}:00:00` },
    );
    // c-late is the only conversion of its group and hour, and it is rejected: it counts for nothing.
    expect(h.conversions).toBe(0);
  });
});

describe('rollup refresh', () => {
  const digestRollups = () => tableDigest(t.db, [`${ev}.hourly_rollups`]);
  const truth = () =>
    t.db.query(
      `SELECT h, affiliate_id, offer_id, CAST(COUNT(*) AS SIGNED) AS clicks FROM (
         SELECT DATE_FORMAT(clicked_at, '%Y-%m-%d %H:00:00') AS h, affiliate_id, offer_id FROM ${ev}.clicks) x
        GROUP BY h, affiliate_id, offer_id ORDER BY h, affiliate_id, offer_id`,
    );
  const fromRollups = () =>
    t.db.query(
      `SELECT DATE_FORMAT(hour, '%Y-%m-%d %H:00:00') AS h, affiliate_id, offer_id, clicks FROM ${ev}.hourly_rollups WHERE clicks > 0 ORDER BY h, affiliate_id, offer_id`,
    );

  it('whole-hour (dense) and per-group (sparse) recomputes write the same rollups, equal to the base table', async () => {
    // A mix: some hours with many rows (dense), a few rows alone in their hour (sparse).
    const extra = Array.from({ length: 40 }, (_, i) =>
      clickRow({
        click_id: `x${i}`,
        affiliate_id: `a${i % 4}`,
        offer_id: `f${i % 2}`,
        clicked_at: new Date(Date.UTC(2026, 9, 14, i < 36 ? 3 : 7 + i, i)).toISOString(),
      }),
    );
    await upsertClicks(t.db, ev, extra);
    const all = [...clicks, ...extra];
    const digests: string[] = [];
    for (const denseHourRows of [1, 50, Number.POSITIVE_INFINITY]) {
      await t.db.execute(`DELETE FROM ${ev}.hourly_rollups`);
      await refreshRollups(
        t.db,
        ev,
        'clicks',
        touchedGroups(all, (r: { clicked_at: string }) => r.clicked_at),
        { denseHourRows, groupsPerStatement: 7 },
      );
      digests.push(await digestRollups());
      expect(await fromRollups()).toEqual(await truth());
    }
    expect(new Set(digests).size).toBe(1);
    // Restore the conversions' rollups for the tests that follow.
    await refreshRollups(
      t.db,
      ev,
      'conversions',
      touchedGroups(conversions, (r: { converted_at: string }) => r.converted_at),
    );
  });
});
