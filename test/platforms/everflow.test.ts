import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createEverflowConnector, findUtcTimezone } from '#shared/platforms/everflow/index.js';
import {
  conversionsReplySchema,
  clicksReplySchema,
  affiliatesReplySchema,
  offersReplySchema,
  advertisersReplySchema,
  timezonesReplySchema,
  MONEY_KEYS,
} from '#shared/platforms/everflow/schemas.js';
import { readJson } from '#shared/platforms/kit/json.js';
import { createEverflowSimulator, type EverflowSimulatorOptions } from '../../dev/simulators/everflow.js';
import { SimServer } from '../../dev/simulators/server.js';
import type {
  Scenario,
  ScenarioClick,
  ScenarioConversion,
  ScenarioEntity,
} from '../../dev/simulators/scenario/types.js';
import { PlatformApiError, type FetchContext, type RawPage, type Slice } from '#shared/platforms/types.js';
import {
  DbRateLimiter,
  MemoryRateLimiter,
  unlimited,
  type RateLimiter,
  type RateLimitSpec,
} from '#shared/platforms/rate-limit.js';
import { freshDatabase } from '../helpers/db.js';
import { systemClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import type { PlatformConfig } from '#shared/config/schema.js';
import type { ClickRow, ConversionRow, EntityRow } from '#shared/model/canonical.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'everflow');
const KEY = 'ef-network-key-5f3a9c';
const hash = (v: string) => createHmac('sha256', 'test-hmac-key').update(v).digest('hex');
const nctx = { hash };

function fixture(name: string): unknown {
  return readJson(readFileSync(join(FIXTURES, name), 'utf8'), MONEY_KEYS);
}

function config(baseUrl: string): Extract<PlatformConfig, { kind: 'everflow' }> {
  return {
    kind: 'everflow',
    baseUrl,
    apiKeyEnv: 'EVERFLOW_API_KEY',
    scheduleMinutes: 60,
    lookbackHours: 72,
    maxBehindDays: 7,
  };
}

function fetchCtx(over: Partial<FetchContext> = {}): FetchContext {
  return {
    fetch: globalThis.fetch,
    rateLimiter: unlimited,
    clock: systemClock,
    logger: silentLogger,
    secret: KEY,
    retry: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 2000 },
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------
// A tiny hand-made scenario (independent of the scenario generator).

const T0 = Date.UTC(2026, 9, 12, 0, 0, 0); // 2026-10-12T00:00:00Z
const NOW = Date.UTC(2026, 9, 20, 0, 0, 0);

function entity(platform: string, id: string, name: string, extra: Partial<ScenarioEntity> = {}): ScenarioEntity {
  return {
    platform,
    id,
    name,
    email: null,
    status: 'active',
    canonicalKey: `k-${name}`,
    createdAt: T0 - 86_400_000,
    ...extra,
  };
}

function click(i: number, at: number, over: Partial<ScenarioClick> = {}): ScenarioClick {
  return {
    platform: 'everflow',
    clickId: `c${String(i).padStart(31, '0')}`,
    clickedAt: at,
    affiliateId: '57',
    offerId: '12',
    advertiserId: '13',
    subs: [`s${i}`, null, null, null, null],
    ip: `10.0.${Math.floor(i / 250)}.${i % 250}`,
    userAgent: 'UA/1.0',
    countryCode: 'US',
    isUnique: i % 3 !== 0,
    ...over,
  };
}

function conversion(i: number, at: number, over: Partial<ScenarioConversion> = {}): ScenarioConversion {
  return {
    platform: 'everflow',
    conversionId: `v${String(i).padStart(31, '0')}`,
    clickId: `c${String(i).padStart(31, '0')}`,
    transactionId: `c${String(i).padStart(31, '0')}`,
    clickedAt: at - 60_000,
    convertedAt: at,
    affiliateId: '57',
    offerId: '12',
    advertiserId: '13',
    orderId: `ORD-${i}`,
    subs: [null, null, null, null, null],
    eventName: i % 4 === 3 ? 'deposit' : null,
    status: 'pending',
    changes: [],
    revenue: '10.05',
    payout: '7.10',
    saleAmount: null,
    currency: 'USD',
    ip: '198.51.100.1',
    userAgent: 'UA/2.0',
    countryCode: 'DE',
    ...over,
  };
}

function scenario(
  parts: { clicks?: ScenarioClick[]; conversions?: ScenarioConversion[]; affiliates?: ScenarioEntity[] } = {},
): Scenario {
  return {
    options: {
      seed: 1,
      startDate: '2026-10-12',
      days: 8,
      platforms: { everflow: 'everflow' },
      legacy: [],
      target: 'everflow',
      migrationStart: '2026-10-12',
      cutoverDate: '2026-10-15',
      clicksPerDay: 100,
      affiliates: 1,
      offers: 1,
      advertisers: 1,
    },
    affiliates: { everflow: parts.affiliates ?? [entity('everflow', '57', 'Blue Pixel Media')] },
    offers: { everflow: [entity('everflow', '12', 'Summer Sale CPA', { advertiserId: '13' })] },
    advertisers: { everflow: [entity('everflow', '13', 'Gabielle Deleon Inc.')] },
    clicks: { everflow: parts.clicks ?? [] },
    conversions: { everflow: parts.conversions ?? [] },
    crosswalk: [],
    incidents: [],
    waves: [],
  };
}

const sims: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.stop()));
});

