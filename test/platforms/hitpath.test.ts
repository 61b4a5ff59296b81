import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { platformSchema } from '#shared/config/schema.js';
import type { ClickRow, ConversionRow } from '#shared/model/canonical.js';
import { createHitpathConnector } from '#shared/platforms/hitpath/index.js';
import { parseCsvReport, parseXmlReport, checkHeaders, XmlRowSplitter } from '#shared/platforms/hitpath/client.js';
import { parseHitpathTime } from '#shared/platforms/hitpath/map.js';
import { resolveColumns, type HitpathConfig } from '#shared/platforms/hitpath/schemas.js';
import { MemoryRateLimiter, unlimited, type RateLimiter } from '#shared/platforms/rate-limit.js';
import {
  PlatformApiError,
  type Connector,
  type FetchContext,
  type RawPage,
  type Slice,
} from '#shared/platforms/types.js';
import {
  createHitpathSimulator,
  HITPATH_SIM_PATH,
  type HitpathSimulator,
  type HitpathSimulatorOptions,
} from '../../dev/simulators/hitpath.js';
import type { Scenario, ScenarioClick, ScenarioConversion } from '../../dev/simulators/scenario/types.js';
import { ManualClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';

// ---------- helpers ----------

const FIX = new URL('../fixtures/hitpath/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIX), 'utf8');
const NY = 'America/New_York';
const SECRET = 'hp-secret-Key_42';

function hitpathConfig(over: Record<string, unknown> = {}): HitpathConfig {
  const c = platformSchema.parse({
    kind: 'hitpath',
    baseUrl: 'https://reports.example.net/api.php',
    apiKeyEnv: 'HITPATH_API_KEY',
    timezone: NY,
    ...over,
  });
  if (c.kind !== 'hitpath') throw new Error('not hitpath');
  return c;
}

function normalizeAll<S extends 'conversions' | 'clicks'>(connector: Connector, stream: S, records: unknown[]) {
  return records.map((r) => connector.normalize(stream, r, { hash: (v) => `h(${v})` }));
}
function okRows<T>(results: { ok: boolean }[]): T[] {
  return results.map((r) => {
    if (!r.ok) throw new Error(`unexpected failure: ${(r as unknown as { reason: string }).reason}`);
    return (r as unknown as { row: T }).row;
  });
}

const ms = (iso: string) => Date.parse(iso);

function click(id: string, atIso: string, over: Partial<ScenarioClick> = {}): ScenarioClick {
  return {
    platform: 'hitpath',
    clickId: id,
    clickedAt: ms(atIso),
    affiliateId: '1001',
    offerId: '77',
    advertiserId: '5',
    subs: ['s1', null, null, null, null],
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0',
    countryCode: 'US',
    isUnique: true,
    ...over,
  };
}

function sale(
  id: string,
  clickIso: string,
  saleIso: string,
  over: Partial<ScenarioConversion> = {},
): ScenarioConversion {
  return {
    platform: 'hitpath',
    conversionId: `conv-${id}`,
    clickId: id,
    clickedAt: ms(clickIso),
    convertedAt: ms(saleIso),
    affiliateId: '1001',
    offerId: '77',
    advertiserId: '5',
    orderId: `ORD-${id}`,
    transactionId: `tx-${id}`,
    subs: ['s1', 's2', null, null, null],
    eventName: null,
    status: 'approved',
    changes: [],
    revenue: '45.00',
    payout: '30.00',
    saleAmount: null,
    currency: 'USD',
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0',
    countryCode: 'US',
    ...over,
  };
}

function scenario(clicks: ScenarioClick[], conversions: ScenarioConversion[]): Scenario {
  return {
    options: {
      seed: 1,
      startDate: '2026-09-01',
      days: 90,
      platforms: { hitpath: 'hitpath', everflow: 'everflow' },
      legacy: ['hitpath'],
      target: 'everflow',
      migrationStart: '2026-09-10',
      cutoverDate: '2026-10-15',
      clicksPerDay: 10,
      affiliates: 1,
      offers: 1,
      advertisers: 1,
    },
    affiliates: {},
    offers: {},
    advertisers: {},
    clicks: { hitpath: [...clicks].sort((a, b) => a.clickedAt - b.clickedAt) },
    conversions: { hitpath: [...conversions].sort((a, b) => a.convertedAt - b.convertedAt) },
    crosswalk: [],
    incidents: [],
    waves: [],
  };
}

const sims: HitpathSimulator[] = [];
afterEach(async () => {
  while (sims.length) await sims.pop()!.stop();
});

async function startSim(
  sc: Scenario,
  options: Partial<HitpathSimulatorOptions> & { now?: () => number },
): Promise<{ sim: HitpathSimulator; url: string }> {
  const sim = createHitpathSimulator(sc, { platform: 'hitpath', secret: SECRET, timezone: NY, ...options });
  sims.push(sim);
  const base = await sim.start();
  return { sim, url: base + HITPATH_SIM_PATH };
}

const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 20, maxAttempts: 5, timeoutMs: 5_000 };

function fetchCtx(clockIso: string, over: Partial<FetchContext> = {}): FetchContext {
  return {
    fetch: globalThis.fetch,
    rateLimiter: unlimited,
    clock: new ManualClock(new Date(clockIso)),
    logger: silentLogger,
    secret: SECRET,
    retry: FAST_RETRY,
    ...over,
  };
}

async function pull(connector: Connector, slice: Omit<Slice, 'platform'>, ctx: FetchContext) {
  const pages: RawPage[] = [];
  const summary = await connector.fetchSlice({ platform: 'hitpath', ...slice }, ctx, async (p) => {
    pages.push(p);
  });
  return { summary, records: pages.flatMap((p) => p.records), pages };
}

// ---------- expected rows for sales.csv / sales.xml (America/New_York, EDT = UTC−4) ----------

const SALES_RAW = [
  {
    hitid: '5550001',
    date: '2026-10-12 09:15:00',
    saledate: '2026-10-12 09:47:30',
    campaignid: '77',
    affiliateid: '1001',
    c1: 'spring',
    c2: '',
    c3: 'banner-3',
    ip: '203.0.113.7',
    transid: 'ORD-1001',
    amount: '45.00',
    payout: '30.00',
    status: 'Approved',
    event: '',
  },
  {
    hitid: '5550001',
    date: '2026-10-12 09:15:00',
    saledate: '2026-10-14 18:05:00',
    campaignid: '77',
    affiliateid: '1001',
    c1: 'spring',
    c2: '',
    c3: 'banner-3',
    ip: '203.0.113.7',
    transid: 'ORD-1001-UP',
    amount: '10.50',
    payout: '5.25',
    status: 'Pending',
    event: 'upsell',
  },
  {
    hitid: '5550002',
    date: '10/12/2026 3:04:05 PM',
    saledate: '10/13/2026 12:00:00 AM',
    campaignid: '78',
    affiliateid: '1002',
    c1: '',
    c2: '',
    c3: '',
    ip: '198.51.100.20',
    transid: 'added by admin (JD)',
    amount: '120',
    payout: '80.5',
    status: 'Paid',
    event: '',
  },
  {
    hitid: '5550003',
    date: '2026-10-13 23:59:59',
    saledate: '2026-10-14 00:00:01',
    campaignid: '77',
    affiliateid: '1003',
    c1: 'a',
    c2: 'b',
    c3: 'c',
    ip: '192.0.2.1',
    transid: 'T-77',
    amount: '0.00',
    payout: '0',
    status: 'Reversed',
    event: '',
  },
];

const conv = (over: Partial<ConversionRow>): ConversionRow => ({
  conversion_id: '',
  click_id: null,
  transaction_id: null,
  order_id: null,
  converted_at: '',
  clicked_at: null,
  affiliate_id: '',
  offer_id: '',
  advertiser_id: null,
  sub1: null,
  sub2: null,
  sub3: null,
  sub4: null,
  sub5: null,
  event_name: null,
  is_event: false,
  status: 'approved',
  revenue: '0',
  payout: '0',
  sale_amount: null,
  currency: 'USD',
  ip: null,
  user_agent_hash: null,
  country_code: null,
  raw: null,
  ...over,
});

const SALES_EXPECTED: ConversionRow[] = [
  conv({
    conversion_id: '5550001',
    click_id: '5550001',
    order_id: 'ORD-1001',
    converted_at: '2026-10-12T13:47:30.000Z',
    clicked_at: '2026-10-12T13:15:00.000Z',
    affiliate_id: '1001',
    offer_id: '77',
    sub1: 'spring',
    sub3: 'banner-3',
    status: 'approved',
    revenue: '45.00',
    payout: '30.00',
    ip: '203.0.113.7',
    raw: SALES_RAW[0],
  }),
  conv({
    conversion_id: '5550001:upsell',
    click_id: '5550001',
    order_id: 'ORD-1001-UP',
    converted_at: '2026-10-14T22:05:00.000Z',
    clicked_at: '2026-10-12T13:15:00.000Z',
    affiliate_id: '1001',
    offer_id: '77',
    sub1: 'spring',
    sub3: 'banner-3',
    event_name: 'upsell',
    is_event: true,
    status: 'pending',
    revenue: '10.50',
    payout: '5.25',
    ip: '203.0.113.7',
    raw: SALES_RAW[1],
  }),
  conv({
    conversion_id: '5550002',
    click_id: '5550002',
    order_id: null,
    converted_at: '2026-10-13T04:00:00.000Z',
    clicked_at: '2026-10-12T19:04:05.000Z',
    affiliate_id: '1002',
    offer_id: '78',
    status: 'approved',
    revenue: '120',
    payout: '80.5',
    ip: '198.51.100.20',
    raw: SALES_RAW[2],
  }),
  conv({
    conversion_id: '5550003',
    click_id: '5550003',
    order_id: 'T-77',
    converted_at: '2026-10-14T04:00:01.000Z',
    clicked_at: '2026-10-14T03:59:59.000Z',
    affiliate_id: '1003',
    offer_id: '77',
    sub1: 'a',
    sub2: 'b',
    sub3: 'c',
    status: 'rejected',
    revenue: '0.00',
    payout: '0',
    ip: '192.0.2.1',
    raw: SALES_RAW[3],
  }),
];

const clickRow = (over: Partial<ClickRow>): ClickRow => ({
  click_id: '',
  clicked_at: '',
  affiliate_id: '1001',
  offer_id: '77',
  advertiser_id: null,
  sub1: null,
  sub2: null,
  sub3: null,
  sub4: null,
  sub5: null,
  ip: null,
  user_agent_hash: null,
  country_code: null,
  is_unique: true,
  ...over,
});

const CLICKS_EXPECTED: ClickRow[] = [
  clickRow({
    click_id: '5550001',
    clicked_at: '2026-10-12T13:15:00.000Z',
    sub1: 'spring',
    sub3: 'banner-3',
    ip: '203.0.113.7',
  }),
  // December: EST, UTC−5.
  clickRow({ click_id: '5550010', clicked_at: '2026-12-01T13:00:00.000Z', ip: '203.0.113.8' }),
];

// ---------- mappers against fixtures ----------

describe('hitpath mappers (fixtures)', () => {
  const connector = createHitpathConnector('hitpath', hitpathConfig());

  it('maps a CSV sales report field by field', () => {
    const report = parseCsvReport('hitpath', '/api.php', fixture('sales.csv'));
    expect(report.headers).toEqual([
      'hitid',
      'date',
      'saledate',
      'campaignid',
      'affiliateid',
      'c1',
      'c2',
      'c3',
      'ip',
      'transid',
      'amount',
      'payout',
      'status',
      'event',
    ]);
    expect(okRows<ConversionRow>(normalizeAll(connector, 'conversions', report.rows))).toEqual(SALES_EXPECTED);
  });

  it('maps the same report in XML to the same rows', () => {
    const report = parseXmlReport('hitpath', '/api.php', fixture('sales.xml'));
    expect(okRows<ConversionRow>(normalizeAll(connector, 'conversions', report.rows))).toEqual(SALES_EXPECTED);
  });

  it('maps clicks reports (CSV and XML), across EDT and EST', () => {
    for (const rows of [
      parseCsvReport('hitpath', '/api.php', fixture('clicks.csv')).rows,
      parseXmlReport('hitpath', '/api.php', fixture('clicks.xml')).rows,
    ]) {
      expect(okRows<ClickRow>(normalizeAll(connector, 'clicks', rows))).toEqual(CLICKS_EXPECTED);
    }
  });

  it('reads quoted CSV fields holding commas, quotes and newlines', () => {
    const rows = okRows<ConversionRow>(
      normalizeAll(connector, 'conversions', parseCsvReport('hitpath', '/api.php', fixture('quoted.csv')).rows),
    );
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      conversion_id: '5550020:Upsell, "gold"',
      sub1: 'red, white',
      sub2: 'say "hi"',
      sub3: 'line one\nline two',
      ip: '203.0.113.9',
      order_id: 'ORD,42',
      event_name: 'Upsell, "gold"',
      is_event: true,
      revenue: '12.50',
      payout: '6.25',
    });
    expect(rows[1]).toMatchObject({
      conversion_id: '5550021',
      sub1: null,
      sub2: '"quoted"',
      sub3: 'plain',
      order_id: 'a "b", c',
      is_event: false,
      status: 'approved',
      revenue: '1.5',
      payout: '1',
    });
  });

  it('reads renamed headers through a custom column map, including is_unique', () => {
    const custom = createHitpathConnector(
      'hitpath',
      hitpathConfig({
        columns: {
          click_id: 'HitID',
          clicked_at: 'Click Time',
          converted_at: 'Sale Time',
          offer_id: 'Campaign',
          affiliate_id: 'Affiliate',
          sub1: 'Sub 1',
          sub2: 'Sub 2',
          sub3: 'Sub 3',
          ip: 'Hit IP',
          order_id: 'Trans ID',
          revenue: 'Payin',
          payout: 'Payout',
          status: 'Sale Status',
          event_name: 'Event Name',
          is_unique: 'Unique',
        },
        currency: 'EUR',
      }),
    );
    const rows = parseCsvReport('hitpath', '/api.php', fixture('custom-columns.csv')).rows;
    expect(okRows<ClickRow>(normalizeAll(custom, 'clicks', rows))).toEqual([
      clickRow({
        click_id: '7001',
        clicked_at: '2026-10-12T13:15:00.000Z',
        sub1: 's1',
        sub2: 's2',
        sub3: 's3',
        ip: '203.0.113.7',
        is_unique: true,
      }),
      clickRow({
        click_id: '7002',
        clicked_at: '2026-10-12T14:00:00.000Z',
        offer_id: '78',
        affiliate_id: '1002',
        ip: '203.0.113.8',
        is_unique: false,
      }),
    ]);
    const sale = custom.normalize('conversions', rows[0], { hash: (v) => v });
    expect(sale).toEqual({
      ok: true,
      row: conv({
        conversion_id: '7001',
        click_id: '7001',
        order_id: 'ORD-7001',
        converted_at: '2026-10-12T13:47:30.000Z',
        clicked_at: '2026-10-12T13:15:00.000Z',
        affiliate_id: '1001',
        offer_id: '77',
        sub1: 's1',
        sub2: 's2',
        sub3: 's3',
        revenue: '45.00',
        payout: '30.00',
        currency: 'EUR',
        ip: '203.0.113.7',
        raw: rows[0],
      }),
    });
  });

  it('fails a header row that lacks a mapped column, naming it and the mapping', () => {
    const report = parseCsvReport('hitpath', '/api.php', fixture('custom-columns.csv'));
    const check = () =>
      checkHeaders('hitpath', '/api.php (type=sales)', 'sales', report.headers, resolveColumns({}), {});
    expect(check).toThrow(PlatformApiError);
    // "HitID" and "Payout" match "hitid" and "payout": headers are matched ignoring case.
    expect(check).toThrow(
      /report has no column "saledate" \(converted_at\), "campaignid" \(offer_id\), "affiliateid" \(affiliate_id\), "amount" \(revenue\), "status" \(status\); columns in the reply: HitID, Click Time/,
    );
    expect(check).toThrow(/configured mapping: click_id→hitid, clicked_at→date/);
    // An optional column the deployment configured explicitly must exist too.
    const cols = { sub1: 'subid_one' };
    expect(() =>
      checkHeaders(
        'hitpath',
        '/api.php',
        'clicks',
        parseCsvReport('hitpath', '/api.php', fixture('clicks.csv')).headers,
        resolveColumns(cols),
        cols,
      ),
    ).toThrow(/no column "subid_one" \(sub1\)/);
  });

  it('maps local times across both DST changes in America/New_York to the right UTC instants', () => {
    const results = normalizeAll(
      connector,
      'clicks',
      parseCsvReport('hitpath', '/api.php', fixture('dst-clicks.csv')).rows,
    );
    const times = results.map((r) => (r.ok ? (r.row as ClickRow).clicked_at : r.reason));
    expect(times.slice(0, 10)).toEqual([
      '2026-11-01T04:30:00.000Z', // 00:30 EDT
      '2026-11-01T05:30:00.000Z', // 01:30 tagged EDT: the first pass through the repeated hour
      '2026-11-01T06:30:00.000Z', // 01:30 tagged EST: the second pass
      '2026-11-01T05:30:00.000Z', // 01:30 untagged: ambiguous → the earlier instant (documented)
      '2026-11-01T06:30:00.000Z', // 01:30 -05:00
      '2026-11-01T07:30:00.000Z', // 02:30 EST
      '2026-03-08T06:59:59.000Z', // 01:59:59 EST, just before the spring gap
      '2026-03-08T07:30:00.000Z', // 02:30 does not exist: moved forward by the gap (= 03:30 EDT)
      '2026-03-08T07:00:00.000Z', // 03:00 EDT
      '2026-03-08T19:30:00.000Z', // 3/8/2026 3:30:00 PM EDT
    ]);
    expect(times[10]).toMatch(
      /^hitpath clicks: column "date" \(clicked_at\): expected a time in America\/New_York.*got "2026-11-01 01:30:00 PST"$/,
    );
    expect(parseHitpathTime('2026-11-01T01:30:00Z', NY)?.toISOString()).toBe('2026-11-01T01:30:00.000Z');
    expect(parseHitpathTime('not a date', NY)).toBeNull();
  });

  it('quarantines a bad amount and an unknown status with reasons, and maps the rest', () => {
    const results = normalizeAll(
      connector,
      'conversions',
      parseCsvReport('hitpath', '/api.php', fixture('bad-records.csv')).rows,
    );
    expect(results.map((r) => r.ok)).toEqual([true, false, false, true]);
    expect(results[1]).toEqual({
      ok: false,
      reason: 'hitpath conversions: column "amount" (revenue): expected a decimal like 12.50, got "12,50"',
    });
    expect((results[2] as { reason: string }).reason).toMatch(
      /^hitpath conversions: column "status" \(status\): expected a known status \(approved, .*\), got "Mystery"$/,
    );
    expect(results[3]).toMatchObject({
      ok: true,
      row: { conversion_id: '6004', status: 'rejected', revenue: '20', payout: '10' },
    });
    // Not a row at all.
    expect(connector.normalize('conversions', 'hitid,date', { hash: (v) => v })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^hitpath conversions: \(record\): expected an object, got "hitid,date"$/),
    });
    expect(connector.normalize('affiliates', {}, { hash: (v) => v })).toMatchObject({ ok: false });
  });

  it('describes itself: streams, horizon, a burst-free 2-per-5-minutes budget, day-long slices', () => {
    expect(connector.streams).toEqual(['conversions', 'clicks']);
    expect(connector.horizonDays).toBe(45);
    const { requests, perSeconds } = connector.defaultRateLimit;
    // A token bucket's worst case in any 300 s: its burst plus what refills in 300 s.
    expect(requests + Math.floor((300 / perSeconds) * requests)).toBeLessThanOrEqual(2);
    expect(connector.sliceHours('clicks')).toBeGreaterThanOrEqual(24);
    expect(connector.sliceHours('conversions')).toBeGreaterThanOrEqual(24);
  });
});

