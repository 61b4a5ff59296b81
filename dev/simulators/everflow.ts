import {
  SimServer,
  type PlatformSimulator,
  type SimRequest,
  type SimResponse,
  type SimulatorOptions,
} from './server.js';
import {
  statusAt,
  type Scenario,
  type ScenarioClick,
  type ScenarioConversion,
  type ScenarioEntity,
} from './scenario/types.js';
import { parseLocalTime } from '#shared/util/time.js';

/**
 * An HTTP simulator of Everflow's Network API (docs/platform-apis.md §1), serving one
 * platform key of a Scenario in Everflow's wire format:
 * - `X-Eflow-API-Key` checked on every call: missing or wrong → 401 `{"error": …}`;
 * - `GET /v1/meta/timezones` (UTC is one entry among others, at an id nobody should hard-code;
 *   a request without `timezone_id` is read in the network default zone, America/New_York);
 * - `POST /v1/networks/reporting/conversions?page=&page_size=` (body `from`, `to`, `timezone_id`,
 *   `show_conversions`, `show_events` required; ≤365 days back; status as of now via statusAt);
 * - `POST /v1/networks/reporting/clicks/stream` (≤14-day window else 400; at most `clickCap` rows,
 *   silently truncated like the real endpoint: the window's earliest clicks are kept, listed newest
 *   first, as tap-everflow's paging reads the reply; raw clicks older than 90 days gone unless they
 *   converted; `incompleteOnce` makes the first reply `incomplete_results: true` with half the rows);
 * - `POST /v1/networks/{affiliates,offers,advertisers}table` paged;
 * - `from`/`to` are `YYYY-MM-DD[ HH:MM:SS]` in the requested zone, both inclusive to the second
 *   (a date-only `to` means the whole day);
 * - money goes out as JSON numbers with the scenario's exact digits (`"payout": 12.50`);
 * - only records with event time ≤ now() exist.
 * Faults (429 storms, 500s, truncated or malformed bodies) come from `server.injectFaults`.
 */

export interface EverflowSimulatorOptions extends SimulatorOptions {
  /** Largest page the server hands out (it clamps bigger `page_size` requests). Default 2,000. */
  pageSize?: number;
  /** clicks/stream row cap. Default 10,000. */
  clickCap?: number;
  /** The first clicks/stream reply says `incomplete_results: true` (and carries only half its rows). */
  incompleteOnce?: boolean;
}

const DAY = 86_400_000;

/** A small slice of the real list; UTC deliberately at neither of the ids the docs disagree on. */
export const SIM_TIMEZONES = [
  {
    timezone_id: 80,
    timezone_name: '(UTC-05:00) Eastern Time (US & Canada)',
    timezone: 'America/New_York',
    utc_offset: '-05:00',
  },
  {
    timezone_id: 57,
    timezone_name: '(UTC+00:00) Dublin, Edinburgh, Lisbon, London',
    timezone: 'Europe/London',
    utc_offset: '+00:00',
  },
  {
    timezone_id: 36,
    timezone_name: '(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi',
    timezone: 'Asia/Kolkata',
    utc_offset: '+05:30',
  },
  { timezone_id: 113, timezone_name: '(UTC) Coordinated Universal Time', timezone: 'UTC', utc_offset: '+00:00' },
];
const DEFAULT_ZONE = 'America/New_York';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Placeholder for a JSON number written with exact digits (JSON.stringify would go through a double). */
const NUM = '\u0000num:';
function num(decimal: string): string {
  return NUM + decimal;
}
function toJson(value: unknown): string {
  // eslint-disable-next-line no-control-regex
  return JSON.stringify(value).replace(/"\\u0000num:(-?[0-9.]+)"/g, '$1');
}

function wireId(id: string): string | number {
  return /^[1-9]\d{0,14}$/.test(id) ? Number(id) : id;
}

let regionNames: Intl.DisplayNames | null = null;
function countryName(code: string): string {
  regionNames ??= new Intl.DisplayNames(['en'], { type: 'region' });
  try {
    return regionNames.of(code) ?? code;
  } catch {
    return code;
  }
}

function json(status: number, body: unknown): SimResponse {
  return { status, headers: { 'content-type': 'application/json', 'x-ratelimit-limit': '20' }, body: toJson(body) };
}

