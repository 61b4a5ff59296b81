import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { platformSchema } from '#shared/config/schema.js';
import type { ClickRow, ConversionRow, EntityRow, Stream } from '#shared/model/canonical.js';
import { createCakeConnector, type CakeConfig, type CakeConnectorOptions } from '#shared/platforms/cake/index.js';
import { parseCakeJson, parseCakeReply } from '#shared/platforms/cake/schemas.js';
import { parseCakeDate } from '#shared/platforms/cake/map.js';
import { localWindow } from '#shared/platforms/cake/client.js';
import {
  PlatformApiError,
  type FetchContext,
  type NormalizeContext,
  type RawPage,
  type Slice,
} from '#shared/platforms/types.js';
import { unlimited } from '#shared/platforms/rate-limit.js';
import { systemClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import { createCakeSimulator } from '../../dev/simulators/cake.js';
import type { PlatformSimulator } from '../../dev/simulators/server.js';
import type {
  Scenario,
  ScenarioClick,
  ScenarioConversion,
  ScenarioEntity,
} from '../../dev/simulators/scenario/types.js';

// ---- helpers ----------------------------------------------------------------------------------

const fixture = (name: string) => readFileSync(new URL(`../fixtures/cake/${name}`, import.meta.url), 'utf8');
const records = (name: string, list: string) =>
  (parseCakeJson(fixture(name)) as { d: Record<string, unknown[]> }).d[list];
const hash = (v: string) => createHmac('sha256', 'test-hmac-key').update(v).digest('hex');
const nctx: NormalizeContext = { hash };
const ZONE = 'America/Chicago';
const SECRET = 'cake-secret-7f3a9';

function cakeConfig(baseUrl = 'https://admin.example-network.com', timezone = ZONE): CakeConfig {
  return platformSchema.parse({
    kind: 'cake',
    baseUrl,
    apiKeyEnv: 'CAKE_API_KEY',
    timezone,
    currency: 'USD',
  }) as CakeConfig;
}

function fetchCtx(secret = SECRET, over: Partial<FetchContext> = {}): FetchContext {
  return {
    fetch,
    rateLimiter: unlimited,
    clock: systemClock,
    logger: silentLogger,
    secret,
    retry: { maxAttempts: 6, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 2_000 },
    ...over,
  };
}

function emptyScenario(parts: Partial<Scenario> = {}): Scenario {
  return {
    options: {
      seed: 1,
      startDate: '2026-10-01',
      days: 60,
      platforms: { cake: 'cake' },
      legacy: ['cake'],
      target: 'everflow',
      migrationStart: '2026-10-05',
      cutoverDate: '2026-11-15',
      clicksPerDay: 10,
      affiliates: 1,
      offers: 1,
      advertisers: 1,
    },
    affiliates: {},
    offers: {},
    advertisers: {},
    clicks: {},
    conversions: {},
    crosswalk: [],
    incidents: [],
    waves: [],
    ...parts,
  };
}

function conv(i: number, convertedAt: number, over: Partial<ScenarioConversion> = {}): ScenarioConversion {
  return {
    platform: 'cake',
    conversionId: String(700000 + i),
    clickId: String(500000 + i),
    clickedAt: convertedAt - 60_000,
    convertedAt,
    affiliateId: '1001',
    offerId: '1234',
    advertiserId: '77',
    orderId: `ORD-${i}`,
    transactionId: String(900000 + i),
    subs: ['fb', `ef-tx-${i}`, null, null, null],
    eventName: null,
    status: 'approved',
    changes: [],
    revenue: '20.00',
    payout: '12.50',
    saleAmount: '99.95',
    currency: 'USD',
    ip: '203.0.113.1',
    userAgent: 'Mozilla/5.0 test',
    countryCode: 'US',
    ...over,
  };
}

function click(i: number, clickedAt: number, over: Partial<ScenarioClick> = {}): ScenarioClick {
  return {
    platform: 'cake',
    clickId: String(500000 + i),
    clickedAt,
    affiliateId: '1001',
    offerId: '1234',
    advertiserId: '77',
    subs: ['fb', null, null, null, null],
    ip: '203.0.113.1',
    userAgent: 'Mozilla/5.0 test',
    countryCode: 'US',
    isUnique: true,
    ...over,
  };
}

const sims: PlatformSimulator[] = [];
afterEach(async () => {
  while (sims.length) await sims.pop()!.stop();
});

async function startSim(
  scenario: Scenario,
  opts: { now?: () => number; rowLimitMax?: number; timezone?: string; zeroBasedRows?: boolean } = {},
) {
  const sim = createCakeSimulator(scenario, {
    platform: 'cake',
    secret: SECRET,
    timezone: opts.timezone ?? ZONE,
    now: opts.now ?? (() => Date.parse('2027-01-01T00:00:00Z')),
    rowLimitMax: opts.rowLimitMax,
    zeroBasedRows: opts.zeroBasedRows,
  });
  sims.push(sim);
  const baseUrl = await sim.start();
  return { sim, baseUrl };
}

async function pull(
  baseUrl: string,
  slice: Omit<Slice, 'platform'>,
  ctx: FetchContext = fetchCtx(),
  options: CakeConnectorOptions = {},
  onPage?: (p: RawPage) => Promise<void>,
) {
  const connector = createCakeConnector('cake', cakeConfig(baseUrl), options);
  const pages: RawPage[] = [];
  const summary = await connector.fetchSlice({ platform: 'cake', ...slice }, ctx, async (p) => {
    pages.push(p);
    await onPage?.(p);
  });
  const recs = pages.flatMap((p) => p.records);
  const rows = recs.map((r) => {
    const res = connector.normalize(slice.stream, r, nctx);
    if (!res.ok) throw new Error(res.reason);
    return res.row;
  });
  return { summary, pages, rows };
}

const bodies = (sim: PlatformSimulator) =>
  sim.server.requests
    .filter((r) => !r.fault && !r.path.endsWith('/Currencies'))
    .map((r) => JSON.parse(r.body) as Record<string, unknown>);

// ---- mappers, field by field ------------------------------------------------------------------

describe('cake mappers', () => {
  const connector = createCakeConnector('cake', cakeConfig());

  it('maps EventConversions records to full canonical rows', () => {
    const recs = records('event-conversions.json', 'event_conversions');
    const rows = recs.map((r) => connector.normalize('conversions', r, nctx));
    const raw0 = structuredClone(recs[0]) as Record<string, unknown>;
    raw0.user_id = `hmac:${hash('jane.doe@example.com')}`;
    raw0.udid = `hmac:${hash('A1B2-C3D4-DEVICE')}`;
    raw0.event_conversion_user_agent = `hmac:${hash('Mozilla/5.0 (iPhone)')}`;
    raw0.click_user_agent = `hmac:${hash('Mozilla/5.0 (iPhone) click')}`;
    const raw1 = structuredClone(recs[1]) as Record<string, unknown>;
    raw1.click_user_agent = `hmac:${hash('Mozilla/5.0 (Android)')}`;
    const raw3 = structuredClone(recs[3]) as Record<string, unknown>;
    raw3.event_conversion_user_agent = `hmac:${hash('curl/8.0')}`;

    const expected: ConversionRow[] = [
      {
        conversion_id: '880011223',
        click_id: '445566778',
        transaction_id: '99001100',
        order_id: 'ORD-98765',
        // 08:02:11.250 in Chicago (CDT, UTC-5)
        converted_at: '2026-10-12T13:02:11.250Z',
        clicked_at: '2026-10-12T12:55:03.000Z',
        affiliate_id: '1001',
        offer_id: '1234',
        advertiser_id: '77',
        sub1: 'fb',
        sub2: 'ef-tx-0a1b2c3d4e5f',
        sub3: null,
        sub4: null,
        sub5: 'z5',
        event_name: null,
        is_event: false,
        status: 'approved',
        revenue: '22.000000000000000001',
        payout: '12.10',
        sale_amount: '149.99',
        currency: 'USD',
        ip: '203.0.113.7',
        user_agent_hash: hash('Mozilla/5.0 (iPhone)'),
        country_code: 'US',
        raw: raw0,
      },
      {
        conversion_id: '880011224',
        click_id: null,
        transaction_id: '99001133',
        order_id: null,
        converted_at: '2026-10-14T21:30:00.000Z',
        clicked_at: null,
        affiliate_id: '1002',
        offer_id: '1235',
        advertiser_id: null,
        sub1: null,
        sub2: null,
        sub3: null,
        sub4: null,
        sub5: null,
        event_name: 'Upsell',
        is_event: true,
        status: 'pending',
        revenue: '3',
        payout: '0.000015',
        sale_amount: null,
        currency: 'EUR',
        ip: '198.51.100.4',
        user_agent_hash: hash('Mozilla/5.0 (Android)'),
        country_code: null,
        raw: raw1,
      },
      {
        conversion_id: '880011225',
        click_id: '445566790',
        transaction_id: '99001144',
        order_id: 'ORD-77777',
        // 01:30 on the fall-back night happens twice; the earlier (CDT) instant is chosen.
        converted_at: '2026-11-01T06:30:00.000Z',
        clicked_at: '2026-10-11T17:00:00.000Z',
        affiliate_id: '1001',
        offer_id: '1234',
        advertiser_id: '77',
        sub1: 'fb',
        sub2: null,
        sub3: null,
        sub4: null,
        sub5: null,
        event_name: null,
        is_event: false,
        status: 'invalid',
        revenue: '-22.00',
        payout: '-12.10',
        sale_amount: '0',
        currency: 'USD',
        ip: '203.0.113.9',
        user_agent_hash: null,
        country_code: 'CA',
        raw: recs[2],
      },
      {
        conversion_id: '880011226',
        click_id: '445566791',
        transaction_id: '0',
        order_id: 'LEAD-1',
        // the offset form is a true epoch whatever the instance zone
        converted_at: '2026-10-12T13:02:11.250Z',
        clicked_at: '2026-10-12T13:02:11.250Z',
        affiliate_id: '1003',
        offer_id: '1300',
        advertiser_id: '78',
        sub1: 'a',
        sub2: 'b',
        sub3: 'c',
        sub4: 'd',
        sub5: 'e',
        event_name: null,
        is_event: false,
        status: 'approved',
        revenue: '7',
        payout: '5.25',
        sale_amount: '1000',
        currency: 'GBP',
        ip: '2001:db8::1',
        user_agent_hash: hash('curl/8.0'),
        country_code: 'GB',
        raw: raw3,
      },
    ];
    expect(rows).toEqual(expected.map((row) => ({ ok: true, row })));
    // the raw copy never carries the end user's e-mail, device id or user agent
    expect(JSON.stringify(rows)).not.toMatch(/jane\.doe|A1B2-C3D4|iPhone\)/);
  });

  it('maps conversion_changes records like conversions', () => {
    const rec = records('event-conversions.json', 'event_conversions')[1];
    expect(connector.normalize('conversion_changes', rec, nctx)).toEqual(connector.normalize('conversions', rec, nctx));
  });

  it('maps Clicks records to full canonical rows', () => {
    const rows = records('clicks.json', 'clicks').map((r) => connector.normalize('clicks', r, nctx));
    const expected: ClickRow[] = [
      {
        click_id: '445566778',
        clicked_at: '2026-10-12T12:55:03.000Z',
        affiliate_id: '1001',
        offer_id: '1234',
        advertiser_id: '77',
        sub1: 'fb',
        sub2: 'ef-tx-0a1b2c3d4e5f',
        sub3: null,
        sub4: null,
        sub5: 'z5',
        ip: '203.0.113.8',
        user_agent_hash: hash('Mozilla/5.0 (iPhone) click'),
        country_code: 'US',
        is_unique: true,
      },
      {
        click_id: '445566779',
        clicked_at: '2026-10-12T12:59:00.000Z',
        affiliate_id: '1002',
        offer_id: '1235',
        advertiser_id: null,
        sub1: null,
        sub2: null,
        sub3: null,
        sub4: null,
        sub5: null,
        ip: null,
        user_agent_hash: null,
        country_code: null,
        is_unique: false,
      },
    ];
    expect(rows).toEqual(expected.map((row) => ({ ok: true, row })));
  });

  it('maps entity exports with status mapping, contact e-mail, and no partner api_key in raw', () => {
    const aff = records('affiliates.json', 'affiliates');
    const affRaw0 = { ...(aff[0] as Record<string, unknown>), api_key: '[redacted]' };
    const expectedAff: EntityRow[] = [
      { id: '1001', name: 'Alpha Media', status: 'active', email: 'ann@alpha.example', raw: affRaw0 },
      { id: '1002', name: 'Beta Traffic', status: 'inactive', email: null, raw: aff[1] },
    ];
    expect(aff.map((r) => connector.normalize('affiliates', r, nctx))).toEqual(
      expectedAff.map((row) => ({ ok: true, row })),
    );

    const off = records('offers.json', 'offers');
    const expectedOff: EntityRow[] = [
      { id: '1234', name: 'Acme Trial', status: 'active', email: null, raw: off[0] },
      { id: '1235', name: 'Acme Upsell', status: 'active', email: null, raw: off[1] },
      { id: '1300', name: 'Bolt CPL', status: 'inactive', email: null, raw: off[2] },
    ];
    expect(off.map((r) => connector.normalize('offers', r, nctx))).toEqual(
      expectedOff.map((row) => ({ ok: true, row })),
    );

    const adv = records('advertisers.json', 'advertisers');
    const expectedAdv: EntityRow[] = [
      { id: '77', name: 'Acme Corp', status: 'active', email: 'al@acme.example', raw: adv[0] },
      { id: '78', name: 'Bolt', status: 'pending', email: null, raw: adv[1] },
    ];
    expect(adv.map((r) => connector.normalize('advertisers', r, nctx))).toEqual(
      expectedAdv.map((row) => ({ ok: true, row })),
    );
  });

  it('one malformed record in a good page → ok:false naming platform, stream, field and value; the rest maps', () => {
    const recs = records('event-conversions-one-bad.json', 'event_conversions');
    const res = recs.map((r) => connector.normalize('conversions', r, nctx));
    expect(res[0]).toMatchObject({
      ok: true,
      row: { conversion_id: '900000001', payout: '1', revenue: '2', status: 'approved' },
    });
    expect(res[1].ok).toBe(false);
    expect(!res[1].ok && res[1].reason).toBe(
      'cake conversions: event_conversion_id 900000002: paid.amount: expected a decimal, got "12,50"',
    );
    expect(res[2].ok).toBe(false);
    expect(!res[2].ok && res[2].reason).toMatch(
      /^cake conversions: event_conversion_id \d+: current_disposition\.disposition_type\.disposition_type_name: expected a disposition type approved, .*got "Voided"$/,
    );
    const missing = connector.normalize(
      'clicks',
      { click_id: 1, click_date: '/Date(1)/', site_offer: { site_offer_id: 2 } },
      nctx,
    );
    expect(!missing.ok && missing.reason).toMatch(
      /^cake clicks: click_id 1: source_affiliate: .*got nothing \(field missing\)$/,
    );
    const badDate = connector.normalize(
      'clicks',
      {
        click_id: 1,
        click_date: 'yesterday',
        source_affiliate: { source_affiliate_id: 1 },
        site_offer: { site_offer_id: 2 },
      },
      nctx,
    );
    expect(!badDate.ok && badDate.reason).toBe(
      'cake clicks: click_id 1: click_date: expected /Date(ms)/, got "yesterday"',
    );
  });

  it('instance-local /Date(ms)/ maps to the right UTC across DST changes (America/Chicago)', () => {
    const wall = (y: number, mo: number, d: number, h: number, mi: number) =>
      `/Date(${Date.UTC(y, mo - 1, d, h, mi)})/`;
    const at = (v: string) => parseCakeDate(v, ZONE, 'instance-wall').toISOString();
    expect(at(wall(2026, 11, 1, 0, 30))).toBe('2026-11-01T05:30:00.000Z'); // CDT
    expect(at(wall(2026, 11, 1, 1, 30))).toBe('2026-11-01T06:30:00.000Z'); // repeated hour: earlier instant
    expect(at(wall(2026, 11, 1, 2, 30))).toBe('2026-11-01T08:30:00.000Z'); // CST
    expect(at(wall(2026, 3, 8, 1, 59))).toBe('2026-03-08T07:59:00.000Z'); // CST
    expect(at(wall(2026, 3, 8, 3, 0))).toBe('2026-03-08T08:00:00.000Z'); // CDT
    expect(at('2013-01-01T00:13:54.903')).toBe('2013-01-01T06:13:54.903Z'); // XML form, offset-less
    // the utc-epoch reading, for an instance whose ms turn out to be true epochs
    expect(parseCakeDate('/Date(1791810131250)/', ZONE, 'utc-epoch').toISOString()).toBe('2026-10-12T13:02:11.250Z');
    const epoch = createCakeConnector('cake', cakeConfig(), { dateSemantics: 'utc-epoch' });
    const rec = records('clicks.json', 'clicks')[1];
    expect(epoch.normalize('clicks', rec, nctx)).toMatchObject({
      ok: true,
      row: { clicked_at: '2026-10-12T07:59:00.000Z' },
    });
  });

  it('keeps money exact: JSON numbers become decimal strings without passing through a float', () => {
    expect(parseCakeJson('{"a":0.1,"b":[12.10,-3,1e2],"c":"x1.5","d":9007199254740993}')).toEqual({
      a: '0.1',
      b: ['12.10', '-3', '1e2'],
      c: 'x1.5',
      d: '9007199254740993',
    });
  });

  it('CAKE error reply → non-retryable error naming the method and CAKE message, never the key', () => {
    const err = (() => {
      try {
        parseCakeReply(fixture('invalid-api-key.json'), 'reports.asmx/EventConversions', 'event_conversions', SECRET);
      } catch (e) {
        return e as PlatformApiError;
      }
    })();
    expect(err).toBeInstanceOf(PlatformApiError);
    expect(err!.retryable).toBe(false);
    expect(err!.message).toBe('cake reports.asmx/EventConversions: CAKE error: Invalid API Key');
    // a message that echoes the key is scrubbed
    expect(() =>
      parseCakeReply(`{"d":{"success":false,"message":"key ${SECRET} unknown"}}`, 'm', 'clicks', SECRET),
    ).toThrow('CAKE error: key [api_key] unknown');
  });

  it('describes itself: streams, no documented horizon, conservative rate limit, slice hours', () => {
    expect([...connector.streams].sort()).toEqual([
      'advertisers',
      'affiliates',
      'clicks',
      'conversion_changes',
      'conversions',
      'offers',
    ]);
    expect(connector.horizonDays).toBeNull();
    expect(connector.defaultRateLimit).toEqual({ requests: 1, perSeconds: 1 });
    expect([
      connector.sliceHours('conversions'),
      connector.sliceHours('clicks'),
      connector.sliceHours('conversion_changes'),
    ]).toEqual([7 * 24, 3 * 24, 14 * 24]);
    // Rows per slice bound the planner's slices by the stream's density; changes have no bound.
    expect([connector.sliceRows('conversions'), connector.sliceRows('clicks'), connector.sliceRows('offers')]).toEqual([
      50_000,
      100_000,
      null,
    ]);
  });
});

