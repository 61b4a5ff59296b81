import {
  SimServer,
  type PlatformSimulator,
  type SimRequest,
  type SimResponse,
  type SimulatorOptions,
} from './server.js';
import { statusAt, type Scenario, type ScenarioConversion, type ScenarioEntity } from './scenario/types.js';
import { isIanaZone } from '#shared/config/schema.js';
import { formatInZone, parseInstant, parseLocalTime } from '#shared/util/time.js';
import type { EntityStatus } from '#shared/model/canonical.js';

/**
 * A Partnerize API over HTTP, serving `scenario.*[options.platform]` in the documented wire format
 * (docs/platform-apis.md §4; vendor examples in api-evangelist/partnerize):
 *
 * - `GET /campaign[.json]?network_id=` → `{campaigns:[{campaign:{…}}], count}` (not paged, as documented);
 * - `GET /reporting/report_advertiser/campaign/{id}/conversion.json` → `{…, conversions:[{conversion_data:{…}}]}`,
 *   **cursor** paged (`cursor_id` in the reply and in `hypermedia.pagination.next_page`);
 *   `date_type=last_modified` selects by when the status last changed (scenario `changes`);
 * - `GET /reporting/report_advertiser/campaign/{id}/click.json` → `{…, clicks:[{click:{…}}]}`, offset paged;
 * - `GET /v2/networks/{network_id}/publishers` → `{publishers:[…], count, limit, offset, hypermedia}`;
 * - `GET /user/advertiser[.json]` → `{advertisers:[{advertiser:{…}}], count, limit, offset, hypermedia}`.
 *
 * Report windows: `start_date` (required) / `end_date` as wall-clock text in `timezone` (default
 * the simulator's `timezone` option, else UTC) or ISO-8601 with a zone; half-open [start, end).
 * Times in replies are offsetless wall-clock text in the requested zone. Money is written as JSON
 * number literals with the scenario's exact digits. `limit` above 300 is a 400, as the cursor
 * endpoint documents 300 as its maximum.
 *
 * Auth: HTTP Basic `base64(options.secret)`, else 401 with the v3-style error body. Rate limit:
 * with `rateLimitPerMinute`, at most that many requests per window (`rateLimitWindowMs`, default a
 * minute; tests shrink it), then 429 with `X-RateLimit-Limit/Remaining/Reset/Retry-After` (seconds).
 *
 * Scenario → Partnerize: a conversion is one conversion with one item; a scenario status `invalid`
 * (which Partnerize lacks) is shown as `rejected`; a missing sale amount as `value: 0`. Records after
 * `now` are invisible and statuses are as of `now`.
 */

export interface PartnerizeSimulatorOptions extends SimulatorOptions {
  /** Rows per page (≤300); the client's `limit` is capped to it. */
  pageSize?: number;
  /** Requests allowed per rate window before 429s. */
  rateLimitPerMinute?: number;
  /** Length of the rate window in ms (default 60 000). */
  rateLimitWindowMs?: number;
}

const MAX_LIMIT = 300;
/** Cursor ids are opaque large integers; this offset keeps them from looking like row numbers. */
const CURSOR_BASE = 7_000_000_000;

/** A JSON number written with exactly these digits (money must not pass through a double). */
class Num {
  constructor(readonly literal: string) {}
}