export function createEverflowSimulator(scenario: Scenario, options: EverflowSimulatorOptions): PlatformSimulator {
  const key = options.platform;
  const now = options.now ?? (() => Date.now());
  const maxPageSize = options.pageSize ?? 2000;
  const clickCap = options.clickCap ?? 10_000;
  let incompletePending = options.incompleteOnce ?? false;

  const affiliates = scenario.affiliates[key] ?? [];
  const offers = scenario.offers[key] ?? [];
  const advertisers = scenario.advertisers[key] ?? [];
  const clicks = scenario.clicks[key] ?? [];
  const conversions = scenario.conversions[key] ?? [];
  const byId = (list: ScenarioEntity[]) => new Map(list.map((e) => [e.id, e]));
  const affiliateById = byId(affiliates);
  const offerById = byId(offers);
  const advertiserById = byId(advertisers);
  const convertedClicks = new Set(conversions.map((c) => c.clickId));

  const affiliateStatus = (e: ScenarioEntity | undefined) => e?.status ?? 'active';
  const offerStatus = (e: ScenarioEntity | undefined) =>
    e?.status === 'inactive' ? 'paused' : (e?.status ?? 'active');

  function relOffer(offerId: string, advertiserId: string) {
    const o = offerById.get(offerId);
    return {
      network_offer_id: wireId(offerId),
      network_id: 1,
      network_advertiser_id: wireId(advertiserId),
      name: o?.name ?? `Offer ${offerId}`,
      offer_status: offerStatus(o),
    };
  }
  function relAffiliate(affiliateId: string) {
    const a = affiliateById.get(affiliateId);
    return {
      network_affiliate_id: wireId(affiliateId),
      name: a?.name ?? `Affiliate ${affiliateId}`,
      account_status: affiliateStatus(a),
    };
  }

  function conversionRecord(c: ScenarioConversion, t: number) {
    const adv = advertiserById.get(c.advertiserId);
    const s = (i: number) => c.subs[i] ?? '';
    return {
      conversion_id: c.conversionId,
      conversion_unix_timestamp: Math.floor(c.convertedAt / 1000),
      sub1: s(0),
      sub2: s(1),
      sub3: s(2),
      sub4: s(3),
      sub5: s(4),
      source_id: '',
      status: statusAt(c, t).status,
      payout_type: 'cpa',
      revenue_type: 'rpa',
      payout: num(c.payout),
      revenue: num(c.revenue),
      session_user_ip: c.ip,
      conversion_user_ip: c.ip,
      country: countryName(c.countryCode),
      region: '',
      city: '',
      dma: 0,
      carrier: '',
      platform: '',
      os_version: '',
      device_type: '',
      device_model: '',
      brand: '',
      browser: '',
      language: '',
      http_user_agent: c.userAgent,
      adv1: '',
      adv2: '',
      adv3: '',
      adv4: '',
      adv5: '',
      is_event: c.eventName !== null,
      event: c.eventName ?? 'Base',
      notes: '',
      transaction_id: c.transactionId,
      click_unix_timestamp: Math.floor(c.clickedAt / 1000),
      error_code: 0,
      error_message: '',
      sale_amount: c.saleAmount === null ? null : num(c.saleAmount),
      is_scrub: false,
      coupon_code: '',
      order_id: c.orderId,
      url: '',
      isp: '',
      referer: '',
      app_id: '',
      idfa: '',
      google_ad_id: '',
      android_id: '',
      currency_id: c.currency,
      email: '',
      is_view_through: false,
      previous_network_offer_id: 0,
      relationship: {
        offer: relOffer(c.offerId, c.advertiserId),
        advertiser: {
          network_advertiser_id: wireId(c.advertiserId),
          name: adv?.name ?? `Advertiser ${c.advertiserId}`,
          account_status: adv?.status ?? 'active',
        },
        affiliate: relAffiliate(c.affiliateId),
        account_manager: null,
      },
    };
  }

  function clickRecord(k: ScenarioClick) {
    const s = (i: number) => k.subs[i] ?? '';
    return {
      transaction_id: k.clickId,
      is_unique: k.isUnique ? 1 : 0,
      unix_timestamp: Math.floor(k.clickedAt / 1000),
      tracking_url: '',
      url: '',
      source_id: '',
      sub1: s(0),
      sub2: s(1),
      sub3: s(2),
      sub4: s(3),
      sub5: s(4),
      referer: '',
      user_ip: k.ip,
      user_agent: k.userAgent,
      payout: num('0'),
      payout_type: 'cpa',
      revenue: num('0'),
      revenue_type: 'rpa',
      currency_id: 'USD',
      error_code: 0,
      error_message: '',
      is_view_through: false,
      is_test_mode: false,
      has_conversion: convertedClicks.has(k.clickId),
      relationship: {
        offer: relOffer(k.offerId, k.advertiserId),
        affiliate: relAffiliate(k.affiliateId),
        geolocation: {
          country_code: k.countryCode,
          country_name: countryName(k.countryCode),
          region_code: '',
          city_name: '',
        },
      },
    };
  }

  function zoneOf(body: Record<string, unknown>): string {
    if (body.timezone_id === undefined || body.timezone_id === null) return DEFAULT_ZONE;
    const tz = SIM_TIMEZONES.find((z) => z.timezone_id === body.timezone_id);
    if (!tz) throw new HttpError(400, `Invalid timezone_id ${JSON.stringify(body.timezone_id)}`);
    return tz.timezone;
  }

  /** [from, to] inclusive, in epoch ms, from the body's local date-times. */
  function range(body: Record<string, unknown>): { from: number; to: number } {
    const zone = zoneOf(body);
    const read = (field: 'from' | 'to'): number => {
      const v = body[field];
      if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$/.test(v))
        throw new HttpError(400, `Invalid ${field}: expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS`);
      const d = parseLocalTime(v, zone);
      if (!d) throw new HttpError(400, `Invalid ${field}`);
      // A date-only `to` covers the whole day.
      return field === 'to' && v.length === 10 ? d.getTime() + DAY - 1000 : d.getTime();
    };
    const from = read('from');
    const to = read('to');
    if (to < from) throw new HttpError(400, '`to` must not be before `from`');
    return { from, to };
  }

  function readBody(req: SimRequest): Record<string, unknown> {
    if (req.body.trim() === '') return {};
    let b: unknown;
    try {
      b = JSON.parse(req.body);
    } catch {
      throw new HttpError(400, 'Request body is not valid JSON');
    }
    if (b === null || typeof b !== 'object' || Array.isArray(b))
      throw new HttpError(400, 'Request body must be a JSON object');
    return b as Record<string, unknown>;
  }

  function paging(req: SimRequest, body: Record<string, unknown>): { page: number; pageSize: number } {
    const bodyPaging = (body.paging ?? {}) as Record<string, unknown>;
    const raw = (name: 'page' | 'page_size', dflt: number) => {
      const q = req.query.get(name);
      const v = q !== null ? Number(q) : bodyPaging[name] !== undefined ? Number(bodyPaging[name]) : dflt;
      if (!Number.isInteger(v) || v < 1) throw new HttpError(400, `Invalid ${name}`);
      return v;
    };
    return { page: raw('page', 1), pageSize: Math.min(raw('page_size', 50), maxPageSize) };
  }

  function page<T>(
    name: string,
    list: T[],
    p: { page: number; pageSize: number },
    render: (x: T) => unknown,
    extra: Record<string, unknown> = {},
  ): SimResponse {
    const items = list.slice((p.page - 1) * p.pageSize, p.page * p.pageSize).map(render);
    return json(200, {
      [name]: items,
      paging: { page: p.page, page_size: p.pageSize, total_count: list.length },
      ...extra,
    });
  }

  function conversionsReport(req: SimRequest): SimResponse {
    const body = readBody(req);
    if (typeof body.show_conversions !== 'boolean' || typeof body.show_events !== 'boolean')
      throw new HttpError(400, 'show_conversions and show_events are required booleans');
    const { from, to } = range(body);
    const t = now();
    if (from < t - 365 * DAY) throw new HttpError(400, 'Only the prior 365 days can be queried');
    if (to - from > 366 * DAY) throw new HttpError(400, 'The maximum range is 1 year');
    const p = paging(req, body);
    const matched = conversions
      .filter((c) => c.convertedAt <= t)
      .filter((c) => (c.eventName === null ? body.show_conversions : body.show_events))
      .filter((c) => {
        const s = Math.floor(c.convertedAt / 1000) * 1000;
        return s >= from && s <= to;
      })
      .sort((a, b) => a.convertedAt - b.convertedAt || (a.conversionId < b.conversionId ? -1 : 1));
    return page('conversions', matched, p, (c) => conversionRecord(c, t));
  }

  /** First index whose clickedAt ≥ ms. */
  function lowerBound(list: readonly { clickedAt: number }[], ms: number): number {
    let a = 0;
    let b = list.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (list[m].clickedAt < ms) a = m + 1;
      else b = m;
    }
    return a;
  }

  function clicksStream(req: SimRequest): SimResponse {
    const body = readBody(req);
    const { from, to } = range(body);
    if (to - from > 14 * DAY) throw new HttpError(400, 'The maximum range is 14 days');
    const t = now();
    // `clicks` is sorted by time (scenario contract): binary-search the window instead of scanning.
    const matched = clicks
      .slice(lowerBound(clicks, from), lowerBound(clicks, to + 1000))
      .filter((k) => k.clickedAt <= t && (k.clickedAt >= t - 90 * DAY || convertedClicks.has(k.clickId)))
      .filter((k) => {
        const s = Math.floor(k.clickedAt / 1000) * 1000;
        return s >= from && s <= to;
      })
      .sort((a, b) => a.clickedAt - b.clickedAt || (a.clickId < b.clickId ? -1 : 1));
    if (incompletePending) {
      incompletePending = false;
      return json(200, {
        clicks: matched
          .slice(0, Math.ceil(Math.min(matched.length, clickCap) / 2))
          .reverse()
          .map(clickRecord),
        incomplete_results: true,
      });
    }
    return json(200, { clicks: matched.slice(0, clickCap).reverse().map(clickRecord) });
  }

  function entityTable(req: SimRequest, kind: 'affiliates' | 'offers' | 'advertisers'): SimResponse {
    const body = readBody(req);
    const p = paging(req, body);
    const list = [...{ affiliates, offers, advertisers }[kind]].sort(
      (a, b) => Number(a.id) - Number(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    // Everflow returns relationships only when asked (`?relationship=users`), in its `{total, entries}` shape.
    const askedUsers = req.query.getAll('relationship').includes('users');
    const users = (e: ScenarioEntity) => {
      const entries = e.email
        ? [{ network_affiliate_user_id: 1, first_name: '', last_name: '', email: e.email, account_status: 'active' }]
        : [];
      return { total: entries.length, entries };
    };
    const created = (e: ScenarioEntity) => Math.floor(e.createdAt / 1000);
    if (kind === 'affiliates') {
      return page('affiliates', list, p, (e) => ({
        network_affiliate_id: wireId(e.id),
        network_id: 1,
        name: e.name,
        account_status: e.status,
        network_employee_id: 1,
        default_currency_id: 'USD',
        time_created: created(e),
        time_saved: created(e),
        referrer_id: 0,
        relationship: askedUsers ? { users: users(e) } : {},
      }));
    }
    if (kind === 'advertisers') {
      return page('advertisers', list, p, (e) => ({
        network_advertiser_id: wireId(e.id),
        network_id: 1,
        name: e.name,
        account_status: e.status,
        default_currency_id: 'USD',
        reporting_timezone_id: 80,
        time_created: created(e),
        time_saved: created(e),
        attribution_method: 'last_touch',
        relationship: askedUsers ? { users: users(e) } : {},
      }));
    }
    return page('offers', list, p, (e) => ({
      network_offer_id: wireId(e.id),
      network_id: 1,
      network_advertiser_id: e.advertiserId ? wireId(e.advertiserId) : 0,
      name: e.name,
      offer_status: offerStatus(e),
      currency_id: 'USD',
      time_created: created(e),
      time_saved: created(e),
    }));
  }

  async function handle(req: SimRequest): Promise<SimResponse> {
    const given = req.headers['x-eflow-api-key'];
    if (given === undefined || given === '') return json(401, { error: 'No Authentication Method Found' });
    if (given !== options.secret) return json(401, { error: 'Invalid API Key' });
    try {
      const route = `${req.method} ${req.path.replace(/\/+$/, '')}`;
      switch (route) {
        case 'GET /v1/meta/timezones':
          return json(200, { timezones: SIM_TIMEZONES });
        case 'POST /v1/networks/reporting/conversions':
          return conversionsReport(req);
        case 'POST /v1/networks/reporting/clicks/stream':
          return clicksStream(req);
        case 'POST /v1/networks/affiliatestable':
          return entityTable(req, 'affiliates');
        case 'POST /v1/networks/offerstable':
          return entityTable(req, 'offers');
        case 'POST /v1/networks/advertiserstable':
          return entityTable(req, 'advertisers');
        default:
          return json(404, { error: `No route for ${route}` });
      }
    } catch (e) {
      if (e instanceof HttpError) return json(e.status, { error: e.message });
      throw e;
    }
  }

  const server = new SimServer(handle);
  return {
    kind: 'everflow',
    server,
    start: () => server.start(),
    stop: () => server.stop(),
  };
}
