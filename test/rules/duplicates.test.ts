import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { evaluateRules } from '#shared/rules/engine.js';
import type { RuleId } from '#shared/config/schema.js';
import {
  clearAll,
  createTestDb,
  insertConversions,
  insertEntity,
  insertRollups,
  mapEntity,
  hours,
  type TestDb,
} from './helpers.js';

let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
});
afterAll(async () => tdb?.drop());
beforeEach(async () => {
  await clearAll(tdb);
  await mapEntity(tdb, 'affiliate', 'aff-001', { hitpath: '1001', everflow: '57', cake: '301' });
  await mapEntity(tdb, 'offer', 'off-77', { hitpath: '77', everflow: '12', cake: '900' });
});

const at = new Date('2026-10-20T12:00:00Z');
const run = (rule: RuleId, when = at) =>
  evaluateRules({ db: tdb.db, names: tdb.names, config: tdb.config, at: when, only: [rule] });

describe('cross-platform-duplicate', () => {
  it('matches by advertiser order id and reports the payout paid twice, with per-platform ids', async () => {
    await insertEntity(tdb, 'hitpath', 'affiliates', '1001', 'Acme Media');
    await insertConversions(tdb, 'hitpath', [
      { id: 'h1', at: '2026-10-01T10:00:00Z', aff: '1001', offer: '77', orderId: 'ORD-1', payout: '12.50' },
      { id: 'h2', at: '2026-10-02T10:00:00Z', aff: '1001', offer: '77', orderId: 'ORD-2', payout: '7.25' },
      {
        id: 'h3',
        at: '2026-10-03T10:00:00Z',
        aff: '1001',
        offer: '77',
        orderId: 'ORD-3',
        payout: '9.00',
        status: 'rejected',
      },
    ]);
    await insertConversions(tdb, 'everflow', [
      { id: 'e1', at: '2026-10-01T10:05:00Z', aff: '57', offer: '12', orderId: 'ORD-1', payout: '12.00' },
      { id: 'e2', at: '2026-10-02T11:00:00Z', aff: '57', offer: '12', orderId: 'ORD-2', payout: '8.00' },
      { id: 'e3', at: '2026-10-03T10:00:00Z', aff: '57', offer: '12', orderId: 'ORD-3', payout: '9.00' },
      { id: 'e4', at: '2026-10-21T10:00:00Z', aff: '57', offer: '12', orderId: 'ORD-9', payout: '9.00' },
    ]);
    await insertConversions(tdb, 'hitpath', [
      { id: 'h9', at: '2026-10-21T09:00:00Z', aff: '1001', offer: '77', orderId: 'ORD-9' },
    ]);
    const f = await run('cross-platform-duplicate');
    expect(f).toHaveLength(1);
    expect(f[0].subject).toEqual({
      offer: { hitpath: '77', cake: '900', everflow: '12' },
      affiliate: { hitpath: '1001', cake: '301', everflow: '57' },
      platforms: ['hitpath', 'everflow'],
    });
    // min(12.50, 12.00) + min(7.25, 8.00); the rejected ORD-3 and the after-`at` ORD-9 do not count.
    expect(f[0].money_at_risk).toBe('19.25');
    expect(f[0].metrics.duplicates).toBe(2);
    expect(f[0].summary).toContain('Acme Media');
    expect(f[0].evidence.length).toBe(2);
    expect(f[0].fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('bridges CAKE s2 ↔ Everflow transaction_id and Everflow sub ↔ CAKE request id', async () => {
    await insertConversions(tdb, 'cake', [
      {
        id: 'c1',
        at: '2026-10-05T10:00:00Z',
        aff: '301',
        offer: '900',
        subs: [null, 'ef0123456789abcdef0123456789abcd'],
        payout: '3.00',
      },
      { id: 'c2', at: '2026-10-06T10:00:00Z', aff: '301', offer: '900', transactionId: 'REQ-778899', payout: '4.00' },
      { id: 'c3', at: '2026-10-07T10:00:00Z', aff: '301', offer: '900', transactionId: '57', payout: '4.00' },
    ]);
    await insertConversions(tdb, 'everflow', [
      {
        id: 'e1',
        at: '2026-10-05T10:00:30Z',
        aff: '57',
        offer: '12',
        transactionId: 'ef0123456789abcdef0123456789abcd',
        clickId: 'ef0123456789abcdef0123456789abcd',
        payout: '3.50',
      },
      { id: 'e2', at: '2026-10-06T10:00:30Z', aff: '57', offer: '12', subs: ['REQ-778899', '301'], payout: '4.00' },
      // a short sub value equal to a CAKE id by chance must not match
      { id: 'e3', at: '2026-10-07T10:00:30Z', aff: '57', offer: '12', subs: [null, '57'], payout: '4.00' },
    ]);
    const f = await run('cross-platform-duplicate');
    expect(f).toHaveLength(1);
    expect(f[0].subject.platforms).toEqual(['cake', 'everflow']);
    expect(f[0].metrics).toMatchObject({
      duplicates: 2,
      matched_by_cake_s2_everflow_transaction_id: 1,
      matched_by_everflow_sub_cake_request_id: 1,
    });
    expect(f[0].money_at_risk).toBe('7.00');
  });

  it('bridges any Everflow sub to a CAKE click_id or transaction_id, within the window and paid statuses, one-to-one', async () => {
    await insertConversions(tdb, 'cake', [
      { id: 'c1', at: '2026-10-05T10:00:00Z', aff: '301', offer: '900', clickId: 'CLK-AAAAAA', payout: '1.00' },
      { id: 'c2', at: '2026-10-05T11:00:00Z', aff: '301', offer: '900', transactionId: 'REQ-BBBBBB', payout: '2.00' },
      {
        id: 'c3',
        at: '2026-10-05T12:00:00Z',
        aff: '301',
        offer: '900',
        transactionId: 'REQ-CCCCCC',
        status: 'rejected',
        payout: '2.00',
      },
      { id: 'c4', at: '2026-08-20T12:00:00Z', aff: '301', offer: '900', transactionId: 'REQ-DDDDDD', payout: '2.00' }, // before startDate
      { id: 'c5', at: '2026-10-06T10:00:00Z', aff: '301', offer: '900', clickId: 'CLK-EEEEEE', payout: '3.00' },
      { id: 'c6', at: '2026-10-06T11:00:00Z', aff: '301', offer: '900', transactionId: 'REQ-FFFFFF', payout: '10.00' },
    ]);
    await insertConversions(tdb, 'everflow', [
      {
        id: 'e1',
        at: '2026-10-05T10:00:30Z',
        aff: '57',
        offer: '12',
        subs: [null, null, null, 'CLK-AAAAAA'],
        payout: '2.00',
      },
      {
        id: 'e2',
        at: '2026-10-05T11:00:30Z',
        aff: '57',
        offer: '12',
        subs: [null, null, null, null, 'REQ-BBBBBB'],
        payout: '2.00',
      },
      { id: 'e3', at: '2026-10-05T12:00:30Z', aff: '57', offer: '12', subs: ['REQ-CCCCCC'], payout: '2.00' },
      { id: 'e4', at: '2026-10-05T13:00:30Z', aff: '57', offer: '12', subs: ['REQ-DDDDDD'], payout: '2.00' },
      // one Everflow sale naming two CAKE conversions: matched once, to the earlier one
      {
        id: 'e5',
        at: '2026-10-06T10:00:30Z',
        aff: '57',
        offer: '12',
        subs: ['CLK-EEEEEE', null, 'REQ-FFFFFF'],
        payout: '5.00',
      },
    ]);
    const f = await run('cross-platform-duplicate');
    expect(f).toHaveLength(1);
    expect(f[0].metrics).toMatchObject({ duplicates: 3, matched_by_everflow_sub_cake_request_id: 3 });
    expect(f[0].money_at_risk).toBe('6.00');
    const pairs = f[0].evidence.map((e) => [e.cake_conversion_id, e.everflow_conversion_id, e.key]).sort();
    expect(pairs).toEqual([
      ['c1', 'e1', 'CLK-AAAAAA'],
      ['c2', 'e2', 'REQ-BBBBBB'],
      ['c5', 'e5', 'CLK-EEEEEE'],
    ]);
  });

  it('matches mapped offer + IP within the window, not just outside it, and not across user agents', async () => {
    await insertConversions(tdb, 'hitpath', [
      { id: 'h1', at: '2026-10-08T10:00:00Z', aff: '1001', offer: '77', ip: '203.0.113.5', payout: '5.00' },
      { id: 'h2', at: '2026-10-09T10:00:00Z', aff: '1001', offer: '77', ip: '203.0.113.6', payout: '5.00' },
      {
        id: 'h3',
        at: '2026-10-10T10:00:00Z',
        aff: '1001',
        offer: '77',
        ip: '203.0.113.7',
        ua: 'a'.repeat(64),
        payout: '5.00',
      },
    ]);
    await insertConversions(tdb, 'everflow', [
      { id: 'e1', at: '2026-10-08T10:09:59Z', aff: '57', offer: '12', ip: '203.0.113.5', payout: '5.00' }, // 9:59 later: duplicate
      { id: 'e2', at: '2026-10-09T10:10:01Z', aff: '57', offer: '12', ip: '203.0.113.6', payout: '5.00' }, // 10:01 later: not
      {
        id: 'e3',
        at: '2026-10-10T10:01:00Z',
        aff: '57',
        offer: '12',
        ip: '203.0.113.7',
        ua: 'b'.repeat(64),
        payout: '5.00',
      }, // other browser
    ]);
    const f = await run('cross-platform-duplicate');
    expect(f).toHaveLength(1);
    expect(f[0].metrics).toMatchObject({ duplicates: 1, matched_by_offer_ip: 1 });
    expect(JSON.stringify(f[0])).not.toContain('203.0.113');
  });

  it('looks back to migration.startDate but no further', async () => {
    await insertConversions(tdb, 'hitpath', [
      { id: 'h0', at: '2026-08-31T23:59:00Z', aff: '1001', offer: '77', orderId: 'OLD' },
    ]);
    await insertConversions(tdb, 'everflow', [
      { id: 'e0', at: '2026-08-31T23:59:30Z', aff: '57', offer: '12', orderId: 'OLD' },
    ]);
    expect(await run('cross-platform-duplicate')).toHaveLength(0);
  });
});

describe('platform-duplicate', () => {
  it('fires on an order approved twice on one platform, not on a rejected repeat or events', async () => {
    await insertConversions(tdb, 'everflow', [
      { id: 'a', at: '2026-10-10T10:00:00Z', aff: '57', offer: '12', orderId: 'X1', payout: '6.00' },
      { id: 'b', at: '2026-10-10T11:00:00Z', aff: '57', offer: '12', orderId: 'X1', payout: '6.50' },
      { id: 'c', at: '2026-10-11T10:00:00Z', aff: '57', offer: '12', orderId: 'X2' },
      { id: 'd', at: '2026-10-11T11:00:00Z', aff: '57', offer: '12', orderId: 'X2', status: 'rejected' },
      { id: 'e', at: '2026-10-12T10:00:00Z', aff: '57', offer: '12', orderId: 'X3' },
      { id: 'f', at: '2026-10-12T11:00:00Z', aff: '57', offer: '12', orderId: 'X3', isEvent: true },
    ]);
    const f = await run('platform-duplicate');
    expect(f).toHaveLength(1);
    expect(f[0].subject.platforms).toEqual(['everflow']);
    expect(f[0].money_at_risk).toBe('6.50');
    expect(f[0].evidence[0]).toMatchObject({ order_id: 'X1', conversion_id: 'b', original_conversion_id: 'a' });
  });
});

describe('dual-running', () => {
  const H = 3_600_000;
  /** `clicks` clicks per hour on [fromIso, toIso) for one platform affiliate × offer. */
  const span = (platform: string, aff: string, offer: string, fromIso: string, toIso: string, clicks: number) =>
    insertRollups(
      tdb,
      platform,
      hours(fromIso, toIso).map((h) => ({ hour: h, aff, offer, clicks, payout: '0.50' })),
    );
  /** One hour of clicks every `everyHours` hours on [fromIso, toIso). */
  const trickle = (platform: string, aff: string, offer: string, fromIso: string, toIso: string, everyHours: number) =>
    insertRollups(
      tdb,
      platform,
      hours(fromIso, toIso)
        .filter((_, i) => i % everyHours === 0)
        .map((h) => ({ hour: h, aff, offer, clicks: 1 })),
    );

  it('does not fire on a mid-day link swap with a tail of old legacy clicks in the next hours', async () => {
    // Swaps at 14:00 on the 16th; old links in an email bring a few legacy clicks until the next morning.
    await span('hitpath', '1001', '77', '2026-10-10T00:00:00Z', '2026-10-16T14:00:00Z', 10);
    await span('everflow', '57', '12', '2026-10-16T14:00:00Z', '2026-10-20T12:00:00Z', 10);
    await trickle('hitpath', '1001', '77', '2026-10-16T14:00:00Z', '2026-10-17T10:00:00Z', 3);
    expect(await run('dual-running')).toHaveLength(0);
  });

  it('does not fire on a long trickle of old links next to the moved traffic (legacy share below minLegacyShare)', async () => {
    await span('hitpath', '1001', '77', '2026-10-10T00:00:00Z', '2026-10-14T09:00:00Z', 10);
    await span('everflow', '57', '12', '2026-10-14T09:00:00Z', '2026-10-20T12:00:00Z', 10);
    // One legacy click every 2 hours for 6 days: 50+ clicks past the grace period, but 5% of the traffic.
    await trickle('hitpath', '1001', '77', '2026-10-14T09:00:00Z', '2026-10-20T12:00:00Z', 2);
    expect(await run('dual-running')).toHaveLength(0);
  });

  it('fires on sustained dual running of one offer, with the overlap, both sides and the payout of the overlap clicks', async () => {
    await span('hitpath', '1001', '77', '2026-10-10T00:00:00Z', '2026-10-20T12:00:00Z', 4);
    await span('everflow', '57', '12', '2026-10-15T07:00:00Z', '2026-10-20T12:00:00Z', 4);
    await insertConversions(tdb, 'hitpath', [
      // click in the overlap: at risk
      {
        id: 'in1',
        at: '2026-10-18T10:05:00Z',
        clickedAt: '2026-10-18T10:00:00Z',
        aff: '1001',
        offer: '77',
        payout: '7.25',
      },
      {
        id: 'in2',
        at: '2026-10-19T10:05:00Z',
        clickedAt: '2026-10-15T08:00:00Z',
        aff: '1001',
        offer: '77',
        payout: '1.10',
      },
      // late conversion of a click from before the overlap: the move, not dual running
      {
        id: 'old',
        at: '2026-10-16T10:00:00Z',
        clickedAt: '2026-10-14T23:00:00Z',
        aff: '1001',
        offer: '77',
        payout: '50.00',
      },
      // rejected, and converted after `at`: not counted
      { id: 'rej', at: '2026-10-18T11:00:00Z', aff: '1001', offer: '77', payout: '9.00', status: 'rejected' },
      {
        id: 'later',
        at: '2026-10-20T12:30:00Z',
        clickedAt: '2026-10-20T11:00:00Z',
        aff: '1001',
        offer: '77',
        payout: '9.00',
      },
    ]);
    const f = await run('dual-running');
    expect(f).toHaveLength(1);
    expect(f[0].subject).toEqual({
      affiliate: { hitpath: '1001', cake: '301', everflow: '57' },
      offer: { hitpath: '77', cake: '900', everflow: '12' },
      platforms: ['hitpath', 'everflow'],
    });
    const overlapHours = (Date.parse('2026-10-20T12:00:00Z') - Date.parse('2026-10-15T07:00:00Z')) / H;
    expect(f[0].metrics).toMatchObject({
      overlap_start: '2026-10-15T07:00:00.000Z',
      overlap_hours: overlapHours,
      offers: 1,
      legacy_clicks: 4 * overlapHours,
      target_clicks: 4 * overlapHours,
      legacy_clicks_after_grace: 4 * (overlapHours - 36),
      legacy_share: 0.5,
    });
    expect(f[0].money_at_risk).toBe('8.35');
    expect(f[0].summary).toContain('since 2026-10-15 07:00 UTC (5 days 5 hours)');
  });

  it('judges volume over the whole overlap and across offers: ~15 clicks a day per offer per side on three offers fires', async () => {
    await mapEntity(tdb, 'offer', 'off-78', { hitpath: '78', everflow: '13' });
    await mapEntity(tdb, 'offer', 'off-79', { hitpath: '79', everflow: '14' });
    for (const [legacyOffer, targetOffer] of [
      ['77', '12'],
      ['78', '13'],
      ['79', '14'],
    ]) {
      await trickle('hitpath', '1001', legacyOffer, '2026-10-10T00:00:00Z', '2026-10-20T12:00:00Z', 3);
      await trickle('everflow', '57', targetOffer, '2026-10-17T03:00:00Z', '2026-10-20T12:00:00Z', 3);
    }
    // After the 36 h grace (from 2026-10-18 15:00) each offer gets fewer than minClicks on each side.
    const graceEnd = Date.parse('2026-10-18T15:00:00Z');
    const afterGraceCount = (fromIso: string) =>
      hours(fromIso, '2026-10-20T12:00:00Z').filter((h, i) => i % 3 === 0 && Date.parse(h) >= graceEnd).length;
    const perOffer = afterGraceCount('2026-10-10T00:00:00Z');
    expect(perOffer).toBeLessThan(20);
    expect(afterGraceCount('2026-10-17T03:00:00Z')).toBeLessThan(20);
    const f = await run('dual-running');
    expect(f).toHaveLength(1);
    expect(f[0].subject.offer).toBeUndefined();
    expect(f[0].subject.affiliate).toMatchObject({ hitpath: '1001', everflow: '57' });
    expect(f[0].metrics).toMatchObject({ offers: 3, legacy_clicks_after_grace: 3 * perOffer });
    expect(f[0].evidence.map((e) => (e.offer as Record<string, string>).hitpath).sort()).toEqual(['77', '78', '79']);
    expect(f[0].summary).toContain('3 offers');
  });

  it('respects minClicks after the grace period, and resolves once legacy clicks stop for minOverlapHours', async () => {
    await span('everflow', '57', '12', '2026-10-16T00:00:00Z', '2026-10-20T12:00:00Z', 1);
    await span('hitpath', '1001', '77', '2026-10-10T00:00:00Z', '2026-10-16T00:00:00Z', 5);
    // 19 legacy clicks after the grace end (2026-10-17 12:00), then 20.
    await insertRollups(tdb, 'hitpath', [{ hour: '2026-10-19T05:00:00Z', aff: '1001', offer: '77', clicks: 19 }]);
    expect(await run('dual-running')).toHaveLength(0);
    await insertRollups(tdb, 'hitpath', [{ hour: '2026-10-19T05:00:00Z', aff: '1001', offer: '77', clicks: 20 }]);
    expect(await run('dual-running')).toHaveLength(1);
    // The last legacy click hour ends 06:00 on the 19th: still running until 36 h later, quiet after.
    expect(await run('dual-running', new Date('2026-10-20T17:59:00Z'))).toHaveLength(1);
    expect(await run('dual-running', new Date('2026-10-20T18:00:00Z'))).toHaveLength(0);
    // Before the grace period ends nothing counts.
    expect(await run('dual-running', new Date('2026-10-17T12:00:00Z'))).toHaveLength(0);
  });

  it('ignores unmapped affiliates (no crosswalk, no claim they are the same partner)', async () => {
    await span('hitpath', '2002', '77', '2026-10-10T00:00:00Z', '2026-10-20T12:00:00Z', 10);
    await span('everflow', '99', '12', '2026-10-10T00:00:00Z', '2026-10-20T12:00:00Z', 10);
    expect(await run('dual-running')).toHaveLength(0);
  });
});

describe('legacy-traffic-after-cutover', () => {
  it('counts only conversions whose click was also after the cutover', async () => {
    await insertConversions(tdb, 'hitpath', [
      // late conversion of a pre-cutover click: expected, not counted
      { id: 'late', at: '2026-10-16T10:00:00Z', clickedAt: '2026-10-14T23:00:00Z', aff: '1001', offer: '77' },
      { id: 'nullclick', at: '2026-10-16T10:00:00Z', clickedAt: null, aff: '1001', offer: '77' },
    ]);
    expect(await run('legacy-traffic-after-cutover')).toHaveLength(0);
    await insertConversions(tdb, 'hitpath', [
      {
        id: 'new',
        at: '2026-10-16T11:00:00Z',
        clickedAt: '2026-10-15T00:00:00Z',
        aff: '1001',
        offer: '77',
        payout: '2.00',
      },
    ]);
    const f = await run('legacy-traffic-after-cutover');
    expect(f).toHaveLength(1);
    expect(f[0].subject).toMatchObject({ platforms: ['hitpath'], affiliate: { hitpath: '1001', everflow: '57' } });
    expect(f[0].metrics).toMatchObject({ conversions: 1, payout: '2.00' });
    // before the cutover day nothing is "after the cutover"
    expect(await run('legacy-traffic-after-cutover', new Date('2026-10-14T12:00:00Z'))).toHaveLength(0);
  });

  it('respects minConversions', async () => {
    const local = await createTestDb({ rules: { 'legacy-traffic-after-cutover': { minConversions: 3 } } });
    try {
      await insertConversions(local, 'cake', [
        { id: 'c1', at: '2026-10-16T10:00:00Z', clickedAt: '2026-10-16T09:00:00Z', aff: '301', offer: '900' },
        { id: 'c2', at: '2026-10-16T11:00:00Z', clickedAt: '2026-10-16T10:00:00Z', aff: '301', offer: '900' },
      ]);
      const ev = () =>
        evaluateRules({
          db: local.db,
          names: local.names,
          config: local.config,
          at,
          only: ['legacy-traffic-after-cutover'],
        });
      expect(await ev()).toHaveLength(0);
      await insertConversions(local, 'cake', [
        { id: 'c3', at: '2026-10-16T12:00:00Z', clickedAt: '2026-10-16T11:00:00Z', aff: '301', offer: '900' },
      ]);
      expect(await ev()).toHaveLength(1);
    } finally {
      await local.drop();
    }
  });
});