// ---- client against the simulator -------------------------------------------------------------

/** The parameters the reference (§2.2, pycake) lists per method; CAKE errors when any is missing. */
const DOCUMENTED: Record<string, string[]> = {
  '/api/1/get.asmx/Currencies': ['api_key'],
  '/api/18/reports.asmx/EventConversions': [
    'api_key',
    'start_date',
    'end_date',
    'event_type',
    'event_id',
    'source_affiliate_id',
    'brand_advertiser_id',
    'channel_id',
    'site_offer_id',
    'site_offer_contract_id',
    'source_affiliate_tag_id',
    'brand_advertiser_tag_id',
    'site_offer_tag_id',
    'campaign_id',
    'creative_id',
    'price_format_id',
    'source_type',
    'payment_percentage_filter',
    'disposition_type',
    'disposition_id',
    'source_affiliate_billing_status',
    'brand_advertiser_billing_status',
    'test_filter',
    'start_at_row',
    'row_limit',
    'sort_field',
    'sort_descending',
  ],
  '/api/18/reports.asmx/EventConversionChanges': [
    'api_key',
    'changes_since',
    'include_new_event_conversions',
    'source_affiliate_id',
    'brand_advertiser_id',
    'site_offer_id',
    'campaign_id',
    'creative_id',
    'include_tests',
    'start_at_row',
    'row_limit',
    'sort_field',
    'sort_descending',
  ],
  '/api/12/reports.asmx/Clicks': [
    'api_key',
    'start_date',
    'end_date',
    'affiliate_id',
    'advertiser_id',
    'offer_id',
    'campaign_id',
    'creative_id',
    'price_format_id',
    'include_duplicates',
    'include_tests',
    'start_at_row',
    'row_limit',
  ],
  '/api/5/export.asmx/Affiliates': [
    'api_key',
    'affiliate_id',
    'affiliate_name',
    'account_manager_id',
    'tag_id',
    'start_at_row',
    'row_limit',
    'sort_field',
    'sort_descending',
  ],
  '/api/6/export.asmx/Offers': [
    'api_key',
    'offer_id',
    'offer_name',
    'advertiser_id',
    'vertical_id',
    'offer_type_id',
    'media_type_id',
    'offer_status_id',
    'tag_id',
    'start_at_row',
    'row_limit',
    'sort_field',
    'sort_descending',
  ],
  '/api/6/export.asmx/Advertisers': [
    'api_key',
    'advertiser_id',
    'advertiser_name',
    'account_manager_id',
    'tag_id',
    'start_at_row',
    'row_limit',
    'sort_field',
    'sort_descending',
  ],
};