async function startSim(sc: Scenario, opts: Partial<EverflowSimulatorOptions> = {}) {
  const sim = createEverflowSimulator(sc, { platform: 'everflow', secret: KEY, now: () => NOW, ...opts });
  const baseUrl = await sim.start();
  sims.push(sim);
  return { sim, baseUrl };
}

async function collect(
  connector: ReturnType<typeof createEverflowConnector>,
  slice: Slice,
  ctx: FetchContext = fetchCtx(),
) {
  const pages: RawPage[] = [];
  const summary = await connector.fetchSlice(slice, ctx, async (p) => {
    pages.push(p);
  });
  return { pages, summary, records: pages.flatMap((p) => p.records) };
}

const iso = (ms: number) => new Date(ms).toISOString();
const H = 3_600_000;

// ---------------------------------------------------------------------------------------------

describe('everflow mappers against the documented record shapes (fixtures)', () => {
  const connector = createEverflowConnector('everflow', config('https://api.eflow.team'));

  it('maps conversions and post-conversion events field by field', () => {
    const reply = conversionsReplySchema.parse(fixture('conversions.json'));
    const records = reply.conversions as Record<string, unknown>[];
    const rows = records.map((r) => connector.normalize('conversions', r, nctx));
    const ua = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)';
    const expected: ConversionRow[] = [
      {
        conversion_id: 'ed113548268141de8b4c4ad4a1d812a7',
        click_id: '0f2a6c1e9b8d4e7fa1c3b5d7e9f10234',
        transaction_id: '0f2a6c1e9b8d4e7fa1c3b5d7e9f10234',
        order_id: 'ORD-99812',
        converted_at: '2026-10-11T13:32:11.000Z',
        clicked_at: '2026-10-11T13:22:11.000Z',
        affiliate_id: '57',
        offer_id: '12',
        advertiser_id: '13',
        sub1: 'cake-req-77812',
        sub2: '1001',
        sub3: null,
        sub4: null,
        sub5: null,
        event_name: null,
        is_event: false,
        status: 'approved',
        revenue: '20',
        payout: '12.5',
        sale_amount: '89.99',
        currency: 'USD',
        ip: '203.0.113.7',
        user_agent_hash: hash(ua),
        country_code: 'US',
        raw: {
          ...records[0],
          email: `hmac:${hash('shopper@example.com')}`,
          idfa: `hmac:${hash('6D92078A-8246-4BA4-AE5B-76104861E7DC')}`,
          http_user_agent: `hmac:${hash(ua)}`,
        },
      },
      {
        conversion_id: '9b1c7e2f4a6d48c0b3e5f7a9c1d3e5f7',
        click_id: '0f2a6c1e9b8d4e7fa1c3b5d7e9f10234',
        transaction_id: '0f2a6c1e9b8d4e7fa1c3b5d7e9f10234',
        order_id: null,
        converted_at: '2026-10-11T14:32:11.000Z',
        clicked_at: '2026-10-11T13:22:11.000Z',
        affiliate_id: '57',
        offer_id: '12',
        advertiser_id: null,
        sub1: null,
        sub2: null,
        sub3: null,
        sub4: null,
        sub5: null,
        event_name: 'First Deposit',
        is_event: true,
        status: 'pending',
        revenue: '1.005',
        payout: '0.1',
        sale_amount: '999999999999.999999',
        currency: 'EUR',
        ip: '198.51.100.21',
        user_agent_hash: null,
        country_code: 'DE',
        raw: records[1],
      },
      {
        conversion_id: '4c0d2b8e6f1a43579bd2e4f6a8c0e2d4',
        click_id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
        transaction_id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
        order_id: 'A-1',
        converted_at: '2026-10-11T15:20:00.000Z',
        clicked_at: null,
        affiliate_id: '58',
        offer_id: '14',
        advertiser_id: '15',
        sub1: '4411',
        sub2: 'x',
        sub3: null,
        sub4: null,
        sub5: 's5',
        event_name: null,
        is_event: false,
        status: 'rejected',
        revenue: '0',
        payout: '-2.25',
        sale_amount: null,
        currency: 'USD',
        ip: '192.0.2.55',
        user_agent_hash: null,
        country_code: null,
        raw: records[2],
      },
    ];
    expect(rows).toEqual(expected.map((row) => ({ ok: true, row })));
    const rawText = JSON.stringify(rows.map((r) => (r.ok ? r.row.raw : null)));
    expect(rawText).not.toContain('shopper@example.com');
    expect(rawText).not.toContain('6D92078A');
    expect(rawText).not.toContain('iPhone OS');
  });

  it('maps clicks field by field (affiliate from relationship, or top-level as fallback)', () => {
    const reply = clicksReplySchema.parse(fixture('clicks.json'));
    const rows = reply.clicks.map((r) => connector.normalize('clicks', r, nctx));
    const expected: ClickRow[] = [
      {
        click_id: '0f2a6c1e9b8d4e7fa1c3b5d7e9f10234',
        clicked_at: '2026-10-11T13:22:11.000Z',
        affiliate_id: '57',
        offer_id: '12',
        advertiser_id: '13',
        sub1: 'cake-req-77812',
        sub2: '1001',
        sub3: null,
        sub4: null,
        sub5: null,
        ip: '203.0.113.7',
        user_agent_hash: hash('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)'),
        country_code: 'US',
        is_unique: true,
      },
      {
        click_id: 'b7e9d1c3a5f7492b8d0e2c4a6f8b0d12',
        clicked_at: '2026-10-11T13:23:20.000Z',
        affiliate_id: '58',
        offer_id: '14',
        advertiser_id: null,
        sub1: null,
        sub2: null,
        sub3: null,
        sub4: null,
        sub5: null,
        ip: null,
        user_agent_hash: null,
        country_code: 'GB',
        is_unique: false,
      },
    ];
    expect(rows).toEqual(expected.map((row) => ({ ok: true, row })));
  });

  it('maps affiliates, offers and advertisers (statuses folded to active/inactive/pending)', () => {
    const affiliates = affiliatesReplySchema.parse(fixture('affiliates.json')).affiliates;
    const offers = offersReplySchema.parse(fixture('offers.json')).offers;
    const advertisers = advertisersReplySchema.parse(fixture('advertisers.json')).advertisers;
    const expectedAffiliates: EntityRow[] = [
      { id: '57', name: 'Blue Pixel Media', status: 'active', email: 'sam@bluepixel.example', raw: affiliates[0] },
      { id: '58', name: 'Green Leads LLC', status: 'inactive', email: null, raw: affiliates[1] },
    ];
    const expectedOffers: EntityRow[] = [
      { id: '12', name: 'Summer Sale CPA', status: 'active', email: null, raw: offers[0] },
      { id: '14', name: 'Trial Offer', status: 'inactive', email: null, raw: offers[1] },
      { id: '15', name: 'New Offer', status: 'pending', email: null, raw: offers[2] },
    ];
    const expectedAdvertisers: EntityRow[] = [
      { id: '13', name: 'Gabielle Deleon Inc.', status: 'active', email: null, raw: advertisers[0] },
    ];
    expect(affiliates.map((r) => connector.normalize('affiliates', r, nctx))).toEqual(
      expectedAffiliates.map((row) => ({ ok: true, row })),
    );
    expect(offers.map((r) => connector.normalize('offers', r, nctx))).toEqual(
      expectedOffers.map((row) => ({ ok: true, row })),
    );
    expect(advertisers.map((r) => connector.normalize('advertisers', r, nctx))).toEqual(
      expectedAdvertisers.map((row) => ({ ok: true, row })),
    );
  });

  it('a bad record gets a reason naming platform, stream, field and value; its neighbours still map', () => {
    const records = structuredClone(conversionsReplySchema.parse(fixture('conversions.json')).conversions) as Record<
      string,
      any
    >[];
    records[1].payout = '12,50';
    delete records[2].relationship.affiliate;
    const rows = records.map((r) => connector.normalize('conversions', r, nctx));
    expect(rows[0].ok).toBe(true);
    expect(rows[1]).toEqual({
      ok: false,
      reason: `everflow conversions: conversion_id ${records[1].conversion_id}: payout: expected a decimal, got "12,50"`,
    });
    expect(rows[2].ok).toBe(false);
    expect(!rows[2].ok && rows[2].reason).toMatch(
      /^everflow conversions: conversion_id \w+: relationship\.affiliate: .*got nothing \(field missing\)$/,
    );

    const odd = { ...records[0], status: 'reversed' };
    expect(connector.normalize('conversions', odd, nctx)).toEqual({
      ok: false,
      reason: `everflow conversions: conversion_id ${records[0].conversion_id}: status: expected approved, pending, rejected or invalid, got "reversed"`,
    });
    const huge = { ...records[0], revenue: '1234567890123.5' };
    expect(connector.normalize('conversions', huge, nctx)).toEqual({
      ok: false,
      reason: `everflow conversions: conversion_id ${records[0].conversion_id}: revenue: out of range for DECIMAL(18,6), got "1234567890123.5"`,
    });
    const long = { ...records[0], conversion_unix_timestamp: 'x'.repeat(200) };
    const r = connector.normalize('conversions', long, nctx);
    expect(
      !r.ok &&
        r.reason.startsWith(
          `everflow conversions: conversion_id ${records[0].conversion_id}: conversion_unix_timestamp:`,
        ),
    ).toBe(true);
    expect(!r.ok && r.reason.length).toBeLessThan(250);
    // Personal data is never echoed in a reason.
    const badEmail = { ...records[0], email: 42 };
    const e = connector.normalize('conversions', { ...badEmail, http_user_agent: 7 }, nctx);
    expect(!e.ok && e.reason).toContain('http_user_agent');
    expect(!e.ok && e.reason).toContain('(redacted)');
    expect(connector.normalize('clicks', 'not a record', nctx)).toEqual({
      ok: false,
      reason: 'everflow clicks: (record): expected an object, got "not a record"',
    });
  });

  it('finds the UTC timezone by name, never a +00:00 zone with DST', () => {
    const zones = timezonesReplySchema.parse(fixture('timezones.json')).timezones;
    expect(findUtcTimezone(zones)?.timezone_id).toBe(67);
    expect(
      findUtcTimezone([
        zones[1],
        { timezone_id: 90, timezone_name: '(UTC) Coordinated Universal Time', timezone: null, utc_offset: '+00:00' },
      ])?.timezone_id,
    ).toBe(90);
    expect(findUtcTimezone([zones[0], zones[1]])).toBeNull();
  });

  it('reads the OpenAPI listing\u2019s timezone rows too (timezone_id, timezone, offset, label)', () => {
    const zones = timezonesReplySchema.parse({
      timezones: [
        { timezone_id: 80, timezone: 'America/New_York', offset: '-05:00', label: '(UTC-05:00) Eastern Time' },
        { timezone_id: 81, timezone: 'Europe/London', offset: '+00:00', label: '(UTC+00:00) London' },
        { timezone_id: '90', timezone: 'GMT Standard', offset: 0, label: '(UTC) Coordinated Universal Time' },
      ],
    }).timezones;
    expect(findUtcTimezone(zones)?.timezone_id).toBe(90);
    expect(findUtcTimezone(zones.slice(0, 2))).toBeNull();
  });
});