// ---------- connector against the simulator ----------

const NOW = '2026-10-20T16:00:00Z'; // 12:00 EDT

describe('hitpath connector ↔ simulator', () => {
  const sc = scenario(
    [
      click('c-early', '2026-10-18T03:30:00Z'), // Oct 17 23:30 EDT: outside the local date range
      click('c1', '2026-10-18T04:30:00Z', { subs: ['a,b', 'say "x"', 'l1\nl2', null, null] }),
      click('c2', '2026-10-18T20:00:00Z', { isUnique: false }),
      click('c3', '2026-10-19T03:59:59Z'), // Oct 18 23:59:59 EDT: same local date, outside the UTC window
    ],
    [
      sale('c1', '2026-10-18T04:30:00Z', '2026-10-18T05:00:00Z'),
      sale('c1', '2026-10-18T04:30:00Z', '2026-10-18T09:00:00Z', {
        eventName: 'upsell',
        revenue: '5.00',
        payout: '2.50',
        status: 'pending',
        changes: [{ at: ms('2026-10-19T00:00:00Z'), status: 'approved' }],
      }),
      sale('c2', '2026-10-18T20:00:00Z', '2026-10-18T21:00:00Z', {
        status: 'pending',
        changes: [{ at: ms('2026-10-25T00:00:00Z'), status: 'rejected' }],
      }),
      sale('c9', '2026-10-17T20:00:00Z', '2026-10-19T05:00:00Z'), // after the window
    ],
  );
  const window = { from: '2026-10-18T04:00:00Z', to: '2026-10-19T00:00:00Z' };

  for (const format of ['csv', 'xml'] as const) {
    it(`loads exactly the rows of a UTC window (${format}), statuses as of now`, async () => {
      const { sim, url } = await startSim(sc, { now: () => ms(NOW), format });
      const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url, format }));
      const clicks = await pull(connector, { stream: 'clicks', ...window }, fetchCtx(NOW));
      const sales = await pull(connector, { stream: 'conversions', ...window }, fetchCtx(NOW));
      expect(sim.server.requests.map((r) => r.query)).toEqual([
        { key: '[present]', type: 'clicks', start: '2026-10-18', end: '2026-10-18', format },
        { key: '[present]', type: 'sales', start: '2026-10-18', end: '2026-10-18', format },
      ]);
      expect(clicks.summary).toEqual({ pages: 1, records: 2, calls: 1, splits: 0 });
      const clickRows = okRows<ClickRow>(normalizeAll(connector, 'clicks', clicks.records));
      expect(clickRows).toEqual([
        clickRow({
          click_id: 'c1',
          clicked_at: '2026-10-18T04:30:00.000Z',
          sub1: 'a,b',
          sub2: 'say "x"',
          sub3: 'l1\nl2',
          ip: '203.0.113.7',
        }),
        clickRow({ click_id: 'c2', clicked_at: '2026-10-18T20:00:00.000Z', sub1: 's1', ip: '203.0.113.7' }),
      ]);
      const saleRows = okRows<ConversionRow>(normalizeAll(connector, 'conversions', sales.records));
      expect(saleRows).toEqual([
        conv({
          conversion_id: 'c1',
          click_id: 'c1',
          order_id: 'ORD-c1',
          converted_at: '2026-10-18T05:00:00.000Z',
          clicked_at: '2026-10-18T04:30:00.000Z',
          affiliate_id: '1001',
          offer_id: '77',
          sub1: 's1',
          sub2: 's2',
          revenue: '45.00',
          payout: '30.00',
          ip: '203.0.113.7',
          raw: sales.records[0],
        }),
        conv({
          conversion_id: 'c1:upsell',
          click_id: 'c1',
          order_id: 'ORD-c1',
          converted_at: '2026-10-18T09:00:00.000Z',
          clicked_at: '2026-10-18T04:30:00.000Z',
          affiliate_id: '1001',
          offer_id: '77',
          sub1: 's1',
          sub2: 's2',
          event_name: 'upsell',
          is_event: true,
          status: 'approved',
          revenue: '5.00',
          payout: '2.50',
          ip: '203.0.113.7',
          raw: sales.records[1],
        }),
        conv({
          conversion_id: 'c2',
          click_id: 'c2',
          order_id: 'ORD-c2',
          converted_at: '2026-10-18T21:00:00.000Z',
          clicked_at: '2026-10-18T20:00:00.000Z',
          affiliate_id: '1001',
          offer_id: '77',
          sub1: 's1',
          sub2: 's2',
          status: 'pending',
          revenue: '45.00',
          payout: '30.00',
          ip: '203.0.113.7',
          raw: sales.records[2],
        }),
      ]);
      expect(sales.records[0]).toMatchObject({
        hitid: 'c1',
        saledate: '2026-10-18 01:00:00',
        date: '2026-10-18 00:30:00',
        status: 'Approved',
        event: '',
      });
    });
  }

  it('works with renamed headers and US-style times from the instance', async () => {
    const columns = {
      click_id: 'HitID',
      clicked_at: 'Click Date',
      converted_at: 'Sale Date',
      revenue: 'Payin',
      is_unique: 'Unique',
    };
    const { url } = await startSim(sc, { now: () => ms(NOW), columns, timeStyle: 'us' });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url, columns }));
    const clicks = okRows<ClickRow>(
      normalizeAll(
        connector,
        'clicks',
        (await pull(connector, { stream: 'clicks', ...window }, fetchCtx(NOW))).records,
      ),
    );
    expect(clicks.map((c) => [c.click_id, c.clicked_at, c.is_unique])).toEqual([
      ['c1', '2026-10-18T04:30:00.000Z', true],
      ['c2', '2026-10-18T20:00:00.000Z', false],
    ]);
    const sales = okRows<ConversionRow>(
      normalizeAll(
        connector,
        'conversions',
        (await pull(connector, { stream: 'conversions', ...window }, fetchCtx(NOW))).records,
      ),
    );
    expect(sales.map((s) => [s.conversion_id, s.converted_at, s.revenue])).toEqual([
      ['c1', '2026-10-18T05:00:00.000Z', '45.00'],
      ['c1:upsell', '2026-10-18T09:00:00.000Z', '5.00'],
      ['c2', '2026-10-18T21:00:00.000Z', '45.00'],
    ]);
  });

  it('fails clearly when the report lacks a mapped column (instance renamed a header)', async () => {
    const { sim, url } = await startSim(sc, { now: () => ms(NOW), columns: { converted_at: 'Sale Date' } });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    const err = await pull(connector, { stream: 'conversions', ...window }, fetchCtx(NOW)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect((err as PlatformApiError).retryable).toBe(false);
    expect((err as Error).message).toMatch(
      /^hitpath \/api\.php \(type=sales\): type=sales report has no column "saledate" \(converted_at\); columns in the reply: hitid, date, Sale Date, .*configured mapping: .*converted_at→saledate/,
    );
    expect(sim.server.requests).toHaveLength(1); // a configuration error is not retried
  });

  it('refuses a start 46 days back before any request; 45 days back is asked', async () => {
    const { sim, url } = await startSim(sc, { now: () => ms(NOW) });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    // 2026-09-04 00:00 EDT is 46 local days before 2026-10-20.
    const err = await pull(
      connector,
      { stream: 'conversions', from: '2026-09-04T04:00:00Z', to: '2026-09-05T04:00:00Z' },
      fetchCtx(NOW),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect((err as Error).message).toBe(
      "hitpath /api.php (type=sales): start 2026-09-04 is 46 days before today (2026-10-20 in America/New_York); HitPath's Reporting API serves at most 45 days back, so the earliest start is 2026-09-05. Older data cannot be fetched from this API.",
    );
    expect(sim.server.requests).toEqual([]);
    const ok = await pull(
      connector,
      { stream: 'conversions', from: '2026-09-05T04:00:00Z', to: '2026-09-06T04:00:00Z' },
      fetchCtx(NOW),
    );
    expect(ok.summary.calls).toBe(1);
    // The simulator enforces the same horizon on its side.
    const direct = await fetch(`${url}?key=${SECRET}&type=sales&start=2026-09-04&end=2026-09-05`);
    expect([direct.status, await direct.text()]).toEqual([
      400,
      'Error: start date must be no more than 45 days before today',
    ]);
  });

  it('retries a 500, then loads the slice', async () => {
    const { sim, url } = await startSim(sc, { now: () => ms(NOW) });
    sim.server.injectFaults([{ kind: '500' }]);
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    const r = await pull(connector, { stream: 'clicks', ...window }, fetchCtx(NOW));
    expect(sim.server.requests.map((x) => x.fault ?? 'ok')).toEqual(['500', 'ok']);
    expect(r.summary).toMatchObject({ calls: 2, records: 2 });
  });

  for (const format of ['csv', 'xml'] as const) {
    it(`retries a malformed ${format} body (unclosed quote / element), then loads the slice`, async () => {
      const { sim, url } = await startSim(sc, { now: () => ms(NOW), format });
      sim.server.injectFaults([{ kind: 'malformed' }, { kind: 'truncate' }]);
      const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url, format }));
      const warnings: string[] = [];
      const logger = {
        ...silentLogger,
        warn: (m: string, extra?: Record<string, unknown>) => warnings.push(`${m} ${JSON.stringify(extra)}`),
      };
      const r = await pull(connector, { stream: 'conversions', ...window }, fetchCtx(NOW, { logger }));
      expect(sim.server.requests.map((x) => x.fault ?? 'ok')).toEqual(['malformed', 'truncate', 'ok']);
      expect(r.summary).toMatchObject({ calls: 3, records: 3 });
      expect(warnings[0]).toMatch(format === 'csv' ? /reply is not valid CSV/ : /reply is not valid XML/);
      expect(warnings.join('\n')).not.toContain(SECRET);
    });
  }

  it('gives a clear, non-retried error for a wrong key without the key in it', async () => {
    const { sim, url } = await startSim(sc, { now: () => ms(NOW) });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    const wrong = 'wrong-Key-999';
    const logged: string[] = [];
    const logger = {
      debug: () => {},
      info: (m: string, e?: object) => logged.push(m + JSON.stringify(e)),
      warn: (m: string, e?: object) => logged.push(m + JSON.stringify(e)),
      error: (m: string, e?: object) => logged.push(m + JSON.stringify(e)),
    };
    const err = await pull(connector, { stream: 'clicks', ...window }, fetchCtx(NOW, { secret: wrong, logger })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PlatformApiError);
    expect((err as PlatformApiError).retryable).toBe(false);
    expect((err as Error).message).toBe(
      'hitpath /api.php (type=clicks): HitPath refused the API key (HTTP 403: Error: Invalid key): check the key in HITPATH_API_KEY and that it was issued for this domain',
    );
    expect((err as Error).message).not.toContain(wrong);
    expect(logged.join('\n')).not.toContain(wrong);
    expect(sim.server.requests).toHaveLength(1);
  });

  it('scrubs the key if HitPath echoes it in an error reply', async () => {
    const { url } = await startSim(sc, { now: () => ms(NOW) });
    const echo: typeof fetch = async (input) =>
      new Response(`Error: bad request for key=${new URL(String(input)).searchParams.get('key')}`, { status: 400 });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    const err = await pull(connector, { stream: 'clicks', ...window }, fetchCtx(NOW, { fetch: echo })).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toBe('hitpath /api.php (type=clicks): HTTP 400: Error: bad request for key=[key]');
  });

  it('reads error replies sent with HTTP 200 (text or XML) as errors, not as reports', async () => {
    const { url } = await startSim(sc, { now: () => ms(NOW) });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url, format: 'xml' }));
    const reply =
      (body: string): typeof fetch =>
      async () =>
        new Response(body, { status: 200 });
    const xmlKey = await pull(
      connector,
      { stream: 'clicks', ...window },
      fetchCtx(NOW, { fetch: reply('<?xml version="1.0"?>\n<error>Invalid API key</error>') }),
    ).catch((e: unknown) => e);
    expect((xmlKey as Error).message).toBe(
      'hitpath /api.php (type=clicks): HitPath refused the API key ("Invalid API key"): check the key in HITPATH_API_KEY and that it was issued for this domain',
    );
    const other = await pull(
      connector,
      { stream: 'clicks', ...window },
      fetchCtx(NOW, { fetch: reply('ERROR: end date must not be after today') }),
    ).catch((e: unknown) => e);
    expect(other).toMatchObject({
      retryable: false,
      message:
        'hitpath /api.php (type=clicks): HitPath replied with an error: "ERROR: end date must not be after today"',
    });
  });

  it('quarantines a sale with a bad amount while the rest of the reply maps', async () => {
    const bad = scenario(
      [],
      [
        sale('b1', '2026-10-18T05:00:00Z', '2026-10-18T06:00:00Z'),
        sale('b2', '2026-10-18T05:00:00Z', '2026-10-18T07:00:00Z', { revenue: '1,299.00' }),
        sale('b3', '2026-10-18T05:00:00Z', '2026-10-18T08:00:00Z'),
      ],
    );
    const { url } = await startSim(bad, { now: () => ms(NOW) });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    const r = await pull(connector, { stream: 'conversions', ...window }, fetchCtx(NOW));
    const results = normalizeAll(connector, 'conversions', r.records);
    expect(results.map((x) => (x.ok ? (x.row as ConversionRow).conversion_id : x.reason))).toEqual([
      'b1',
      'hitpath conversions: column "amount" (revenue): expected a decimal like 12.50, got "1,299.00"',
      'b3',
    ]);
  });
});