const T0 = Date.parse('2026-10-12T00:00:00Z');
const MIN = 60_000;
const HOUR = 3_600_000;

describe('cake client ↔ simulator', () => {
  it('pages across start_at_row/row_limit boundaries: exact counts, no duplicates or gaps', async () => {
    const convs = Array.from({ length: 23 }, (_, i) => conv(i, T0 + i * MIN));
    const { sim, baseUrl } = await startSim(emptyScenario({ conversions: { cake: convs } }));
    const slice = { stream: 'conversions' as Stream, from: '2026-10-12T00:00:00Z', to: '2026-10-12T01:00:00Z' };
    const { rows, summary } = await pull(baseUrl, slice, fetchCtx(), { rowLimit: 5 });
    const ids = rows.map((r) => (r as ConversionRow).conversion_id);
    expect(ids).toEqual(convs.map((c) => c.conversionId));
    // 5 pages and, once per process and instance, the currency list.
    expect(summary).toEqual({ pages: 5, records: 23, calls: 6, splits: 0 });
    expect(bodies(sim).map((b) => [b.start_at_row, b.row_limit])).toEqual([
      [1, 5],
      [6, 5],
      [11, 5],
      [16, 5],
      [21, 5],
    ]);

    // exactly a multiple of the page size: row_count ends it without an empty extra call
    sim.server.requests.length = 0;
    const r20 = await pull(baseUrl, { ...slice, to: '2026-10-12T00:20:00Z' }, fetchCtx(), { rowLimit: 5 });
    expect(r20.rows).toHaveLength(20);
    expect(sim.server.requests).toHaveLength(4);
  });

  it('money in a non-USD currency carries the currency of its currency_id from the instance\u2019s list; an unlisted id is quarantined', async () => {
    const convs = [
      conv(1, T0, { currency: 'EUR' }),
      conv(2, T0 + MIN, { currency: 'GBP' }),
      conv(3, T0 + 2 * MIN, { currency: 'XTS' }),
    ];
    const { sim, baseUrl } = await startSim(emptyScenario({ conversions: { cake: convs } }));
    const slice = { stream: 'conversions' as Stream, from: '2026-10-12T00:00:00Z', to: '2026-10-12T01:00:00Z' };
    const connector = createCakeConnector('cake', cakeConfig(baseUrl));
    const records: unknown[] = [];
    await connector.fetchSlice({ ...slice, platform: 'cake' }, fetchCtx(), async (p) => {
      records.push(...p.records);
    });
    const mapped = records.map((r) => connector.normalize('conversions', r, nctx));
    expect(mapped.slice(0, 2).map((r) => r.ok && (r.row as ConversionRow).currency)).toEqual(['EUR', 'GBP']);
    expect(mapped[2]).toEqual({
      ok: false,
      reason: `cake conversions: event_conversion_id 700003: received.currency_id: not in this instance's currency list (get.asmx/Currencies), got "999"`,
    });
    // The list is read once per instance.
    expect(sim.server.requests.filter((r) => r.path.endsWith('/Currencies'))).toHaveLength(1);
  });

  it('an instance that counts start_at_row from 0 loses no row: row 0 is asked once, later runs start at 0', async () => {
    const convs = Array.from({ length: 12 }, (_, i) => conv(i, T0 + i * MIN));
    const { sim, baseUrl } = await startSim(emptyScenario({ conversions: { cake: convs } }), { zeroBasedRows: true });
    const slice = { stream: 'conversions' as Stream, from: '2026-10-12T00:00:00Z', to: '2026-10-12T01:00:00Z' };
    const first = await pull(baseUrl, slice, fetchCtx(), { rowLimit: 5 });
    expect(first.rows.map((r) => (r as ConversionRow).conversion_id).sort()).toEqual(
      convs.map((c) => c.conversionId).sort(),
    );
    // 1, 6, 11 read rows 1–11 of a 0-based list; the empty page after them shows row 0 missing.
    expect(bodies(sim).map((b) => [b.start_at_row, b.row_limit])).toEqual([
      [1, 5],
      [6, 5],
      [11, 5],
      [12, 5],
      [0, 1],
    ]);
    sim.server.requests.length = 0;
    const again = await pull(baseUrl, slice, fetchCtx(), { rowLimit: 5 });
    expect(again.rows).toHaveLength(12);
    expect(bodies(sim).map((b) => b.start_at_row)).toEqual([0, 5, 10]);
  });

  it('reads to the end when the server caps row_limit below what was asked', async () => {
    const convs = Array.from({ length: 23 }, (_, i) => conv(i, T0 + i * MIN));
    const { sim, baseUrl } = await startSim(emptyScenario({ conversions: { cake: convs } }), { rowLimitMax: 3 });
    const { rows } = await pull(
      baseUrl,
      { stream: 'conversions', from: '2026-10-12T00:00:00Z', to: '2026-10-12T01:00:00Z' },
      fetchCtx(),
      { rowLimit: 5 },
    );
    expect(rows.map((r) => (r as ConversionRow).conversion_id)).toEqual(convs.map((c) => c.conversionId));
    expect(bodies(sim).map((b) => b.start_at_row)).toEqual([1, 4, 7, 10, 13, 16, 19, 22]);
  });

  it('end_date is exclusive at the boundary and dates go out as instance wall time', async () => {
    const from = Date.parse('2026-10-12T05:00:00Z'); // 00:00 CDT
    const to = from + 6 * HOUR;
    const convs = [conv(1, from - 1), conv(2, from), conv(3, to - 1), conv(4, to)];
    const { sim, baseUrl } = await startSim(emptyScenario({ conversions: { cake: convs } }));
    const { rows } = await pull(baseUrl, {
      stream: 'conversions',
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
    });
    expect(rows.map((r) => [(r as ConversionRow).conversion_id, (r as ConversionRow).converted_at])).toEqual([
      ['700002', '2026-10-12T05:00:00.000Z'],
      ['700003', '2026-10-12T10:59:59.999Z'],
    ]);
    expect(bodies(sim)[0]).toMatchObject({ start_date: '10/12/2026 00:00:00', end_date: '10/12/2026 06:00:00' });
  });

  it('a slice crossing the autumn DST change loads exactly the rows inside it', async () => {
    // America/Chicago falls back at 2026-11-01T07:00Z (02:00 CDT → 01:00 CST).
    const at = (iso: string) => Date.parse(iso);
    const times = [
      '03:59:59',
      '04:00:00',
      '05:30:00',
      '06:15:00',
      '06:59:59',
      '07:00:00',
      '07:45:00',
      '08:00:00',
      '09:59:59',
      '10:00:00',
    ].map((t) => at(`2026-11-01T${t}Z`));
    const clicks = times.map((t, i) => click(i, t));
    const { sim, baseUrl } = await startSim(emptyScenario({ clicks: { cake: clicks } }));
    const { rows } = await pull(baseUrl, {
      stream: 'clicks',
      from: '2026-11-01T04:00:00Z',
      to: '2026-11-01T10:00:00Z',
    });
    expect(rows.map((r) => (r as ClickRow).click_id)).toEqual(clicks.slice(1, 9).map((c) => c.clickId));
    // the wall-clock window asked for covers both 01:xx hours, so it is wider than the slice
    expect(bodies(sim)[0]).toMatchObject({ start_date: '10/31/2026 22:00:00', end_date: '11/01/2026 05:00:00' });
    expect(localWindow(Date.parse('2026-11-01T04:00:00Z'), Date.parse('2026-11-01T10:00:00Z'), ZONE)).toEqual({
      start: '10/31/2026 22:00:00',
      end: '11/01/2026 05:00:00',
    });

    // Adjacent one-hour slices inside the repeated hour: every click loads exactly once overall,
    // in the slice holding its mapped time (the wall clock cannot tell the two 01:xx apart).
    const seen: string[] = [];
    for (let h = 3; h < 11; h++) {
      const slice = {
        stream: 'clicks' as Stream,
        from: new Date(at('2026-11-01T00:00:00Z') + h * HOUR).toISOString(),
        to: new Date(at('2026-11-01T00:00:00Z') + (h + 1) * HOUR).toISOString(),
      };
      const r = await pull(baseUrl, slice);
      for (const row of r.rows as ClickRow[]) {
        expect(Date.parse(row.clicked_at)).toBeGreaterThanOrEqual(Date.parse(slice.from));
        expect(Date.parse(row.clicked_at)).toBeLessThan(Date.parse(slice.to));
        seen.push(row.click_id);
      }
    }
    expect([...seen].sort()).toEqual(clicks.map((c) => c.clickId).sort());
  });

  it('sends every documented parameter in every request, for every stream', async () => {
    const scenario = emptyScenario({
      conversions: {
        cake: [conv(1, T0 + MIN, { status: 'pending', changes: [{ at: T0 + 2 * HOUR, status: 'approved' }] })],
      },
      clicks: { cake: [click(1, T0 + MIN)] },
      affiliates: { cake: [entity('1001', 'Alpha')] },
      offers: { cake: [entity('1234', 'Trial', { advertiserId: '77' })] },
      advertisers: { cake: [entity('77', 'Acme')] },
    });
    const { sim, baseUrl } = await startSim(scenario);
    for (const stream of [
      'conversions',
      'conversion_changes',
      'clicks',
      'affiliates',
      'offers',
      'advertisers',
    ] as Stream[]) {
      const { rows } = await pull(baseUrl, { stream, from: '2026-10-12T00:00:00Z', to: '2026-10-12T06:00:00Z' });
      expect(rows.length, stream).toBe(1);
    }
    const paths = new Set(sim.server.requests.map((r) => r.path));
    expect([...paths].sort()).toEqual(Object.keys(DOCUMENTED).sort());
    for (const req of sim.server.requests) {
      const body = JSON.parse(req.body) as Record<string, unknown>;
      for (const p of DOCUMENTED[req.path]) expect(body[p], `${req.path} ${p}`).not.toBeUndefined();
      for (const p of DOCUMENTED[req.path]) expect(body[p], `${req.path} ${p}`).not.toBeNull();
      expect(req.query).toEqual({}); // nothing (least of all the key) in the URL
    }
    // and the simulator holds CAKE to it: one parameter left out is refused, naming it
    const good = JSON.parse(sim.server.requests.find((r) => r.path.endsWith('/Clicks'))!.body) as Record<
      string,
      unknown
    >;
    delete good.include_tests;
    const res = await fetch(`${baseUrl}/api/12/reports.asmx/Clicks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(good),
    });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { Message: string }).Message).toBe(
      "Invalid web service call, missing value for parameter: 'include_tests'.",
    );
  });

  it('EventConversionChanges picks up a pending → approved change', async () => {
    const convertedAt = T0 + 30 * MIN;
    const approvedAt = T0 + 50 * HOUR;
    const c = conv(1, convertedAt, { status: 'pending', changes: [{ at: approvedAt, status: 'approved' }] });
    const untouched = conv(2, convertedAt + MIN);
    let now = T0 + 2 * HOUR;
    const { baseUrl } = await startSim(emptyScenario({ conversions: { cake: [c, untouched] } }), { now: () => now });
    const day = { from: '2026-10-12T00:00:00Z', to: '2026-10-13T00:00:00Z' };

    const first = await pull(baseUrl, { stream: 'conversions', ...day });
    expect(first.rows.map((r) => [(r as ConversionRow).conversion_id, (r as ConversionRow).status])).toEqual([
      ['700001', 'pending'],
      ['700002', 'approved'],
    ]);
    const before = await pull(baseUrl, {
      stream: 'conversion_changes',
      from: '2026-10-12T01:00:00Z',
      to: '2026-10-13T01:00:00Z',
    });
    expect(before.rows).toEqual([]);

    now = approvedAt + HOUR;
    const after = await pull(baseUrl, {
      stream: 'conversion_changes',
      from: '2026-10-14T00:00:00Z',
      to: '2026-10-15T00:00:00Z',
    });
    expect(
      after.rows.map((r) => [
        (r as ConversionRow).conversion_id,
        (r as ConversionRow).status,
        (r as ConversionRow).converted_at,
      ]),
    ).toEqual([['700001', 'approved', new Date(convertedAt).toISOString()]]);
    const later = await pull(baseUrl, {
      stream: 'conversion_changes',
      from: new Date(approvedAt + 1000).toISOString(),
      to: new Date(approvedAt + 2 * HOUR).toISOString(),
    });
    expect(later.rows).toEqual([]);
  });

  it('serves the CAKE side of the transaction-id bridge: s2 as given, request id as transaction_id', async () => {
    const c = conv(5, T0 + MIN, {
      subs: [null, 'ef-0f9e8d7c6b5a', '', null, 'x'],
      transactionId: '31337',
      orderId: 'A-1',
      eventName: 'Deposit',
      status: 'invalid',
    });
    const { baseUrl } = await startSim(emptyScenario({ conversions: { cake: [c] } }));
    const { rows } = await pull(baseUrl, {
      stream: 'conversions',
      from: '2026-10-12T00:00:00Z',
      to: '2026-10-12T01:00:00Z',
    });
    expect(rows[0]).toMatchObject({
      sub1: null,
      sub2: 'ef-0f9e8d7c6b5a',
      sub3: null,
      sub5: 'x',
      transaction_id: '31337',
      order_id: 'A-1',
      event_name: 'Deposit',
      is_event: true,
      status: 'invalid',
      payout: '12.50',
      revenue: '20.00',
      sale_amount: '99.95',
      currency: 'USD',
      converted_at: '2026-10-12T00:01:00.000Z',
    });
  });

  it('entity exports page through and map statuses', async () => {
    const affs = Array.from({ length: 7 }, (_, i) =>
      entity(String(1001 + i), `Aff ${i}`, {
        status: i === 3 ? 'inactive' : 'active',
        email: i === 0 ? 'ops@aff.example' : null,
      }),
    );
    const { sim, baseUrl } = await startSim(emptyScenario({ affiliates: { cake: affs } }));
    const { rows } = await pull(
      baseUrl,
      { stream: 'affiliates', from: '2026-10-12T00:00:00Z', to: '2026-10-13T00:00:00Z' },
      fetchCtx(),
      { rowLimit: 3 },
    );
    expect((rows as EntityRow[]).map((r) => [r.id, r.status, r.email])).toEqual(
      affs.map((a) => [a.id, a.status, a.email]),
    );
    expect(sim.server.requests).toHaveLength(3);
  });

  it('rides out a 429 storm', async () => {
    const convs = Array.from({ length: 4 }, (_, i) => conv(i, T0 + i * MIN));
    const { sim, baseUrl } = await startSim(emptyScenario({ conversions: { cake: convs } }));
    sim.server.injectFaults(Array.from({ length: 5 }, () => ({ kind: '429' as const, retryAfterSeconds: 0 })));
    const { rows, summary } = await pull(baseUrl, {
      stream: 'conversions',
      from: '2026-10-12T00:00:00Z',
      to: '2026-10-12T01:00:00Z',
    });
    expect(rows).toHaveLength(4);
    // The storm hits the first call (the currency list), which rides it out; then the page.
    expect(summary.calls).toBe(7);
    expect(sim.server.requests.map((r) => r.fault ?? 'ok')).toEqual(['429', '429', '429', '429', '429', 'ok', 'ok']);

    // a storm longer than the retry budget fails as a retryable 429, not as empty data
    sim.server.injectFaults(Array.from({ length: 6 }, () => ({ kind: '429' as const, retryAfterSeconds: 0 })));
    const err = await pull(baseUrl, {
      stream: 'conversions',
      from: '2026-10-12T00:00:00Z',
      to: '2026-10-12T01:00:00Z',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect((err as PlatformApiError).retryable).toBe(true);
    expect((err as PlatformApiError).options.status).toBe(429);
  });

  it('a mid-page 500 then success: no page lost or repeated', async () => {
    const convs = Array.from({ length: 12 }, (_, i) => conv(i, T0 + i * MIN));
    const { sim, baseUrl } = await startSim(emptyScenario({ conversions: { cake: convs } }));
    let injected = false;
    const { rows } = await pull(
      baseUrl,
      { stream: 'conversions', from: '2026-10-12T00:00:00Z', to: '2026-10-12T01:00:00Z' },
      fetchCtx(),
      { rowLimit: 5 },
      async () => {
        if (!injected) sim.server.injectFaults([{ kind: '500' }]);
        injected = true;
      },
    );
    expect(rows.map((r) => (r as ConversionRow).conversion_id)).toEqual(convs.map((c) => c.conversionId));
    const pages = sim.server.requests.filter((r) => !r.path.endsWith('/Currencies'));
    expect(pages.map((r) => [JSON.parse(r.body).start_at_row, r.fault ?? 'ok'])).toEqual([
      [1, 'ok'],
      [6, '500'],
      [6, 'ok'],
      [11, 'ok'],
    ]);
  });

  it('retries a malformed and a truncated body', async () => {
    const convs = Array.from({ length: 3 }, (_, i) => conv(i, T0 + i * MIN));
    const { sim, baseUrl } = await startSim(emptyScenario({ conversions: { cake: convs } }));
    sim.server.injectFaults([{ kind: 'malformed' }, { kind: 'truncate' }]);
    const { rows, summary } = await pull(baseUrl, {
      stream: 'conversions',
      from: '2026-10-12T00:00:00Z',
      to: '2026-10-12T01:00:00Z',
    });
    expect(rows).toHaveLength(3);
    expect(summary.calls).toBe(4);
    expect(sim.server.requests.map((r) => r.fault ?? 'ok')).toEqual(['malformed', 'truncate', 'ok', 'ok']);
  });

  it('a bad key → clear, non-retryable error without the key, after one call', async () => {
    const { sim, baseUrl } = await startSim(emptyScenario({ conversions: { cake: [conv(1, T0)] } }));
    const wrong = 'wrong-key-0c9b8a';
    const err = await pull(
      baseUrl,
      { stream: 'conversions', from: '2026-10-12T00:00:00Z', to: '2026-10-12T01:00:00Z' },
      fetchCtx(wrong),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect((err as PlatformApiError).retryable).toBe(false);
    // The first call of a conversions fetch is the instance's currency list.
    expect((err as Error).message).toBe('cake get.asmx/Currencies: CAKE error: Invalid API Key');
    expect((err as Error).message).not.toContain(wrong);
    expect(sim.server.requests).toHaveLength(1);
  });

  it('a row_count the pages never reach is an error, not silent loss', async () => {
    // a server that stops returning rows before row_count (rows vanished mid-paging, or 0-based paging)
    const { SimServer } = await import('../../dev/simulators/server.js');
    const server = new SimServer(() => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"d":{"success":true,"message":"","row_count":5,"event_conversions":[]}}',
    }));
    const baseUrl = await server.start();
    try {
      const err = await pull(baseUrl, {
        stream: 'conversions',
        from: '2026-10-12T00:00:00Z',
        to: '2026-10-12T01:00:00Z',
      }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/row_count 5 but returned 0 rows/);
      expect((err as PlatformApiError).retryable).toBe(true);
    } finally {
      await server.stop();
    }
  });
});

function entity(id: string, name: string, over: Partial<ScenarioEntity> = {}): ScenarioEntity {
  return {
    platform: 'cake',
    id,
    name,
    email: null,
    status: 'active',
    canonicalKey: `k-${id}`,
    createdAt: Date.parse('2026-01-01T00:00:00Z'),
    ...over,
  };
}