function render(v: unknown): string {
  if (v instanceof Num) return v.literal;
  if (Array.isArray(v)) return `[${v.map(render).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}:${render(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): SimResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: render(body) };
}

function error(status: number, message: string): SimResponse {
  return json(status, {
    error: {
      errors: [{ property: '', message, code: String(status), type: status === 401 ? 'unauthorised' : 'error' }],
      message,
      code: String(status),
    },
  });
}

function entityCode(s: EntityStatus): string {
  return s === 'active' ? 'a' : s === 'pending' ? 'p' : 'n';
}

class BadRequest extends Error {}

export function createPartnerizeSimulator(scenario: Scenario, options: PartnerizeSimulatorOptions): PlatformSimulator {
  const key = options.platform;
  const now = () => options.now?.() ?? Date.now();
  const pageSize = Math.min(MAX_LIMIT, Math.max(1, options.pageSize ?? MAX_LIMIT));
  const expectedAuth = `Basic ${Buffer.from(options.secret, 'utf8').toString('base64')}`;
  const windowMs = options.rateLimitWindowMs ?? 60_000;
  let windowStart = 0;
  let windowCount = 0;

  const offers = scenario.offers[key] ?? [];
  const offerById = new Map(offers.map((o) => [o.id, o]));

  function rateHeaders(t: number): Record<string, string> {
    if (options.rateLimitPerMinute === undefined) return {};
    const resetSecs = Math.max(1, Math.ceil((windowStart + windowMs - t) / 1000));
    return {
      'x-ratelimit-limit': String(options.rateLimitPerMinute),
      'x-ratelimit-remaining': String(Math.max(0, options.rateLimitPerMinute - windowCount)),
      'x-ratelimit-reset': String(resetSecs),
    };
  }

  function limitOf(q: URLSearchParams): number {
    const raw = q.get('limit');
    if (raw === null || raw === '') return pageSize;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1)
      throw new BadRequest(`limit must be a positive integer (got ${JSON.stringify(raw)})`);
    if (n > MAX_LIMIT) throw new BadRequest(`limit must be at most ${MAX_LIMIT} (got ${n})`);
    return Math.min(n, pageSize);
  }

  function offsetOf(q: URLSearchParams): number {
    const raw = q.get('offset');
    if (raw === null || raw === '') return 0;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0)
      throw new BadRequest(`offset must be a non-negative integer (got ${JSON.stringify(raw)})`);
    return n;
  }

  function zoneOf(q: URLSearchParams): string {
    const zone = q.get('timezone') || options.timezone || 'UTC';
    if (!isIanaZone(zone)) throw new BadRequest(`unknown timezone ${JSON.stringify(zone)}`);
    return zone;
  }

  function timeParam(q: URLSearchParams, name: string, zone: string): number | null {
    const raw = q.get(name);
    if (raw === null || raw === '') return null;
    if (/[T ]\d{2}:\d{2}.*(Z|[+-]\d{2}:?\d{2})$/.test(raw)) {
      try {
        return parseInstant(raw.replace(' ', 'T'), name).getTime();
      } catch {
        throw new BadRequest(`${name} is not a date-time (got ${JSON.stringify(raw)})`);
      }
    }
    const d = parseLocalTime(raw, zone);
    if (d === null) throw new BadRequest(`${name} is not a date-time (got ${JSON.stringify(raw)})`);
    return d.getTime();
  }

  /** Offset paging with the hypermedia block every v1/v2 list carries. */
  function offsetPage<T>(path: string, q: URLSearchParams, rows: T[]): { page: T[]; fields: Record<string, unknown> } {
    const limit = limitOf(q);
    const offset = offsetOf(q);
    const page = rows.slice(offset, offset + limit);
    const link = (off: number) => {
      const p = new URLSearchParams(q);
      p.set('limit', String(limit));
      p.set('offset', String(off));
      return `${path}?${p.toString()}`;
    };
    const last = Math.max(0, Math.floor((rows.length - 1) / limit) * limit);
    return {
      page,
      fields: {
        limit,
        offset,
        count: rows.length,
        hypermedia: {
          pagination: {
            total_page_count: Math.ceil(rows.length / limit),
            total_item_count: rows.length,
            first_page: link(0),
            last_page: link(last),
            next_page: offset + limit < rows.length ? link(offset + limit) : null,
            previous_page: offset > 0 ? link(Math.max(0, offset - limit)) : null,
          },
        },
      },
    };
  }

  function campaignJson(o: ScenarioEntity) {
    const adv = (scenario.advertisers[key] ?? []).find((a) => a.id === o.advertiserId);
    return {
      campaign: {
        campaign_id: o.id,
        advertiser_id: o.advertiserId ?? null,
        advertiser_name: adv?.name ?? null,
        title: o.name,
        status: entityCode(o.status),
        default_currency: 'USD',
        reporting_timezone: 'UTC',
        multiple_conversions_per_click: 'n',
        conversion_hiatus_period: 0,
        cookie_period: new Num('30'),
        is_cpc: 'n',
        unique_conversion_refs: 'y',
      },
    };
  }

  function conversionJson(c: ScenarioConversion, zone: string) {
    const at = now();
    const { status, changedAt } = statusAt(c, at);
    const shown = status === 'invalid' ? 'rejected' : status;
    const t = (ms: number) => formatInZone(new Date(ms), zone);
    const clickref = c.subs[0] ?? '';
    const value = new Num(c.saleAmount ?? '0');
    return {
      conversion_data: {
        conversion_id: c.conversionId,
        campaign_id: c.offerId,
        publisher_id: c.affiliateId,
        conversion_time: t(c.convertedAt),
        device_id: `d${c.clickId}`,
        creative_type: new Num('0'),
        creative_id: new Num('0'),
        specific_creative_id: new Num('0'),
        currency: c.currency,
        advertiser_reference: '',
        conversion_reference: c.orderId,
        customer_reference: '',
        customer_type: null,
        referer_ip: c.ip,
        source_referer: '',
        last_modified: t(changedAt),
        conversion_type: new Num('1'),
        country: c.countryCode,
        ref_conversion_metric_id: new Num(c.eventName ? '3' : '2'),
        ref_conversion_metric: c.eventName ?? 'Standard',
        ref_device: 'Desktop',
        ref_traffic_source: 'Affiliate',
        campaign_title: offerById.get(c.offerId)?.name ?? '',
        publisher_name: null,
        click: {
          click_id: c.clickId,
          device_id: `d${c.clickId}`,
          campaign_id: c.offerId,
          publisher_id: c.affiliateId,
          type: 'standard',
          status: 'nibbled',
          set_time: t(c.clickedAt),
          set_ip: c.ip,
          advertiser_reference: '',
          referer: '',
          country: c.countryCode,
          clickref,
        },
        conversion_value: {
          conversion_value_id: c.conversionId,
          conversion_status: shown,
          value,
          commission: new Num(c.revenue),
          publisher_commission: new Num(c.payout),
        },
        meta_data: {},
        conversion_items: [
          {
            conversion_item_id: `${c.conversionId}i1`,
            sku: '1',
            category: 'Default',
            item_value: value,
            item_commission: new Num(c.revenue),
            item_publisher_commission: new Num(c.payout),
            item_status: shown,
            invoice_id: null,
            last_update: t(changedAt),
            approved_at: shown === 'approved' ? t(changedAt) : null,
            item_status_id: new Num(shown === 'approved' ? '2' : shown === 'rejected' ? '3' : '1'),
            reject_reason: shown === 'rejected' ? 'Declined by brand' : null,
            voucher_codes: [],
          },
        ],
        was_disputed: false,
        currency_original: '',
        currency_conversion_rate: '',
        conversion_lag: new Num(String(Math.max(0, Math.round((c.convertedAt - c.clickedAt) / 1000)))),
        clickref,
      },
    };
  }

  function reportWindow(q: URLSearchParams, zone: string): [number, number] {
    const start = timeParam(q, 'start_date', zone);
    if (start === null) throw new BadRequest('start_date is required');
    const end = timeParam(q, 'end_date', zone) ?? now();
    return [start, end];
  }

  function envelopeTimes(start: number, end: number, zone: string) {
    return {
      start_date_time_utc: formatInZone(new Date(start), 'UTC'),
      end_date_time_utc: formatInZone(new Date(end), 'UTC'),
      start_date_time: formatInZone(new Date(start), zone),
      end_date_time: formatInZone(new Date(end), zone),
    };
  }

  function conversionReport(path: string, campaignId: string, q: URLSearchParams): SimResponse {
    const zone = zoneOf(q);
    const [start, end] = reportWindow(q, zone);
    const at = now();
    const byChange = q.get('date_type') === 'last_modified';
    const dateType = q.get('date_type');
    if (dateType !== null && dateType !== '' && dateType !== 'last_modified' && dateType !== 'standard')
      throw new BadRequest(`date_type ${JSON.stringify(dateType)} is not supported by this simulator`);
    const rows = (scenario.conversions[key] ?? [])
      .filter((c) => c.offerId === campaignId && c.convertedAt <= at)
      .map((c) => ({ c, when: byChange ? statusAt(c, at).changedAt : c.convertedAt }))
      .filter(({ when }) => when >= start && when < end)
      .sort(
        (a, b) =>
          a.when - b.when || (a.c.conversionId < b.c.conversionId ? -1 : a.c.conversionId > b.c.conversionId ? 1 : 0),
      );
    const limit = limitOf(q);
    const rawCursor = q.get('cursor_id');
    let index = 0;
    if (rawCursor !== null && rawCursor !== '') {
      const n = Number(rawCursor);
      if (!Number.isInteger(n) || n < CURSOR_BASE)
        throw new BadRequest(`cursor_id ${JSON.stringify(rawCursor)} is not a cursor from this report`);
      index = n - CURSOR_BASE;
    }
    const page = rows.slice(index, index + limit);
    const nextIndex = index + page.length;
    const link = (cursor: number | null) => {
      const p = new URLSearchParams(q);
      p.set('limit', String(limit));
      if (cursor === null) p.delete('cursor_id');
      else p.set('cursor_id', String(cursor));
      return `${path}?${p.toString()}`;
    };
    const currencies = new Map<string, number>();
    for (const { c } of page) currencies.set(c.currency, (currencies.get(c.currency) ?? 0) + 1);
    return json(200, {
      total_conversion_count: Object.fromEntries(currencies),
      ...envelopeTimes(start, end, zone),
      limit,
      meta_data: [],
      count: page.length,
      cursor_id: new Num(String(CURSOR_BASE + nextIndex)),
      execution_time: '0.01000 seconds',
      hypermedia: {
        pagination: {
          first_page: link(null),
          next_page: nextIndex < rows.length ? link(CURSOR_BASE + nextIndex) : null,
        },
      },
      conversions: page.map(({ c }) => conversionJson(c, zone)),
    });
  }

  function clickReport(path: string, campaignId: string, q: URLSearchParams): SimResponse {
    const zone = zoneOf(q);
    const [start, end] = reportWindow(q, zone);
    const at = now();
    const rows = (scenario.clicks[key] ?? []).filter(
      (k) => k.offerId === campaignId && k.clickedAt <= at && k.clickedAt >= start && k.clickedAt < end,
    );
    const { page, fields } = offsetPage(path, q, rows);
    const t = (ms: number) => formatInZone(new Date(ms), zone);
    return json(200, {
      unique_click_count: rows.filter((k) => k.isUnique).length,
      ...envelopeTimes(start, end, zone),
      ...fields,
      execution_time: '0.01000 seconds',
      clicks: page.map((k) => ({
        click: {
          click_id: k.clickId,
          device_id: `d${k.clickId}`,
          campaign_id: k.offerId,
          publisher_id: k.affiliateId,
          type: 'standard',
          status: 'nibbled',
          set_time: t(k.clickedAt),
          set_ip: k.ip,
          last_used: t(k.clickedAt),
          last_ip: k.ip,
          advertiser_reference: '',
          referer: '',
          creative_id: new Num('0'),
          creative_type: new Num('0'),
          specific_creative_id: new Num('0'),
          country: k.countryCode,
          ref_device_id: new Num('2'),
          ref_traffic_source_id: new Num('3'),
          ref_partnership_model_id: new Num('2'),
          ref_user_context_id: new Num('2'),
          clickref: k.subs[0] ?? '',
          publisher_name: null,
        },
      })),
    });
  }

  function route(req: SimRequest): SimResponse {
    const path = req.path;
    const q = req.query;
    if (/^\/campaign(\.json)?$/.test(path)) {
      const rows = offers.filter((o) => o.createdAt <= now()).map(campaignJson);
      return json(200, { campaigns: rows, count: rows.length, execution_time: '0.01000 seconds' });
    }
    let m = /^\/reporting\/report_advertiser\/campaign\/([^/]+)\/(conversion|click)\.(json|xml)$/.exec(path);
    if (m) {
      const campaignId = decodeURIComponent(m[1]);
      if (m[3] !== 'json') throw new BadRequest('this simulator serves JSON only');
      if (!offerById.has(campaignId)) return error(404, `campaign not found for id '${campaignId}'`);
      return m[2] === 'conversion' ? conversionReport(path, campaignId, q) : clickReport(path, campaignId, q);
    }
    m = /^\/v2\/networks\/([^/]+)\/publishers$/.exec(path);
    if (m) {
      const rows = (scenario.affiliates[key] ?? [])
        .filter((a) => a.createdAt <= now())
        .map((a) => ({
          id: a.id,
          name: a.name,
          company_name: a.name,
          contact_email: a.email,
          active: a.status === 'active' ? true : a.status === 'inactive' ? false : null,
          account_created: new Date(a.createdAt).toISOString().replace('.000Z', '+00:00'),
          network_id: decodeURIComponent(m![1]),
          locale: 'en',
        }));
      const { page, fields } = offsetPage(path, q, rows);
      return json(200, { ...fields, publishers: page });
    }
    if (/^\/user\/advertiser(\.json)?$/.test(path)) {
      const rows = (scenario.advertisers[key] ?? [])
        .filter((a) => a.createdAt <= now())
        .map((a) => ({
          advertiser: {
            advertiser_id: a.id,
            company_name: a.name,
            contact_email: a.email,
            status: entityCode(a.status),
          },
        }));
      const { page, fields } = offsetPage(path, q, rows);
      return json(200, { ...fields, execution_time: '0.01000 seconds', advertisers: page });
    }
    return error(404, `No route found for "${req.method} ${path}"`);
  }

  const server = new SimServer((req) => {
    if (req.headers.authorization !== expectedAuth) {
      return error(401, "Your 'User application key' and 'User API key' combination is invalid.");
    }
    const t = Date.now(); // the rate window runs on real time: clients sleep in real time
    if (options.rateLimitPerMinute !== undefined) {
      if (t >= windowStart + windowMs) {
        windowStart = t;
        windowCount = 0;
      }
      if (windowCount >= options.rateLimitPerMinute) {
        const h = rateHeaders(t);
        return json(
          429,
          { error: { message: 'Too Many Requests', type: '429' } },
          { ...h, 'x-ratelimit-retry-after': h['x-ratelimit-reset'] },
        );
      }
      windowCount++;
    }
    if (req.method !== 'GET')
      return error(405, `No route found for "${req.method} ${req.path}": Method Not Allowed (Allow: GET)`);
    let out: SimResponse;
    try {
      out = route(req);
    } catch (e) {
      if (!(e instanceof BadRequest)) throw e;
      out = error(400, e.message);
    }
    return { ...out, headers: { ...out.headers, ...rateHeaders(t) } };
  });

  return {
    kind: 'partnerize',
    server,
    start: () => server.start(),
    stop: () => server.stop(),
  };
}