// ---------- DST windows through the simulator ----------

describe('hitpath slices across DST changes (America/New_York)', () => {
  it('autumn: a window crossing the fall-back loads exactly the rows inside it; adjacent windows load each row once', async () => {
    const at = [
      '2026-11-01T03:59:00Z', // Oct 31 23:59 EDT (not even the same local date)
      '2026-11-01T04:59:59Z', // 00:59:59 EDT: just before the window
      '2026-11-01T05:00:00Z', // 01:00 EDT: first instant of the window
      '2026-11-01T05:30:00Z', // 01:30 EDT
      '2026-11-01T06:15:00Z', // 01:15 EST: the repeated hour
      '2026-11-01T07:59:59Z', // 02:59:59 EST: last instant inside
      '2026-11-01T08:00:00Z', // 03:00 EST: the window's end (exclusive)
      '2026-11-01T15:00:00Z', // 10:00 EST
    ];
    const clicks = at.map((t, i) => click(`k${i}`, t));
    const { sim, url } = await startSim(scenario(clicks, []), { now: () => ms('2026-11-10T17:00:00Z') });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    const ctx = fetchCtx('2026-11-10T17:00:00Z');
    const crossing = okRows<ClickRow>(
      normalizeAll(
        connector,
        'clicks',
        (await pull(connector, { stream: 'clicks', from: '2026-11-01T05:00:00Z', to: '2026-11-01T08:00:00Z' }, ctx))
          .records,
      ),
    );
    expect(sim.server.requests[0].query).toMatchObject({ start: '2026-11-01', end: '2026-11-01' });
    expect(crossing.map((c) => [c.click_id, c.clicked_at])).toEqual([
      ['k2', '2026-11-01T05:00:00.000Z'],
      ['k3', '2026-11-01T05:30:00.000Z'],
      // Written as a plain "01:15:00" the repeated hour is ambiguous; the earlier instant is taken
      // (documented), so this row is an hour early, but still inside this window and loaded once.
      ['k4', '2026-11-01T05:15:00.000Z'],
      ['k5', '2026-11-01T07:59:59.000Z'],
    ]);
    // Three adjacent slices meeting inside the DST change: every row exactly once overall.
    const cuts = ['2026-10-31T12:00:00Z', '2026-11-01T05:30:00Z', '2026-11-01T06:00:00Z', '2026-11-02T00:00:00Z'];
    const ids: string[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const r = await pull(connector, { stream: 'clicks', from: cuts[i], to: cuts[i + 1] }, ctx);
      ids.push(...okRows<ClickRow>(normalizeAll(connector, 'clicks', r.records)).map((c) => c.click_id));
    }
    expect([...ids].sort()).toEqual(clicks.map((c) => c.clickId).sort());
  });

  it('spring: a window crossing the gap loads exactly the rows inside it at the right instants', async () => {
    const at = [
      '2026-03-08T05:59:59Z',
      '2026-03-08T06:00:00Z',
      '2026-03-08T06:59:59Z',
      '2026-03-08T07:00:00Z',
      '2026-03-08T07:30:00Z',
      '2026-03-08T08:59:59Z',
      '2026-03-08T09:00:00Z',
    ];
    const clicks = at.map((t, i) => click(`m${i}`, t));
    const { url } = await startSim(scenario(clicks, []), { now: () => ms('2026-03-20T16:00:00Z'), timeStyle: 'us' });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    const r = await pull(
      connector,
      { stream: 'clicks', from: '2026-03-08T06:00:00Z', to: '2026-03-08T09:00:00Z' },
      fetchCtx('2026-03-20T16:00:00Z'),
    );
    const rows = okRows<ClickRow>(normalizeAll(connector, 'clicks', r.records));
    expect(rows.map((c) => [c.click_id, c.clicked_at])).toEqual([
      ['m1', '2026-03-08T06:00:00.000Z'],
      ['m2', '2026-03-08T06:59:59.000Z'],
      ['m3', '2026-03-08T07:00:00.000Z'],
      ['m4', '2026-03-08T07:30:00.000Z'],
      ['m5', '2026-03-08T08:59:59.000Z'],
    ]);
  });
});