describe('everflow connector against the HTTP simulator', () => {
  it('offers no conversion_changes stream (the lookback re-read catches status changes)', async () => {
    const connector = createEverflowConnector('everflow', config('http://127.0.0.1:9'));
    expect(connector.streams).toEqual(['conversions', 'clicks', 'affiliates', 'offers', 'advertisers']);
    expect(connector.defaultRateLimit).toEqual({ requests: 20, perSeconds: 1 });
    expect(connector.horizonDays).toBe(365);
    await expect(
      connector.fetchSlice(
        { platform: 'everflow', stream: 'conversion_changes', from: iso(T0), to: iso(T0 + H) },
        fetchCtx(),
        async () => {},
      ),
    ).rejects.toThrow(/no conversion change feed/);
  });

  it('pages conversions across 5 pages with exact counts, one timezone lookup, statuses as of now', async () => {
    // 33 conversions inside [T0, T0+24h), one exactly at the end (next slice), one after "now".
    const convs = Array.from({ length: 33 }, (_, i) => conversion(i, T0 + i * 40 * 60_000 + 1500));
    convs[0] = { ...convs[0], changes: [{ at: T0 + 2 * H, status: 'approved' }] };
    convs[1] = { ...convs[1], changes: [{ at: NOW + H, status: 'rejected' }] };
    const edge = conversion(100, T0 + 24 * H);
    const future = conversion(101, NOW + 1000);
    const { sim, baseUrl } = await startSim(scenario({ conversions: [...convs, edge, future] }), { pageSize: 7 });
    const connector = createEverflowConnector('everflow', config(baseUrl));
    const slice: Slice = { platform: 'everflow', stream: 'conversions', from: iso(T0), to: iso(T0 + 24 * H) };
    const progress: number[] = [];
    const { pages, summary, records } = await collect(
      connector,
      slice,
      fetchCtx({ onProgress: (p) => progress.push(p.records) }),
    );

    const ids = records.map((r) => (r as { conversion_id: string }).conversion_id);
    expect(ids).toEqual(convs.map((c) => c.conversionId));
    expect(pages.map((p) => p.records.length)).toEqual([7, 7, 7, 7, 5]);
    expect(summary).toEqual({ pages: 5, records: 33, calls: 5, splits: 0 });
    expect(progress).toEqual([7, 14, 21, 28, 33]);
    const byId = new Map(
      records.map((r) => [(r as { conversion_id: string }).conversion_id, r as { status: string; is_event: boolean }]),
    );
    expect(byId.get(convs[0].conversionId)?.status).toBe('approved');
    expect(byId.get(convs[1].conversionId)?.status).toBe('pending');
    expect(records.filter((r) => (r as { is_event: boolean }).is_event)).toHaveLength(
      convs.filter((c) => c.eventName !== null).length,
    );

    const calls = sim.server.requests.filter((r) => r.path === '/v1/networks/reporting/conversions');
    expect(calls.map((r) => r.query.page)).toEqual(['1', '2', '3', '4', '5']);
    const body = JSON.parse(calls[0].body);
    expect(body).toEqual({
      from: '2026-10-12 00:00:00',
      to: '2026-10-13 00:00:00',
      timezone_id: 113,
      show_conversions: true,
      show_events: true,
    });
    expect(calls[0].headers['x-eflow-api-key']).toBe('[present]');

    // The next slice picks up the conversion at the boundary; the timezone is not looked up again.
    const next = await collect(connector, { ...slice, from: iso(T0 + 24 * H), to: iso(T0 + 48 * H) });
    expect(next.records.map((r) => (r as { conversion_id: string }).conversion_id)).toEqual([edge.conversionId]);
    expect(sim.server.requests.filter((r) => r.path === '/v1/meta/timezones')).toHaveLength(1);

    // Everything maps.
    const mapped = records.map((r) => connector.normalize('conversions', r, nctx));
    expect(mapped.every((m) => m.ok)).toBe(true);
    const first = mapped[0].ok ? mapped[0].row : null;
    expect(first).toMatchObject({
      conversion_id: convs[0].conversionId,
      converted_at: '2026-10-12T00:00:01.000Z',
      revenue: '10.05',
      payout: '7.10',
      country_code: 'DE',
      status: 'approved',
      offer_id: '12',
      affiliate_id: '57',
      advertiser_id: '13',
      order_id: 'ORD-0',
      user_agent_hash: hash('UA/2.0'),
    });
  });

  it('pages entity tables by the server-clamped page size', async () => {
    const affiliates = Array.from({ length: 12 }, (_, i) =>
      entity('everflow', String(500 + i), `Aff ${i}`, {
        email: i === 3 ? 'ops@aff3.example' : null,
        status: i === 5 ? 'inactive' : 'active',
      }),
    );
    const { sim, baseUrl } = await startSim(scenario({ affiliates }), { pageSize: 5 });
    const connector = createEverflowConnector('everflow', config(baseUrl));
    const { summary, records } = await collect(connector, {
      platform: 'everflow',
      stream: 'affiliates',
      from: iso(T0),
      to: iso(T0 + H),
    });
    expect(summary).toEqual({ pages: 3, records: 12, calls: 3, splits: 0 });
    const rows = records.map((r) => connector.normalize('affiliates', r, nctx)).map((r) => (r.ok ? r.row : null));
    expect(rows.map((r) => r?.id)).toEqual(affiliates.map((a) => a.id));
    expect(rows[3]).toMatchObject({ email: 'ops@aff3.example', status: 'active' });
    expect(rows[5]).toMatchObject({ email: null, status: 'inactive' });
    expect(sim.server.requests.map((r) => r.query.page)).toEqual(['1', '2', '3']);
  });

  it('pages a truncated click window from its newest second, whatever order the reply lists, every row once', async () => {
    // 180 clicks in 6 hours, cap 50: sparse for two hours, then 120 in hour 3 with bursts of 7 in one
    // second (a cut falls inside a burst), then sparse again. The simulator lists replies newest first.
    const at = (i: number) =>
      i < 30
        ? T0 + Math.floor((i * 2 * H) / 30)
        : i < 150
          ? T0 + 2 * H + Math.floor((i - 30) / 7) * 30_000 + ((i - 30) % 7) * 100
          : T0 + 3 * H + (i - 150) * 360_000;
    const clicks = Array.from({ length: 180 }, (_, i) => click(i, at(i) + 250));
    const { sim, baseUrl } = await startSim(scenario({ clicks }), { clickCap: 50 });
    const connector = createEverflowConnector('everflow', config(baseUrl), { clickCap: 50 });
    const { summary, records, pages } = await collect(connector, {
      platform: 'everflow',
      stream: 'clicks',
      from: iso(T0),
      to: iso(T0 + 6 * H),
    });
    const ids = records.map((r) => (r as { transaction_id: string }).transaction_id);
    expect(ids.length).toBe(180);
    expect([...ids].sort()).toEqual(clicks.map((c) => c.clickId).sort()); // all once
    expect(summary).toMatchObject({ records: 180, splits: 0 });
    const streamCalls = sim.server.requests.filter((r) => r.path === '/v1/networks/reporting/clicks/stream');
    // 180 rows at up to 50 a call, less the cut second each time: 4 calls, each but the last nearly full.
    expect(streamCalls).toHaveLength(4);
    expect(summary.pages).toBe(4);
    expect(pages.slice(0, -1).every((p) => p.records.length >= 50 - 7)).toBe(true);
    // Each call asks the rest of the slice from the newest second the previous reply held.
    const windows = streamCalls.map((r) => JSON.parse(r.body) as { from: string; to: string });
    expect(windows[0].from).toBe('2026-10-12 00:00:00');
    for (const w of windows) expect(w.to).toBe('2026-10-12 06:00:00');
    for (let i = 1; i < windows.length; i++) {
      const shown = pages[i - 1].records.map((r) => (r as { unix_timestamp: number }).unix_timestamp);
      expect(Date.parse(`${windows[i].from}Z`) / 1000).toBeGreaterThan(Math.max(...shown));
    }
    const mapped = records.map((r) => connector.normalize('clicks', r, nctx));
    expect(mapped.every((m) => m.ok)).toBe(true);
    const first = mapped.find((m) => m.ok && m.row.click_id === clicks[0].clickId);
    expect(first?.ok && first.row).toEqual({
      click_id: clicks[0].clickId,
      clicked_at: '2026-10-12T00:00:00.000Z',
      affiliate_id: '57',
      offer_id: '12',
      advertiser_id: '13',
      sub1: 's0',
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
      ip: '10.0.0.0',
      user_agent_hash: hash('UA/1.0'),
      country_code: 'US',
      is_unique: false,
    });
  });

  it('a busy fortnight costs the minimum the row cap allows: every call but the last carries the cap', async () => {
    // 14 days up to now, 1,000–4,000 clicks a day in a daily cycle (quiet nights, busy evenings),
    // growing by half over the fortnight, a day of nothing in the middle; a cap of 500.
    const start = NOW - 14 * 24 * H;
    const clicks: ScenarioClick[] = [];
    for (let h = 0; h < 14 * 24; h++) {
      if (h >= 6 * 24 && h < 7 * 24) continue;
      const perHour = Math.round(100 * (1 + 0.6 * Math.sin(((h % 24) / 24) * 2 * Math.PI)) * (1 + (h / 24 / 14) * 0.5));
      for (let j = 0; j < perHour; j++)
        clicks.push(click(clicks.length, start + h * H + Math.floor((j * H) / perHour)));
    }
    const { sim, baseUrl } = await startSim(scenario({ clicks }), { clickCap: 500 });
    const connector = createEverflowConnector('everflow', config(baseUrl), { clickCap: 500 });
    const { summary, pages } = await collect(connector, {
      platform: 'everflow',
      stream: 'clicks',
      from: iso(start),
      to: iso(NOW),
    });
    expect(summary.records).toBe(clicks.length);
    const calls = sim.server.requests.filter((r) => r.path.endsWith('/clicks/stream')).length;
    // At most one click a second here, so a truncated reply gives up one row (its cut second).
    expect(calls).toBe(Math.ceil(clicks.length / 499));
    expect(pages.slice(0, -1).every((p) => p.records.length === 499)).toBe(true);
  });

  it('calls at most 14 days at a time, however sparse the clicks', async () => {
    const clicks = [click(1, T0 - 20 * 24 * H), click(2, T0 - 3 * 24 * H), click(3, T0 + 2 * 24 * H)];
    const { sim, baseUrl } = await startSim(scenario({ clicks }));
    const connector = createEverflowConnector('everflow', config(baseUrl));
    const { records, summary } = await collect(connector, {
      platform: 'everflow',
      stream: 'clicks',
      from: iso(T0 - 25 * 24 * H),
      to: iso(T0 + 5 * 24 * H),
    });
    expect(records).toHaveLength(3);
    expect(summary.splits).toBe(0);
    const asked = sim.server.requests
      .filter((r) => r.path.endsWith('/clicks/stream'))
      .map((r) => JSON.parse(r.body) as { from: string; to: string })
      .map((b) => [b.from, b.to]);
    expect(asked).toEqual([
      ['2026-09-17 00:00:00', '2026-10-01 00:00:00'],
      ['2026-10-01 00:00:00', '2026-10-15 00:00:00'],
      ['2026-10-15 00:00:00', '2026-10-17 00:00:00'],
    ]);
  });

  it('names the second when cap-many clicks share it (no narrower window exists), after delivering what came before', async () => {
    const clicks = [
      ...Array.from({ length: 3 }, (_, i) => click(i, T0 + i * 60_000)),
      ...Array.from({ length: 12 }, (_, i) => click(10 + i, T0 + 10 * 60_000 + i * 50)),
    ];
    const { baseUrl } = await startSim(scenario({ clicks }), { clickCap: 10 });
    const connector = createEverflowConnector('everflow', config(baseUrl), { clickCap: 10 });
    const got: unknown[] = [];
    const slice = { platform: 'everflow', stream: 'clicks' as const, from: iso(T0), to: iso(T0 + H) };
    const err = await connector
      .fetchSlice(slice, fetchCtx(), async (p) => {
        got.push(...p.records);
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect((err as PlatformApiError).message).toContain('within the second 2026-10-12 00:10:00 UTC');
    expect((err as PlatformApiError).retryable).toBe(false);
    expect(got).toHaveLength(3);
  });

  it('treats incomplete_results as an error: drops that reply, asks half the window, then the rest', async () => {
    const clicks = Array.from({ length: 30 }, (_, i) => click(i, T0 + i * 60_000));
    const { sim, baseUrl } = await startSim(scenario({ clicks }), { incompleteOnce: true });
    const connector = createEverflowConnector('everflow', config(baseUrl));
    const { summary, records } = await collect(connector, {
      platform: 'everflow',
      stream: 'clicks',
      from: iso(T0),
      to: iso(T0 + H),
    });
    const ids = records.map((r) => (r as { transaction_id: string }).transaction_id);
    expect(ids.sort()).toEqual(clicks.map((c) => c.clickId).sort());
    expect(summary.splits).toBe(1);
    expect(sim.server.requests.filter((r) => r.path.endsWith('/clicks/stream'))).toHaveLength(3);
  });

  it('rides out a 429 storm, honouring Retry-After, and the log shows every retry', async () => {
    const convs = Array.from({ length: 4 }, (_, i) => conversion(i, T0 + i * H));
    const { sim, baseUrl } = await startSim(scenario({ conversions: convs }));
    sim.server.injectFaults(
      [
        { kind: '429', retryAfterSeconds: 0 },
        { kind: '429', retryAfterSeconds: 0 },
        { kind: '429', retryAfterSeconds: 0 },
        { kind: '429', retryAfterSeconds: 0 },
      ],
      (p) => p.endsWith('/conversions'),
    );
    const connector = createEverflowConnector('everflow', config(baseUrl));
    const { summary, records } = await collect(connector, {
      platform: 'everflow',
      stream: 'conversions',
      from: iso(T0),
      to: iso(T0 + 24 * H),
    });
    expect(records).toHaveLength(4);
    expect(summary.calls).toBe(5);
    const log = sim.server.requests.filter((r) => r.path.endsWith('/conversions'));
    expect(log.map((r) => r.fault ?? 'ok')).toEqual(['429', '429', '429', '429', 'ok']);
    expect(sim.server.pendingFaults()).toBe(0);
  });

  it('gives up on a 429 storm longer than the retry budget with a retryable error', async () => {
    const { sim, baseUrl } = await startSim(scenario({ conversions: [conversion(1, T0)] }));
    sim.server.injectFaults(
      Array.from({ length: 4 }, () => ({ kind: '429' as const, retryAfterSeconds: 0 })),
      (p) => p.endsWith('/conversions'),
    );
    const connector = createEverflowConnector('everflow', config(baseUrl));
    const err = await collect(
      connector,
      { platform: 'everflow', stream: 'conversions', from: iso(T0), to: iso(T0 + H) },
      fetchCtx({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 2000 } }),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('everflow /v1/networks/reporting/conversions: 429');
  });

  it('retries a mid-paging 500, a truncated body and a malformed body, losing and repeating nothing', async () => {
    const convs = Array.from({ length: 20 }, (_, i) => conversion(i, T0 + i * 60_000));
    const { sim, baseUrl } = await startSim(scenario({ conversions: convs }), { pageSize: 6 });
    const connector = createEverflowConnector('everflow', config(baseUrl));
    const onConv = (p: string) => p.endsWith('/conversions');
    let page = 0;
    const pages: RawPage[] = [];
    const summary = await connector.fetchSlice(
      { platform: 'everflow', stream: 'conversions', from: iso(T0), to: iso(T0 + H) },
      fetchCtx(),
      async (p) => {
        pages.push(p);
        page++;
        // Faults hit the next calls: page 2 gets a 500, page 3 a cut body then a malformed one.
        if (page === 1) sim.server.injectFaults([{ kind: '500' }], onConv);
        if (page === 2) sim.server.injectFaults([{ kind: 'truncate' }, { kind: 'malformed' }], onConv);
      },
    );
    const ids = pages.flatMap((p) => p.records).map((r) => (r as { conversion_id: string }).conversion_id);
    expect(ids).toEqual(convs.map((c) => c.conversionId));
    expect(summary).toEqual({ pages: 4, records: 20, calls: 7, splits: 0 });
    const log = sim.server.requests.filter((r) => onConv(r.path));
    expect(log.map((r) => `${r.query.page}:${r.fault ?? 'ok'}`)).toEqual([
      '1:ok',
      '2:500',
      '2:ok',
      '3:truncate',
      '3:malformed',
      '3:ok',
      '4:ok',
    ]);
  });

  it('quarantines one bad record of a good page and maps the rest', async () => {
    const convs = [
      conversion(1, T0 + 1000),
      conversion(2, T0 + 2000, { currency: 'DOLLARS' }),
      conversion(3, T0 + 3000),
    ];
    const { baseUrl } = await startSim(scenario({ conversions: convs }));
    const connector = createEverflowConnector('everflow', config(baseUrl));
    const { records } = await collect(connector, {
      platform: 'everflow',
      stream: 'conversions',
      from: iso(T0),
      to: iso(T0 + H),
    });
    const results = records.map((r) => connector.normalize('conversions', r, nctx));
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[1]).toEqual({
      ok: false,
      reason: `everflow conversions: conversion_id ${(records[1] as { conversion_id: string }).conversion_id}: currency_id: expected an ISO 4217 code, got "DOLLARS"`,
    });
  });

  it('fails fast on a wrong key (401) without retrying and without the key in the error', async () => {
    const { sim, baseUrl } = await startSim(scenario({ conversions: [conversion(1, T0)] }));
    const connector = createEverflowConnector('everflow', config(baseUrl));
    const wrong = 'wrong-key-abcdef123456';
    const err = await collect(
      connector,
      { platform: 'everflow', stream: 'conversions', from: iso(T0), to: iso(T0 + H) },
      fetchCtx({ secret: wrong }),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect(err.retryable).toBe(false);
    expect(err.options.status).toBe(401);
    expect(err.message).toMatch(
      /^everflow \/v1\/meta\/timezones: authentication failed \(HTTP 401\).*apiKeyEnv.*Invalid API Key/,
    );
    expect(err.message).not.toContain(wrong);
    expect(JSON.stringify(sim.server.requests)).not.toContain(wrong);
    expect(sim.server.requests).toHaveLength(1);
  });

  it('names the field path when a reply fails its envelope schema (not retried)', async () => {
    let calls = 0;
    const server = new SimServer((req) => {
      calls++;
      if (req.path === '/v1/meta/timezones')
        return { status: 200, body: JSON.stringify({ timezones: [{ timezone_id: 5, timezone: 'UTC' }] }) };
      return { status: 200, body: JSON.stringify({ conversions: [], paging: { page: 1, total_count: 0 } }) };
    });
    const baseUrl = await server.start();
    sims.push(server);
    const connector = createEverflowConnector('everflow', config(`${baseUrl}/v1/`));
    const err = await collect(connector, {
      platform: 'everflow',
      stream: 'conversions',
      from: iso(T0),
      to: iso(T0 + H),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect(err.message).toMatch(
      /^everflow \/v1\/networks\/reporting\/conversions: reply does not match the expected shape at paging\.page_size: /,
    );
    expect(err.options.field).toBe('paging.page_size');
    expect(err.retryable).toBe(false);
    expect(calls).toBe(2);
  });

  async function sharedBudget(makeLimiter: (spec: RateLimitSpec) => RateLimiter) {
    const convs = Array.from({ length: 12 }, (_, i) => conversion(i, T0 + i * 60_000));
    const { sim, baseUrl } = await startSim(scenario({ conversions: convs }), { pageSize: 2 });
    const spec = { requests: 3, perSeconds: 0.15 }; // 20 req/s, burst 3
    const limiter = makeLimiter(spec);
    const a = createEverflowConnector('everflow', config(baseUrl));
    const b = createEverflowConnector('everflow', config(baseUrl));
    const slice: Slice = { platform: 'everflow', stream: 'conversions', from: iso(T0), to: iso(T0 + H) };
    const started = Date.now();
    const [ra, rb] = await Promise.all([
      collect(a, slice, fetchCtx({ rateLimiter: limiter })),
      collect(b, slice, fetchCtx({ rateLimiter: limiter })),
    ]);
    const elapsed = Date.now() - started;
    expect(ra.records).toHaveLength(12);
    expect(rb.records).toHaveLength(12);
    const times = sim.server.requests.map((r) => r.at).sort((x, y) => x - y);
    expect(times).toHaveLength(14); // 2 × (1 timezone lookup + 6 pages)
    // A token bucket allows at most burst + rate × t requests in any span t (+1 for clock granularity).
    const rate = spec.requests / (spec.perSeconds * 1000);
    for (let i = 0; i < times.length; i++) {
      for (let j = i; j < times.length; j++) {
        expect(j - i + 1).toBeLessThanOrEqual(spec.requests + rate * (times[j] - times[i]) + 1);
      }
    }
    // And the pacing really happened: 11 requests beyond the burst at 20/s take ≥ ~0.5 s.
    expect(elapsed).toBeGreaterThanOrEqual(((times.length - spec.requests) / rate) * 0.9);
  }

  it('two connectors sharing one in-process rate limiter never exceed its budget together', async () => {
    await sharedBudget((spec) => new MemoryRateLimiter({ everflow: spec }));
  });

  it('two connectors sharing the MySQL token bucket (DbRateLimiter) never exceed its budget together', async () => {
    const t = await freshDatabase(['everflow']);
    try {
      await sharedBudget((spec) => new DbRateLimiter(t.db, t.names, { everflow: spec }));
    } finally {
      await t.drop();
    }
  });
});
