import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { platformSchema, type PlatformConfig } from '#shared/config/schema.js';
import type { ClickRow, ConversionRow, EntityRow } from '#shared/model/canonical.js';
import { serverRetryDelay } from '#shared/platforms/http.js';
import { parsePartnerizeJson } from '#shared/platforms/partnerize/client.js';
import { createPartnerizeConnector } from '#shared/platforms/partnerize/index.js';
import { MemoryRateLimiter, unlimited, type RateLimiter } from '#shared/platforms/rate-limit.js';
import {
  PlatformApiError,
  type Connector,
  type FetchContext,
  type RawPage,
  type Slice,
} from '#shared/platforms/types.js';
import { createPartnerizeSimulator, type PartnerizeSimulatorOptions } from '../../dev/simulators/partnerize.js';
import type {
  Scenario,
  ScenarioClick,
  ScenarioConversion,
  ScenarioEntity,
  ScenarioOptions,
} from '../../dev/simulators/scenario/types.js';
import { systemClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';

const KEY = 'partnerize';
const APP_KEY = 'app-key-123';
const USER_KEY = 'user-key-456';
const SECRET = `${APP_KEY}:${USER_KEY}`;
const hash = (v: string) => createHmac('sha256', 'test-hmac-key').update(v).digest('hex');
const nctx = { hash };

type PartnerizeConfig = Extract<PlatformConfig, { kind: 'partnerize' }>;
function config(baseUrl = 'http://127.0.0.1:9', timezone?: string): PartnerizeConfig {
  return platformSchema.parse({
    kind: 'partnerize',
    baseUrl,
    apiKeyEnv: 'PZ_USER_KEY',
    applicationKeyEnv: 'PZ_APP_KEY',
    networkId: '1l1000003',
    ...(timezone ? { timezone } : {}),
  }) as PartnerizeConfig;
}

function fixture(name: string): Record<string, unknown> {
  // Parsed like the client parses a reply: JSON numbers keep their literal text.
  return parsePartnerizeJson(
    KEY,
    name,
    readFileSync(new URL(`../fixtures/partnerize/${name}`, import.meta.url), 'utf8'),
  ) as Record<string, unknown>;
}
function unwrapped(name: string, list: string, wrapper?: string): Record<string, unknown>[] {
  return (fixture(name)[list] as Record<string, unknown>[]).map((x) =>
    wrapper ? (x[wrapper] as Record<string, unknown>) : x,
  );
}

function ok<T>(r: { ok: true; row: T } | { ok: false; reason: string }): T {
  if (!r.ok) throw new Error(`expected a row, got: ${r.reason}`);
  return r.row;
}

const connector = createPartnerizeConnector(KEY, config());

// ---- tiny hand-made scenarios ------------------------------------------------------------------

const T0 = Date.parse('2026-10-12T00:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function entity(id: string, o: Partial<ScenarioEntity> = {}): ScenarioEntity {
  return {
    platform: KEY,
    id,
    name: `Name ${id}`,
    email: `${id}@partners.example`,
    status: 'active',
    canonicalKey: `key-${id}`,
    createdAt: 0,
    ...o,
  };
}
function offer(id: string, advertiserId = 'b1'): ScenarioEntity {
  return entity(id, { name: `Campaign ${id}`, email: null, advertiserId, revenue: '10.00', payout: '7.00' });
}
function conv(
  id: string,
  offerId: string,
  convertedAt: number,
  o: Partial<ScenarioConversion> = {},
): ScenarioConversion {
  return {
    platform: KEY,
    conversionId: id,
    clickId: `k${id}`,
    clickedAt: convertedAt - 60_000,
    convertedAt,
    affiliateId: 'p1',
    offerId,
    advertiserId: 'b1',
    orderId: `order-${id}`,
    transactionId: `t${id}`,
    subs: ['sub-a', null, null, null, null],
    eventName: null,
    status: 'pending',
    changes: [],
    revenue: '10.50',
    payout: '7.25',
    saleAmount: '100.125',
    currency: 'USD',
    ip: '198.51.100.7',
    userAgent: 'Mozilla/5.0',
    countryCode: 'US',
    ...o,
  };
}
function click(id: string, offerId: string, clickedAt: number): ScenarioClick {
  return {
    platform: KEY,
    clickId: id,
    clickedAt,
    affiliateId: 'p1',
    offerId,
    advertiserId: 'b1',
    subs: ['s1', null, null, null, null],
    ip: '198.51.100.8',
    userAgent: 'UA',
    countryCode: 'DE',
    isUnique: true,
  };
}
function scenario(p: {
  conversions?: ScenarioConversion[];
  clicks?: ScenarioClick[];
  affiliates?: ScenarioEntity[];
  offers?: ScenarioEntity[];
  advertisers?: ScenarioEntity[];
}): Scenario {
  return {
    options: {
      seed: 1,
      startDate: '2026-10-01',
      days: 30,
      platforms: { [KEY]: 'partnerize' },
      legacy: [],
      target: KEY,
    } as unknown as ScenarioOptions,
    affiliates: { [KEY]: p.affiliates ?? [] },
    offers: { [KEY]: p.offers ?? [offer('c1')] },
    advertisers: { [KEY]: p.advertisers ?? [] },
    clicks: { [KEY]: p.clicks ?? [] },
    conversions: { [KEY]: [...(p.conversions ?? [])].sort((a, b) => a.convertedAt - b.convertedAt) },
    crosswalk: [],
    incidents: [],
    waves: [],
  };
}

function fetchCtx(o: Partial<FetchContext> = {}): FetchContext {
  return {
    fetch: globalThis.fetch,
    rateLimiter: unlimited,
    clock: systemClock,
    logger: silentLogger,
    secret: SECRET,
    retry: { baseDelayMs: 1, maxDelayMs: 20, timeoutMs: 5_000, maxAttempts: 5 },
    ...o,
  };
}

async function withSim<T>(
  sc: Scenario,
  opts: Partial<PartnerizeSimulatorOptions>,
  tz: string | undefined,
  fn: (c: Connector, sim: ReturnType<typeof createPartnerizeSimulator>) => Promise<T>,
): Promise<T> {
  const sim = createPartnerizeSimulator(sc, { platform: KEY, secret: SECRET, now: () => T0 + 60 * DAY, ...opts });
  const baseUrl = await sim.start();
  try {
    return await fn(createPartnerizeConnector(KEY, config(baseUrl, tz)), sim);
  } finally {
    await sim.stop();
  }
}

async function collect(
  c: Connector,
  slice: Omit<Slice, 'platform'>,
  ctx = fetchCtx(),
  onEach?: (p: RawPage, n: number) => void,
) {
  const pages: RawPage[] = [];
  const summary = await c.fetchSlice({ platform: KEY, ...slice }, ctx, async (p) => {
    pages.push(p);
    onEach?.(p, pages.length);
  });
  const records = pages.flatMap((p) => p.records) as Record<string, unknown>[];
  return { pages, summary, records };
}
const iso = (ms: number) => new Date(ms).toISOString();

// ---- mappers against the documented record shapes ----------------------------------------------

describe('partnerize mappers (fixtures from the vendor examples)', () => {
  const conversions = unwrapped('conversion-report.json', 'conversions', 'conversion_data');
  const byId = (id: string) => conversions.find((c) => c.conversion_id === id)!;

  it('the embedded click is context: without a click_id (or with an unreadable time) the conversion still loads', () => {
    const rec = structuredClone(byId('111111l10')) as any;
    delete rec.click.click_id;
    const row = ok(connector.normalize('conversions', rec, nctx));
    expect(row).toMatchObject({ conversion_id: '111111l10', click_id: null });
    rec.click = { click_id: '', set_time: 'not a time' };
    expect(ok(connector.normalize('conversions', rec, nctx))).toMatchObject({ click_id: null, clicked_at: null });
    rec.click = null;
    expect(ok(connector.normalize('conversions', rec, nctx))).toMatchObject({ click_id: null, clicked_at: null });
  });

  it('maps the vendor example conversion field by field, with personal data hashed in raw', () => {
    const rec = byId('111111l10');
    const row = ok(connector.normalize('conversions', rec, nctx));
    const raw = structuredClone(rec) as any;
    raw.device_id = `hmac:${hash('111111l12')}`;
    raw.customer_reference = `hmac:${hash('shopper@example.com')}`;
    raw.click.device_id = `hmac:${hash('111111l12')}`;
    raw.meta_data.user_agent = `hmac:${hash('Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0')}`;
    const expected: ConversionRow = {
      conversion_id: '111111l10',
      click_id: '111111l12',
      transaction_id: null,
      order_id: 'AUTO-5ebc12334abb39.26532332',
      converted_at: '2020-05-13T00:00:00.000Z',
      clicked_at: '2020-05-12T23:41:07.000Z',
      affiliate_id: '111111l92',
      offer_id: '111111l26',
      advertiser_id: null,
      sub1: '111111lk',
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
      event_name: null,
      is_event: false,
      status: 'pending',
      revenue: '44',
      payout: '40',
      sale_amount: '400',
      currency: 'USD',
      ip: '33c0:7b2c:2cad:5eb:a6cd:b312:111a:cf23',
      user_agent_hash: hash('Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0'),
      country_code: 'US',
      raw,
    };
    expect(row).toEqual(expected);
    expect(JSON.stringify(row.raw)).not.toContain('shopper@example.com');
    expect(JSON.stringify(row.raw)).not.toContain('Firefox');
  });

  it('maps a multi-item basket to one conversion: status from items, rejected items left out of exact decimal sums', () => {
    const row = ok(connector.normalize('conversions', byId('2l500'), nctx));
    const expected: ConversionRow = {
      conversion_id: '2l500',
      click_id: '2l900',
      transaction_id: null,
      order_id: 'ORDER-77001',
      converted_at: '2020-05-13T09:15:30.000Z',
      clicked_at: '2020-05-13T09:01:02.000Z',
      affiliate_id: '111111l93',
      offer_id: '111111l26',
      advertiser_id: null,
      sub1: null,
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
      event_name: null,
      is_event: false,
      // 19.99 + 0.1 (a double sum would be 20.090000000000003); the rejected 5.555555 line is not owed.
      status: 'approved',
      revenue: '2.20',
      payout: '1.60',
      sale_amount: '20.09',
      currency: 'GBP',
      ip: '203.0.113.7',
      user_agent_hash: null,
      country_code: 'GB',
      raw: byId('2l500'),
    };
    expect(row).toEqual(expected);
  });

  it('a basket with a pending item is pending; a post-conversion metric is an event; v3 offsets are honoured', () => {
    const row = ok(connector.normalize('conversions', byId('2l501'), nctx));
    expect(row).toEqual({
      conversion_id: '2l501',
      click_id: null,
      transaction_id: null,
      order_id: 'ORDER-77002',
      converted_at: '2020-05-13T09:00:00.000Z',
      clicked_at: null,
      affiliate_id: '111111l93',
      offer_id: '111111l27',
      advertiser_id: null,
      sub1: 'sub-abc',
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
      event_name: 'Lead',
      is_event: true,
      status: 'pending',
      revenue: '3.005',
      payout: '1.5025',
      sale_amount: '30.05',
      currency: 'GBP',
      ip: '203.0.113.8',
      user_agent_hash: null,
      country_code: 'GB',
      raw: byId('2l501'),
    } satisfies ConversionRow);
  });

  it('an all-rejected basket is rejected and still shows what was at stake; sub1 falls back to the click clickref', () => {
    const row = ok(connector.normalize('conversions', byId('2l502'), nctx));
    expect(row).toEqual({
      conversion_id: '2l502',
      click_id: '2l902',
      transaction_id: null,
      order_id: 'ORDER-77003',
      converted_at: '2020-05-13T12:00:00.000Z',
      clicked_at: '2020-05-13T11:59:00.000Z',
      affiliate_id: '111111l94',
      offer_id: '111111l27',
      advertiser_id: null,
      sub1: 'from-click',
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
      event_name: null,
      is_event: false,
      status: 'rejected',
      revenue: '1.300',
      payout: '0.650',
      sale_amount: '13.00',
      currency: 'GBP',
      ip: '203.0.113.9',
      user_agent_hash: null,
      country_code: null,
      raw: byId('2l502'),
    } satisfies ConversionRow);
  });

  it('without items uses conversion_value, keeping digits a double would lose', () => {
    const row = ok(connector.normalize('conversions', byId('2l503'), nctx));
    expect(row).toEqual({
      conversion_id: '2l503',
      click_id: null,
      transaction_id: null,
      order_id: 'ORDER-77004',
      converted_at: '2020-05-13T23:59:59.000Z',
      clicked_at: null,
      affiliate_id: '111111l94',
      offer_id: '111111l27',
      advertiser_id: null,
      sub1: null,
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
      event_name: null,
      is_event: false,
      status: 'approved',
      revenue: '100000000000.000001',
      payout: '0.000001',
      sale_amount: '999999999999.999999',
      currency: 'USD',
      ip: null,
      user_agent_hash: null,
      country_code: null,
      raw: byId('2l503'),
    } satisfies ConversionRow);
    expect(Number('999999999999.999999').toString()).not.toBe('999999999999.999999'); // why the parser keeps text
  });

  it('maps both vendor example clicks field by field', () => {
    const [a, b] = unwrapped('click-report.json', 'clicks', 'click');
    expect(ok(connector.normalize('clicks', a, nctx))).toEqual({
      click_id: '111111l11',
      clicked_at: '2020-05-13T00:00:00.000Z',
      affiliate_id: '111111l92',
      offer_id: '111111l26',
      advertiser_id: null,
      sub1: '111111lj',
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
      ip: '33c0:7b2c:2cad:5eb:a6cd:b312:111a:cf23',
      user_agent_hash: null,
      country_code: 'RU',
      is_unique: true,
    } satisfies ClickRow);
    expect(ok(connector.normalize('clicks', b, nctx))).toEqual({
      click_id: '111111l12',
      clicked_at: '2020-05-13T00:00:00.000Z',
      affiliate_id: '111111l92',
      offer_id: '111111l26',
      advertiser_id: null,
      sub1: null,
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
      ip: null,
      user_agent_hash: hash('Mozilla/5.0 (iPhone) Safari/604.1'),
      country_code: null,
      is_unique: true,
    } satisfies ClickRow);
  });

  it('maps campaigns (offers), partners (affiliates) and brands (advertisers)', () => {
    const campaigns = unwrapped('campaigns.json', 'campaigns', 'campaign');
    const offers = campaigns.map((c) => connector.normalize('offers', c, nctx));
    expect(offers.slice(0, 3).map(ok)).toEqual([
      { id: '10l176', name: 'PHG Aff Demo', status: 'active', email: null, raw: campaigns[0] },
      { id: '10l177', name: 'Pending Campaign', status: 'pending', email: null, raw: campaigns[1] },
      { id: '10l178', name: 'Closed Campaign', status: 'inactive', email: null, raw: campaigns[2] },
    ] satisfies EntityRow[]);
    expect(offers[3]).toEqual({
      ok: false,
      reason: 'partnerize offers: campaign_id 10l179: status: expected a status a, p, r or n, got "x"',
    });

    const publishers = unwrapped('publishers.json', 'publishers');
    expect(publishers.map((p) => ok(connector.normalize('affiliates', p, nctx)))).toEqual([
      { id: '10000l1', name: 'Name', status: 'active', email: 'contact@partnerize.com', raw: publishers[0] },
      { id: '10000l2', name: 'Deals Ltd', status: 'inactive', email: null, raw: publishers[1] },
      { id: '10000l3', name: 'Newcomer', status: 'pending', email: null, raw: publishers[2] },
    ] satisfies EntityRow[]);

    const brands = unwrapped('advertisers.json', 'advertisers', 'advertiser');
    expect(brands.map((a) => ok(connector.normalize('advertisers', a, nctx)))).toEqual([
      { id: '10l110', name: 'Advertiser Name', status: 'active', email: 'brand@example.com', raw: brands[0] },
      { id: '10l111', name: 'Second Brand', status: 'active', email: null, raw: brands[1] },
    ] satisfies EntityRow[]);
  });

  it('bad records fail with a reason naming platform, stream, record, field and value', () => {
    const base = byId('111111l10') as any;
    const badMoney = structuredClone(base);
    badMoney.conversion_items[0].item_commission = 'abc';
    expect(connector.normalize('conversions', badMoney, nctx)).toEqual({
      ok: false,
      reason:
        'partnerize conversions: conversion_id 111111l10: conversion_items.0.item_commission: expected a decimal, got "abc"',
    });
    const badStatus = structuredClone(base);
    badStatus.conversion_items[0].item_status = 'refunded';
    expect(connector.normalize('conversion_changes', badStatus, nctx)).toEqual({
      ok: false,
      reason:
        'partnerize conversion_changes: conversion_id 111111l10: conversion_items.0.item_status: expected approved, pending or rejected, got "refunded"',
    });
    const noTime = structuredClone(base);
    delete noTime.conversion_time;
    const r1 = connector.normalize('conversions', noTime, nctx);
    expect(r1.ok).toBe(false);
    expect(!r1.ok && r1.reason).toMatch(
      /^partnerize conversions: conversion_id 111111l10: conversion_time: .*, got nothing \(field missing\)$/,
    );
    const badTime = { ...base, conversion_time: '13/45/2020 99:00' };
    expect(connector.normalize('conversions', badTime, nctx)).toEqual({
      ok: false,
      reason:
        'partnerize conversions: conversion_id 111111l10: conversion_time: expected a date-time (local time in UTC, or ISO-8601 with an offset), got "13/45/2020 99:00"',
    });
    expect(connector.normalize('clicks', 'not a record', nctx)).toEqual({
      ok: false,
      reason: 'partnerize clicks: (record): expected an object, got "not a record"',
    });
  });

  it('a reply cut short is a retryable error', () => {
    expect(() => parsePartnerizeJson(KEY, '/x', '{"data": [')).toThrow(PlatformApiError);
  });

  it('reads Partnerize\u2019s X-RateLimit-Retry-After header (seconds)', () => {
    expect(serverRetryDelay(new Headers({ 'x-ratelimit-retry-after': '3', 'x-ratelimit-reset': '50' }), 0)).toBe(3000);
    expect(serverRetryDelay(new Headers({ 'x-ratelimit-reset': '7' }), 0)).toBe(7000);
  });

  it('declares its streams, limits and slice lengths', () => {
    expect(connector.kind).toBe('partnerize');
    expect([...connector.streams]).toEqual([
      'conversions',
      'conversion_changes',
      'clicks',
      'affiliates',
      'offers',
      'advertisers',
    ]);
    expect(connector.horizonDays).toBeNull();
    expect(connector.defaultRateLimit).toEqual({ requests: 10, perSeconds: 10 });
    expect(connector.sliceHours('clicks')).toBe(1);
    expect(connector.sliceHours('conversions')).toBe(24);
  });
});

// ---- client against the simulator --------------------------------------------------------------

describe('partnerize client ↔ simulator', () => {
  it('pages conversions by cursor across campaigns and page boundaries: exact counts, no duplicates or gaps', async () => {
    const inC1 = Array.from({ length: 650 }, (_, i) => conv(`a${i}`, 'c1', T0 + i * 120_000));
    const inC2 = Array.from({ length: 300 }, (_, i) => conv(`b${i}`, 'c2', T0 + i * 60_000 + 30_000));
    const outside = [conv('early', 'c1', T0 - 1000), conv('atEnd', 'c2', T0 + DAY)];
    const sc = scenario({
      conversions: [...inC1, ...inC2, ...outside],
      offers: [offer('c1', 'b1'), offer('c2', 'b2')],
    });
    await withSim(sc, {}, undefined, async (c, sim) => {
      const { records, summary } = await collect(c, { stream: 'conversions', from: iso(T0), to: iso(T0 + DAY) });
      const ids = records.map((r) => r.conversion_id);
      expect(ids.length).toBe(950);
      expect(new Set(ids)).toEqual(new Set([...inC1, ...inC2].map((x) => x.conversionId)));
      expect(summary).toEqual({ pages: 4, records: 950, calls: 5, splits: 0 });

      const c1Calls = sim.server.requests.filter(
        (r) => r.path === '/reporting/report_advertiser/campaign/c1/conversion.json',
      );
      expect(c1Calls.length).toBe(3);
      expect(c1Calls[0].query.cursor_id).toBeUndefined();
      expect(new Set(c1Calls.slice(1).map((r) => r.query.cursor_id)).size).toBe(2);
      for (const r of c1Calls)
        expect(r.query).toMatchObject({
          limit: '300',
          timezone: 'UTC',
          start_date: '2026-10-12 00:00:00',
          end_date: '2026-10-13 00:00:00',
        });
      expect(
        sim.server.requests.filter((r) => r.path === '/reporting/report_advertiser/campaign/c2/conversion.json').length,
      ).toBe(1);
      expect(sim.server.requests[0]).toMatchObject({
        path: '/campaign',
        query: { network_id: '1l1000003' },
        headers: { authorization: '[present]' },
      });

      // Every record maps; the campaign's brand comes along from the campaign list.
      const rows = records.map((r) => ok(c.normalize('conversions', r, nctx)));
      const first = rows.find((r) => r.conversion_id === 'b7')!;
      const truth = inC2[7];
      expect(first).toMatchObject({
        click_id: truth.clickId,
        order_id: truth.orderId,
        converted_at: iso(truth.convertedAt),
        clicked_at: iso(truth.clickedAt),
        affiliate_id: 'p1',
        offer_id: 'c2',
        advertiser_id: 'b2',
        sub1: 'sub-a',
        status: 'pending',
        revenue: '10.50',
        payout: '7.25',
        sale_amount: '100.125',
        currency: 'USD',
        ip: '198.51.100.7',
        country_code: 'US',
      });
    });
  });

  it('pages clicks and entity lists by offset, following hypermedia when the server caps the page', async () => {
    const clicks = Array.from({ length: 301 }, (_, i) => click(`k${i}`, 'c1', T0 + i * 10_000));
    const affiliates = Array.from({ length: 20 }, (_, i) =>
      entity(`p${i}`, { status: i % 3 === 0 ? 'inactive' : 'active' }),
    );
    const advertisers = Array.from({ length: 5 }, (_, i) => entity(`b${i}`));
    const sc = scenario({ clicks: [...clicks, click('late', 'c1', T0 + HOUR)], affiliates, advertisers });
    await withSim(sc, {}, undefined, async (c, sim) => {
      const { records } = await collect(c, { stream: 'clicks', from: iso(T0), to: iso(T0 + HOUR) });
      expect(records.map((r) => r.click_id)).toEqual(clicks.map((k) => k.clickId));
      const calls = sim.server.requests.filter((r) => r.path.endsWith('/click.json'));
      expect(calls.map((r) => r.query.offset)).toEqual([undefined, '300']);
      const row = ok(c.normalize('clicks', records[5], nctx));
      expect(row).toEqual({
        click_id: 'k5',
        clicked_at: iso(T0 + 50_000),
        affiliate_id: 'p1',
        offer_id: 'c1',
        advertiser_id: 'b1',
        sub1: 's1',
        sub2: null,
        sub3: null,
        sub4: null,
        sub5: null,
        ip: '198.51.100.8',
        user_agent_hash: null,
        country_code: 'DE',
        is_unique: true,
      } satisfies ClickRow);
    });
    await withSim(sc, { pageSize: 7 }, undefined, async (c, sim) => {
      const { records, summary } = await collect(c, { stream: 'affiliates', from: iso(T0), to: iso(T0 + HOUR) });
      expect(records.map((r) => r.id)).toEqual(affiliates.map((a) => a.id));
      expect(summary.pages).toBe(3);
      expect(sim.server.requests.map((r) => r.query.offset)).toEqual([undefined, '7', '14']);
      const rows = records.map((r) => ok(c.normalize('affiliates', r, nctx)));
      expect(rows[3]).toEqual({
        id: 'p3',
        name: 'Name p3',
        status: 'inactive',
        email: 'p3@partners.example',
        raw: records[3],
      });

      const brands = await collect(c, { stream: 'advertisers', from: iso(T0), to: iso(T0 + HOUR) });
      expect(brands.records.map((r) => ok(c.normalize('advertisers', r, nctx)).id)).toEqual([
        'b0',
        'b1',
        'b2',
        'b3',
        'b4',
      ]);
      const offers = await collect(c, { stream: 'offers', from: iso(T0), to: iso(T0 + HOUR) });
      expect(offers.records.map((r) => ok(c.normalize('offers', r, nctx)))).toEqual([
        { id: 'c1', name: 'Campaign c1', status: 'active', email: null, raw: offers.records[0] },
      ]);
    });
  });

  it('a non-UTC zone across both DST changes maps to the right UTC instants, each record in exactly one slice', async () => {
    const fall = [
      Date.parse('2026-11-01T04:59:59Z'),
      Date.parse('2026-11-01T05:30:00Z'),
      Date.parse('2026-11-01T07:15:00Z'),
      Date.parse('2026-11-01T08:59:00Z'),
    ];
    const spring = [
      Date.parse('2026-03-08T06:59:59Z'),
      Date.parse('2026-03-08T07:00:00Z'),
      Date.parse('2026-03-08T07:30:00Z'),
    ];
    const all = [...fall, ...spring].map((t, i) => conv(`z${i}`, 'c1', t));
    await withSim(scenario({ conversions: all }), {}, 'America/New_York', async (c, sim) => {
      const seen = new Map<string, string[]>();
      for (let h = 3; h < 9; h++) {
        const from = Date.parse('2026-11-01T00:00:00Z') + h * HOUR;
        const { records } = await collect(c, { stream: 'conversions', from: iso(from), to: iso(from + HOUR) });
        for (const r of records) {
          const row = ok(c.normalize('conversions', r, nctx));
          seen.set(row.conversion_id, [...(seen.get(row.conversion_id) ?? []), row.converted_at]);
          expect(Date.parse(row.converted_at)).toBeGreaterThanOrEqual(from);
          expect(Date.parse(row.converted_at)).toBeLessThan(from + HOUR);
        }
      }
      const spr = await collect(c, { stream: 'conversions', from: '2026-03-08T00:00:00Z', to: '2026-03-09T00:00:00Z' });
      for (const r of spr.records) {
        const row = ok(c.normalize('conversions', r, nctx));
        seen.set(row.conversion_id, [...(seen.get(row.conversion_id) ?? []), row.converted_at]);
        expect(row.clicked_at).toBe(iso(Date.parse(row.converted_at) - 60_000));
      }
      expect(Object.fromEntries(seen)).toEqual(
        Object.fromEntries(all.map((x) => [x.conversionId, [iso(x.convertedAt)]])),
      );

      const reqs = sim.server.requests.filter((r) => r.path.endsWith('/conversion.json'));
      expect(reqs.every((r) => r.query.timezone === 'America/New_York')).toBe(true);
      // Near the change the local window is widened by 3 h each side; the records are filtered to the slice.
      expect(reqs[2].query).toMatchObject({ start_date: '2026-10-31 22:00:00', end_date: '2026-11-01 04:00:00' });
    });
    // Far from a DST change the local window is exact.
    await withSim(scenario({}), {}, 'America/New_York', async (c, sim) => {
      await collect(c, { stream: 'conversions', from: '2026-11-10T12:00:00Z', to: '2026-11-10T13:00:00Z' });
      expect(sim.server.requests[1].query).toMatchObject({
        start_date: '2026-11-10 07:00:00',
        end_date: '2026-11-10 08:00:00',
        timezone: 'America/New_York',
      });
    });
  });

  it('the repeated autumn hour is ambiguous in offsetless local time: the earlier instant is taken (UTC, the default, avoids this)', async () => {
    const second = conv('amb', 'c1', Date.parse('2026-11-01T06:30:00Z')); // 01:30 EST, the second 01:30 of the night
    await withSim(scenario({ conversions: [second] }), {}, 'America/New_York', async (c) => {
      const { records } = await collect(c, {
        stream: 'conversions',
        from: '2026-11-01T00:00:00Z',
        to: '2026-11-02T00:00:00Z',
      });
      expect(records.map((r) => ok(c.normalize('conversions', r, nctx)).converted_at)).toEqual([
        '2026-11-01T05:30:00.000Z',
      ]);
    });
    await withSim(scenario({ conversions: [second] }), {}, undefined, async (c) => {
      const { records } = await collect(c, {
        stream: 'conversions',
        from: '2026-11-01T00:00:00Z',
        to: '2026-11-02T00:00:00Z',
      });
      expect(records.map((r) => ok(c.normalize('conversions', r, nctx)).converted_at)).toEqual([
        '2026-11-01T06:30:00.000Z',
      ]);
    });
  });

  it('the conversion_changes stream (date_type=last_modified) picks up a status change in the window it happened', async () => {
    const changedAt = T0 + 2 * DAY + 9 * HOUR;
    const x = conv('chg', 'c1', T0 + 10 * HOUR, { changes: [{ at: changedAt, status: 'approved' }] });
    const untouched = conv('same', 'c1', T0 + 11 * HOUR);
    const day = (n: number) => ({ from: iso(T0 + n * DAY), to: iso(T0 + (n + 1) * DAY) });
    // Before the change: pending, and nothing changed on day 2.
    await withSim(scenario({ conversions: [x, untouched] }), { now: () => T0 + DAY + HOUR }, undefined, async (c) => {
      const base = await collect(c, { stream: 'conversions', ...day(0) });
      expect(base.records.map((r) => ok(c.normalize('conversions', r, nctx)).status)).toEqual(['pending', 'pending']);
      expect((await collect(c, { stream: 'conversion_changes', ...day(2) })).records).toEqual([]);
    });
    // After it: the change shows up on day 2 as approved; the base window shows the status as of now.
    await withSim(scenario({ conversions: [x, untouched] }), { now: () => T0 + 3 * DAY }, undefined, async (c, sim) => {
      const changes = await collect(c, { stream: 'conversion_changes', ...day(2) });
      const rows = changes.records.map((r) => ok(c.normalize('conversion_changes', r, nctx)));
      expect(rows.map((r) => [r.conversion_id, r.status, r.converted_at])).toEqual([
        ['chg', 'approved', iso(x.convertedAt)],
      ]);
      expect(
        sim.server.requests.filter((r) => r.path.endsWith('/conversion.json')).map((r) => r.query.date_type),
      ).toEqual(['last_modified']);
      expect(
        (await collect(c, { stream: 'conversion_changes', ...day(0) })).records.map((r) => r.conversion_id),
      ).toEqual(['same']);
      const base = await collect(c, { stream: 'conversions', ...day(0) });
      expect(base.records.map((r) => ok(c.normalize('conversions', r, nctx)).status)).toEqual(['approved', 'pending']);
    });
  });

  it('rides out a 429 storm by waiting what the X-RateLimit headers say', async () => {
    const convs = Array.from({ length: 650 }, (_, i) => conv(`r${i}`, 'c1', T0 + i * 60_000));
    await withSim(
      scenario({ conversions: convs }),
      { rateLimitPerMinute: 2, rateLimitWindowMs: 1000 },
      undefined,
      async (c, sim) => {
        const pauses: number[] = [];
        const inner = new MemoryRateLimiter({ [KEY]: { requests: 1000, perSeconds: 1 } });
        const limiter: RateLimiter = {
          acquire: (p, s) => inner.acquire(p, s),
          pause: (p, ms) => {
            pauses.push(ms);
            return inner.pause(p, ms);
          },
        };
        const { records } = await collect(
          c,
          { stream: 'conversions', from: iso(T0), to: iso(T0 + DAY) },
          fetchCtx({
            rateLimiter: limiter,
            retry: { baseDelayMs: 1, maxDelayMs: 1500, timeoutMs: 5000, maxAttempts: 6 },
          }),
        );
        expect(records.length).toBe(650);
        expect(new Set(records.map((r) => r.conversion_id)).size).toBe(650);
        expect(pauses.length).toBeGreaterThanOrEqual(1);
        for (const ms of pauses) expect(ms).toBe(1000); // X-RateLimit-Retry-After: 1, not a jittered backoff
        expect(sim.server.requests.length).toBe(4 + pauses.length);

        // What the simulator sends when the window is spent.
        const h = { authorization: `Basic ${Buffer.from(SECRET).toString('base64')}` };
        const url = `${sim.server.baseUrl}/campaign`;
        let res = await fetch(url, { headers: h });
        while (res.status !== 429) res = await fetch(url, { headers: h });
        expect(res.headers.get('x-ratelimit-limit')).toBe('2');
        expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
        expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
        expect(res.headers.get('x-ratelimit-retry-after')).toBe(res.headers.get('x-ratelimit-reset'));
        expect(await res.json()).toEqual({ error: { message: 'Too Many Requests', type: '429' } });
      },
    );
  });

  it('retries a mid-paging 500 and a malformed / truncated body, re-asking the same page, losing and duplicating nothing', async () => {
    const convs = Array.from({ length: 650 }, (_, i) => conv(`f${i}`, 'c1', T0 + i * 60_000));
    for (const faults of [
      [{ kind: '500' as const }],
      [{ kind: 'malformed' as const }, { kind: 'truncate' as const }],
    ]) {
      await withSim(scenario({ conversions: convs }), {}, undefined, async (c, sim) => {
        const { records, summary } = await collect(
          c,
          { stream: 'conversions', from: iso(T0), to: iso(T0 + DAY) },
          fetchCtx(),
          (_p, n) => {
            if (n === 1) sim.server.injectFaults(faults, (path) => path.endsWith('/conversion.json'));
          },
        );
        expect(records.map((r) => r.conversion_id)).toEqual(convs.map((x) => x.conversionId));
        const calls = sim.server.requests.filter((r) => r.path.endsWith('/conversion.json'));
        expect(calls.map((r) => r.fault)).toEqual([undefined, ...faults.map((f) => f.kind), undefined, undefined]);
        const page2 = calls.slice(1, 2 + faults.length).map((r) => r.query.cursor_id);
        expect(new Set(page2).size).toBe(1);
        expect(summary.calls).toBe(1 + 3 + faults.length);
        expect(sim.server.pendingFaults()).toBe(0);
      });
    }
  });

  it('a wrong key is a clear, non-retryable error that carries no credentials', async () => {
    await withSim(scenario({}), {}, undefined, async (c, sim) => {
      const wrong = `${APP_KEY}:wrong-user-key`;
      const err = await c
        .fetchSlice(
          { platform: KEY, stream: 'conversions', from: iso(T0), to: iso(T0 + DAY) },
          fetchCtx({ secret: wrong }),
          async () => {},
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlatformApiError);
      const e = err as PlatformApiError;
      expect(e.retryable).toBe(false);
      expect(e.options.status).toBe(401);
      expect(e.message).toContain('authentication failed');
      expect(e.message).toContain('PZ_APP_KEY');
      expect(e.message).toContain('PZ_USER_KEY');
      for (const s of [APP_KEY, 'wrong-user-key', Buffer.from(wrong).toString('base64')])
        expect(e.message).not.toContain(s);
      expect(sim.server.requests.length).toBe(1);
    });
  });

  it('one malformed record in a good page: ok:false with a reason, the rest maps', async () => {
    const convs = [
      conv('g1', 'c1', T0 + HOUR),
      conv('g2', 'c1', T0 + 2 * HOUR, { currency: 'US$' }),
      conv('g3', 'c1', T0 + 3 * HOUR),
    ];
    await withSim(scenario({ conversions: convs }), {}, undefined, async (c) => {
      const { records, pages } = await collect(c, { stream: 'conversions', from: iso(T0), to: iso(T0 + DAY) });
      expect(pages.length).toBe(1);
      const results = records.map((r) => c.normalize('conversions', r, nctx));
      expect(results.map((r) => r.ok)).toEqual([true, false, true]);
      expect(results[1]).toEqual({
        ok: false,
        reason: 'partnerize conversions: conversion_id g2: currency: expected an ISO 4217 code, got "US$"',
      });
      expect(results.filter((r) => r.ok).map((r) => (r as { row: ConversionRow }).row.conversion_id)).toEqual([
        'g1',
        'g3',
      ]);
    });
  });
});