// ---------- pacing against the simulator's throttle ----------

describe('hitpath pacing (2 calls per 5 minutes)', () => {
  // The simulator's clock runs 1000× faster than real time: its 5-minute throttle window lasts
  // 0.3 s of real time, so the pacing is exercised for real without waiting minutes.
  const T0 = ms('2026-10-20T16:00:00Z');
  const clicks = [0, 1, 2, 3, 4].map((d) => click(`p${d}`, new Date(T0 - (d + 1) * 86_400_000).toISOString()));
  const slices = [0, 1, 2, 3, 4].map((d) => ({
    stream: 'clicks' as const,
    from: new Date(T0 - (d + 1) * 86_400_000 - 3_600_000).toISOString(),
    to: new Date(T0 - d * 86_400_000 - 3_600_000).toISOString(),
  }));

  async function run(rateLimiter: RateLimiter, retry = FAST_RETRY) {
    const real0 = Date.now();
    const { sim, url } = await startSim(scenario(clicks, []), {
      enforceRateLimit: true,
      now: () => T0 + (Date.now() - real0) * 1000,
    });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    const ids: string[] = [];
    for (const s of slices) {
      const r = await pull(connector, s, fetchCtx(new Date(T0).toISOString(), { rateLimiter, retry }));
      ids.push(...okRows<ClickRow>(normalizeAll(connector, 'clicks', r.records)).map((c) => c.click_id));
    }
    return { sim, ids };
  }

  it("never trips the throttle over 5 slices with the connector's (shrunk) budget", async () => {
    // The default budget's shape (one call per interval, no burst), shrunk like the simulator's clock: 0.2 s ≈ 200 simulated s.
    const config = hitpathConfig({ rateLimit: { requests: 1, perSeconds: 0.2 } });
    const { sim, ids } = await run(new MemoryRateLimiter({ hitpath: config.rateLimit! }));
    expect(sim.throttledCalls).toBe(0);
    expect(sim.server.requests).toHaveLength(5);
    expect(ids.sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
  });

  it('treats the throttle reply as a retryable rate-limit error: pauses the budget, retries, loses nothing', async () => {
    // A bucket of 2 with refill (2 per 0.3 s) bursts a third call inside the window: the simulator
    // refuses it, and the connector waits and asks again.
    const { sim, ids } = await run(new MemoryRateLimiter({ hitpath: { requests: 2, perSeconds: 0.3 } }), {
      ...FAST_RETRY,
      maxDelayMs: 100,
      maxAttempts: 8,
    });
    expect(sim.throttledCalls).toBeGreaterThan(0);
    expect(ids.sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
  });

  it('gives up with a retryable 429 error when the throttle outlasts the retries', async () => {
    const { sim, url } = await startSim(scenario(clicks, []), { enforceRateLimit: true, now: () => T0 });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    const ctx = fetchCtx(new Date(T0).toISOString(), { retry: { ...FAST_RETRY, maxAttempts: 3 } });
    await pull(connector, slices[0], ctx);
    await pull(connector, slices[1], ctx);
    const err = await pull(connector, slices[2], ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect((err as PlatformApiError).retryable).toBe(true);
    expect((err as PlatformApiError).options.status).toBe(429);
    expect((err as Error).message).toBe(
      'hitpath /api.php (type=clicks): throttled by HitPath (at most 2 calls per 5 minutes) after 3 attempts',
    );
    expect(sim.throttledCalls).toBe(3);
  });
});

/** Local HTTP servers answering as a HitPath instance would (closed after each test). */
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
async function serve(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}/api.php`;
}

/**
 * Serves `head` at once and `tail` only after the client has emitted a page (a client that waits
 * for the whole body never gets it), and fetches a day of clicks from it.
 */
async function fetchWhileArriving(format: 'csv' | 'xml', head: string, tail: string) {
  let firstPage!: () => void;
  const gotPage = new Promise<void>((r) => (firstPage = r));
  const url = await serve(async (_req, res) => {
    res.writeHead(200, { 'content-type': format === 'csv' ? 'text/csv' : 'application/xml' });
    res.write(head);
    await gotPage;
    res.end(tail);
  });
  const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url, format }));
  const pages: RawPage[] = [];
  const summary = await connector.fetchSlice(
    { platform: 'hitpath', stream: 'clicks', from: '2026-10-19T00:00:00Z', to: '2026-10-20T00:00:00Z' },
    fetchCtx(NOW),
    async (p) => {
      pages.push(p);
      firstPage();
    },
  );
  return { summary, pages };
}

describe('HitPath CSV replies are read as a stream', () => {
  const header = 'hitid,date,campaignid,affiliateid,c1,c2,c3,ip\n';
  const rows = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => `${from + i},2026-10-19 10:00:00,7,42,s1,,,10.0.0.1\n`).join('');

  it('pages go out while the reply is still arriving (the rest is sent only after the first page)', async () => {
    const { summary, pages } = await fetchWhileArriving('csv', header + rows(1, 5000), rows(5001, 3000));
    expect(summary).toMatchObject({ calls: 1, records: 8000 });
    expect(pages.map((p) => p.records.length)).toEqual([2000, 2000, 2000, 2000]);
    expect((pages[3].records.at(-1) as { hitid: string }).hitid).toBe('8000');
  });

  it('a reply cut short after pages went out fails the slice (fetched again as a new attempt), never half-loaded silently', async () => {
    let calls = 0;
    let firstPage!: () => void;
    const gotPage = new Promise<void>((r) => (firstPage = r));
    const url = await serve(async (_req, res) => {
      calls++;
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.write(`${header}${rows(1, 4500)}`);
      await gotPage;
      res.write('9999,"2026-10-19 10:0');
      res.socket?.destroy();
    });
    const connector = createHitpathConnector('hitpath', hitpathConfig({ baseUrl: url }));
    const error = await connector
      .fetchSlice(
        { platform: 'hitpath', stream: 'clicks', from: '2026-10-19T00:00:00Z', to: '2026-10-20T00:00:00Z' },
        fetchCtx(NOW),
        async () => firstPage(),
      )
      .catch((e: unknown) => e as PlatformApiError);
    expect(error).toBeInstanceOf(PlatformApiError);
    expect((error as PlatformApiError).message).toMatch(
      /4000 rows had gone out, so the slice is fetched again as a new attempt/,
    );
    expect((error as PlatformApiError).retryable).toBe(false);
    expect((error as PlatformApiError).message).not.toContain(SECRET);
    expect(calls).toBe(1);
  });
});

describe('HitPath XML replies are cut into rows as they arrive', () => {
  const doc = `<?xml version="1.0" encoding="UTF-8"?>
<!-- exported -->
<report type="clicks" start="2026-10-19" end="2026-10-19">
  <row><hitid>1</hitid><c1><![CDATA[a</row>b]]></c1><date>2026-10-19 10:00:00</date></row>
  <!-- a comment between rows -->
  <row><hitid>2</hitid><c1>x &amp; y</c1><date>2026-10-19 11:00:00</date></row>
  <row/>
</report>
`;
  it('gives the same rows whatever the chunk boundaries (CDATA holding "</row>", comments, an empty row)', () => {
    const parseAll = (chunks: string[]) => {
      const s = new XmlRowSplitter();
      const rows = chunks.flatMap((c) => s.push(c));
      s.end();
      return rows;
    };
    const whole = parseAll([doc]);
    expect(whole).toHaveLength(3);
    expect(whole[0]).toContain('<![CDATA[a</row>b]]>');
    expect(whole[2]).toBe('<row/>');
    for (let cut = 1; cut < doc.length; cut++) expect(parseAll([doc.slice(0, cut), doc.slice(cut)])).toEqual(whole);
    expect(parseAll([...doc])).toEqual(whole);
    expect(parseAll(['<?xml version="1.0"?>\n<report/>\n'])).toEqual([]);
  });

  it('says what is wrong with a shape it cannot follow, and with a reply cut short', () => {
    const cut = new XmlRowSplitter();
    cut.push(doc.slice(0, doc.indexOf('<row/>')));
    expect(() => cut.end()).toThrow(/cut short: <report> is never closed/);
    expect(() => new XmlRowSplitter().push('<report><row>1</row><line>2</line></report>')).toThrow(
      /<report> should hold one kind of row element, found <row> and <line>/,
    );
    expect(() => new XmlRowSplitter().push('<report>loose text</report>')).toThrow(/text directly inside <report>/);
  });

  it('pages go out while an XML reply is still arriving', async () => {
    const row = (i: number) =>
      `<row><hitid>${i}</hitid><date>2026-10-19 10:00:00</date><campaignid>7</campaignid><affiliateid>42</affiliateid><c1>s1</c1><c2/><c3/><ip>10.0.0.1</ip></row>\n`;
    const { summary, pages } = await fetchWhileArriving(
      'xml',
      `<?xml version="1.0"?>\n<report>\n${Array.from({ length: 2500 }, (_, i) => row(i + 1)).join('')}`,
      `${Array.from({ length: 1500 }, (_, i) => row(i + 2501)).join('')}</report>\n`,
    );
    expect(summary).toMatchObject({ calls: 1, records: 4000 });
    expect(pages.map((p) => p.records.length)).toEqual([2000, 2000]);
    expect(pages[1].records.at(-1)).toMatchObject({ hitid: '4000', c2: '', ip: '10.0.0.1' });
  });
});
