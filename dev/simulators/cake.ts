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
import type { ConversionStatus, EntityStatus } from '#shared/model/canonical.js';
import { zoneOffsetMs } from '#shared/util/time.js';

/**
 * An HTTP simulator of CAKE's classic ASMX API in JSON mode (docs/platform-apis.md §2),
 * serving one platform key of a Scenario:
 * - `POST /api/<v>/<service>.asmx/<Method>` with a JSON body (GET query / form bodies also read),
 *   answered as ASP.NET does: `{"d": {"__type": …, "success": …, "message": …, "row_count": …, <list>: […]}}`;
 *   methods: reports EventConversions v18, EventConversionChanges v18, Clicks v12; export
 *   Affiliates v5, Offers v6, Advertisers v6 (another version → 404, as an absent .asmx would);
 * - **every parameter required**: a missing one → HTTP 500 with ASP.NET's
 *   `{"Message":"Invalid web service call, missing value for parameter: 'x'.", …}`; a JSON null →
 *   500 "Cannot convert null to a value type." (the reference's "Cannot convert to System.Int32");
 * - `api_key` checked: wrong or empty → 200 `{"d": {"success": false, "message": "Invalid API Key"}}`;
 * - dates in and out are the instance's wall clock (`options.timezone`): `start_date`/`end_date`/
 *   `changes_since` are read as wall time (`MM/DD/YYYY HH:MM:SS` or `YYYY-MM-DD HH:MM:SS`),
 *   `end_date` exclusive; record dates go out as `/Date(ms)/` where ms is that wall clock written
 *   as if UTC (`dateSemantics: 'utc-epoch'` writes the true epoch instead), with ASP.NET's `\/`;
 * - paging: `start_at_row` 1-based (0 is read as 1), `row_limit` (0 = all) clamped to
 *   `rowLimitMax`; `row_count` is the total matching rows;
 * - conversions: only those converted ≤ now(), status as of now() (statusAt), disposition
 *   approved/pending/rejected, and the scenario's `invalid` as CAKE's "Returned";
 *   EventConversionChanges: conversions with a status change at or after `changes_since` (≤ now),
 *   plus new ones when `include_new_event_conversions` is true;
 * - ids that are plain integers go out as JSON numbers, money as JSON numbers with the scenario's
 *   exact digits; subs exactly as the scenario gives them (the CAKE s2 ↔ Everflow bridge);
 *   currency as a numeric `currency_id` (CAKE's own ids), as in the documented record shape.
 * Faults (429 storms, 500s, timeouts, truncated or malformed bodies) come from `server.injectFaults`.
 */

export interface CakeSimulatorOptions extends SimulatorOptions {
  /** Largest page the server hands out (bigger or 0 `row_limit` is clamped). Default 100,000 (affiliate Clicks v4 maximum). */
  rowLimitMax?: number;
  /** How `/Date(ms)/` is written (default: instance wall clock). */
  dateSemantics?: 'instance-wall' | 'utc-epoch';
  /** The instance counts `start_at_row` from 0 (what pycake's defaults suggest) instead of 1. */
  zeroBasedRows?: boolean;
}

interface SimMethod {
  service: 'reports' | 'export' | 'get';
  version: number;
  listKey: string;
  params: readonly string[];
}

/** The methods this instance answers, with every parameter each requires (reference §2.2 / pycake). */
export const CAKE_SIM_METHODS: Record<string, SimMethod> = {
  Currencies: { service: 'get', version: 1, listKey: 'currencies', params: ['api_key'] },
  EventConversions: {
    service: 'reports',
    version: 18,
    listKey: 'event_conversions',
    params: [
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
  },
  EventConversionChanges: {
    service: 'reports',
    version: 18,
    listKey: 'event_conversions',
    params: [
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
  },
  Clicks: {
    service: 'reports',
    version: 12,
    listKey: 'clicks',
    params: [
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
  },
  Affiliates: {
    service: 'export',
    version: 5,
    listKey: 'affiliates',
    params: [
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
  },
  Offers: {
    service: 'export',
    version: 6,
    listKey: 'offers',
    params: [
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
  },
  Advertisers: {
    service: 'export',
    version: 6,
    listKey: 'advertisers',
    params: [
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
  },
};

/** This instance's currency ids (what its get.asmx/Currencies would list). */
const CURRENCY_IDS: Record<string, number> = { USD: 1, EUR: 2, GBP: 3, CAD: 4, AUD: 5 };

const NUM = '\u0000num:';
/** A JSON number with exact digits (JSON.stringify would round-trip it through a double). */
function num(decimal: string | number): string {
  return NUM + String(decimal);
}
function toJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/"\\u0000num:(-?[0-9.eE+-]+)"/g, '$1')
    .replace(/"\/Date\((-?\d+(?:[+-]\d{4})?)\)\/"/g, '"\\/Date($1)\\/"');
}
function wireId(id: string): string {
  return /^[1-9]\d{0,14}$/.test(id) ? num(id) : id;
}

function aspNetError(message: string): SimResponse {
  return {
    status: 500,
    headers: { 'content-type': 'application/json; charset=utf-8', jsonerror: 'true' },
    body: JSON.stringify({
      Message: message,
      StackTrace:
        '   at System.Web.Script.Services.WebServiceMethodData.CallMethod(Object target, IDictionary`2 parameters)',
      ExceptionType: 'System.InvalidOperationException',
    }),
  };
}

function reply(
  typeName: string,
  listKey: string,
  d: { success: boolean; message: string; rowCount: number; rows: unknown[] },
): SimResponse {
  const body = {
    d: {
      __type: `CakeMarketing.Api.${typeName}`,
      success: d.success,
      message: d.message,
      row_count: num(d.rowCount),
      [listKey]: d.rows,
    },
  };
  return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: toJson(body) };
}

class CakeFailure extends Error {}

/** Wall-clock text (`MM/DD/YYYY HH:MM[:SS]` or `YYYY-MM-DD[ HH:MM[:SS]]`) → its fields as a UTC-based ms. */
function parseWall(name: string, v: string): number {
  let m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(v.trim());
  if (m) return Date.UTC(+m[3], +m[1] - 1, +m[2], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(v.trim());
  if (m) return Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  throw new CakeFailure(`Invalid ${name}`);
}

function int(name: string, v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw new CakeFailure(`Invalid ${name}`);
  return n;
}

function bool(name: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  throw new CakeFailure(`Invalid ${name}`);
}

const DISPOSITION: Record<ConversionStatus, { id: number; name: string }> = {
  approved: { id: 1, name: 'Approved' },
  pending: { id: 2, name: 'Pending' },
  rejected: { id: 3, name: 'Rejected' },
  invalid: { id: 4, name: 'Returned' },
};
const ACCOUNT_STATUS: Record<EntityStatus, { id: number; name: string }> = {
  active: { id: 1, name: 'Active' },
  inactive: { id: 2, name: 'Inactive' },
  pending: { id: 3, name: 'Pending' },
};
const OFFER_STATUS: Record<EntityStatus, { id: number; name: string }> = {
  active: { id: 1, name: 'Public' },
  inactive: { id: 3, name: 'Inactive' },
  pending: { id: 4, name: 'Pending' },
};

function eventId(name: string): number {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) % 9973;
  return h + 1;
}

export function createCakeSimulator(scenario: Scenario, options: CakeSimulatorOptions): PlatformSimulator {
  const key = options.platform;
  const zone = options.timezone ?? 'UTC';
  const now = options.now ?? (() => Date.now());
  const rowLimitMax = options.rowLimitMax ?? 100_000;
  const semantics = options.dateSemantics ?? 'instance-wall';

  const wall = (utc: number): number => utc + zoneOffsetMs(zone, utc);
  const date = (utc: number): string => `/Date(${semantics === 'utc-epoch' ? utc : wall(utc)})/`;
  const names = (list: ScenarioEntity[] | undefined) => new Map((list ?? []).map((e) => [e.id, e.name]));
  const affiliateNames = names(scenario.affiliates[key]);
  const offerNames = names(scenario.offers[key]);
  const advertiserNames = names(scenario.advertisers[key]);

  function conversionRecord(c: ScenarioConversion, at: number) {
    const { status, changedAt } = statusAt(c, at);
    const disp = DISPOSITION[status];
    // A currency this instance does not list gets an id its Currencies list lacks (as a deleted one would).
    const currencyId = num(CURRENCY_IDS[c.currency] ?? 999);
    return {
      event_conversion_id: wireId(c.conversionId),
      visitor_id: num(0),
      original_visitor_id: num(0),
      user_id: null,
      tracking_id: wireId(c.clickId),
      original_tracking_id: wireId(c.clickId),
      request_session_id: wireId(c.transactionId),
      click_request_session_id: wireId(c.transactionId),
      click_id: wireId(c.clickId),
      event_conversion_date: date(c.convertedAt),
      last_updated: date(changedAt),
      click_date: date(c.clickedAt),
      source_date: date(c.convertedAt),
      udid: null,
      event_info:
        c.eventName === null
          ? { event_id: num(0), event_name: null }
          : { event_id: num(eventId(c.eventName)), event_name: c.eventName },
      source_affiliate: {
        source_affiliate_id: wireId(c.affiliateId),
        source_affiliate_name: affiliateNames.get(c.affiliateId) ?? '',
      },
      brand_advertiser: {
        brand_advertiser_id: wireId(c.advertiserId),
        brand_advertiser_name: advertiserNames.get(c.advertiserId) ?? '',
      },
      site_offer: { site_offer_id: wireId(c.offerId), site_offer_name: offerNames.get(c.offerId) ?? '' },
      site_offer_contract: null,
      channel: null,
      campaign: null,
      creative: null,
      voucher_code: '',
      sub_id_1: c.subs[0],
      sub_id_2: c.subs[1],
      sub_id_3: c.subs[2],
      sub_id_4: c.subs[3],
      sub_id_5: c.subs[4],
      event_conversion_ip_address: c.ip,
      click_ip_address: c.ip,
      event_conversion_referrer_url: '',
      click_referrer_url: '',
      event_conversion_user_agent: c.userAgent,
      click_user_agent: c.userAgent,
      source_type: 'pixel',
      price_format: { price_format_id: num(1), price_format_name: 'CPA' },
      paid: { currency_id: currencyId, amount: num(c.payout) },
      paid_unbilled: { currency_id: currencyId, amount: num(c.payout) },
      received: { currency_id: currencyId, amount: num(c.revenue) },
      received_unbilled: { currency_id: currencyId, amount: num(c.revenue) },
      pixel_dropped: true,
      suppressed: false,
      returned: status === 'invalid',
      test: false,
      transaction_id: c.orderId,
      current_disposition: {
        disposition_id: num(disp.id),
        disposition_name: disp.name,
        disposition_type: { disposition_type_id: num(disp.id), disposition_type_name: disp.name },
      },
      order_total: c.saleAmount === null ? null : num(c.saleAmount),
      event_conversion_score: num(0),
      country: { country_code: c.countryCode, country_name: c.countryCode },
      region: null,
      language: null,
      isp: null,
      device: null,
      operating_system: null,
      browser: null,
      note: '',
    };
  }

  function clickRecord(c: ScenarioClick) {
    const currencyId = num(1);
    return {
      click_id: wireId(c.clickId),
      visitor_id: num(0),
      original_visitor_id: num(0),
      tracking_id: wireId(c.clickId),
      original_tracking_id: wireId(c.clickId),
      request_session_id: wireId(c.clickId),
      udid: null,
      click_date: date(c.clickedAt),
      source_affiliate: {
        source_affiliate_id: wireId(c.affiliateId),
        source_affiliate_name: affiliateNames.get(c.affiliateId) ?? '',
      },
      brand_advertiser: {
        brand_advertiser_id: wireId(c.advertiserId),
        brand_advertiser_name: advertiserNames.get(c.advertiserId) ?? '',
      },
      site_offer: { site_offer_id: wireId(c.offerId), site_offer_name: offerNames.get(c.offerId) ?? '' },
      site_offer_contract: null,
      channel: null,
      campaign: null,
      creative: null,
      sub_id_1: c.subs[0],
      sub_id_2: c.subs[1],
      sub_id_3: c.subs[2],
      sub_id_4: c.subs[3],
      sub_id_5: c.subs[4],
      ip_address: c.ip,
      user_agent: c.userAgent,
      referrer_url: '',
      search_term: '',
      request_url: '',
      redirect_url: '',
      country: { country_code: c.countryCode, country_name: c.countryCode },
      region: null,
      language: null,
      isp: null,
      device: null,
      operating_system: null,
      browser: null,
      disposition: null,
      paid_action: null,
      paid: { currency_id: currencyId, amount: num('0') },
      received: { currency_id: currencyId, amount: num('0') },
      duplicate: !c.isUnique,
      duplicate_clicks: num(0),
      total_clicks: num(1),
    };
  }

  function page<T>(rows: T[], p: Record<string, unknown>): { rows: T[]; rowCount: number } {
    const asked = int('start_at_row', p.start_at_row);
    // 0-based: row 0 is the first; 1-based: 0 is read as 1.
    const index = options.zeroBasedRows ? Math.max(0, asked) : Math.max(1, asked) - 1;
    let limit = int('row_limit', p.row_limit);
    if (limit < 0) throw new CakeFailure('Invalid row_limit');
    if (limit === 0 || limit > rowLimitMax) limit = rowLimitMax;
    return { rows: rows.slice(index, index + limit), rowCount: rows.length };
  }

  const idFilter = (p: Record<string, unknown>, name: string, id: string): boolean => {
    const want = int(name, p[name]);
    return want === 0 || String(want) === id;
  };

  function eventConversions(p: Record<string, unknown>) {
    const start = parseWall('start_date', String(p.start_date));
    const end = parseWall('end_date', String(p.end_date));
    const t = now();
    const eventType = String(p.event_type);
    if (!['all', 'macro_event_conversions', 'micro_events'].includes(eventType))
      throw new CakeFailure('Invalid event_type');
    const rows = (scenario.conversions[key] ?? []).filter(
      (c) =>
        c.convertedAt <= t &&
        c.convertedAt >= start - 15 * 3_600_000 &&
        c.convertedAt < end + 15 * 3_600_000 &&
        wall(c.convertedAt) >= start &&
        wall(c.convertedAt) < end &&
        (eventType === 'all' || (eventType === 'micro_events') === (c.eventName !== null)) &&
        idFilter(p, 'source_affiliate_id', c.affiliateId) &&
        idFilter(p, 'brand_advertiser_id', c.advertiserId) &&
        idFilter(p, 'site_offer_id', c.offerId),
    );
    return sortConversions(rows, p).map((c) => conversionRecord(c, t));
  }

  function sortConversions(rows: ScenarioConversion[], p: Record<string, unknown>): ScenarioConversion[] {
    const desc = bool('sort_descending', p.sort_descending);
    const byId = String(p.sort_field) === 'event_conversion_id';
    const cmpId = (a: string, b: string) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
    const sorted = [...rows].sort((a, b) =>
      byId
        ? cmpId(a.conversionId, b.conversionId)
        : a.convertedAt - b.convertedAt || cmpId(a.conversionId, b.conversionId),
    );
    return desc ? sorted.reverse() : sorted;
  }

  function conversionChanges(p: Record<string, unknown>) {
    const since = parseWall('changes_since', String(p.changes_since));
    const includeNew = bool('include_new_event_conversions', p.include_new_event_conversions);
    const t = now();
    const rows = (scenario.conversions[key] ?? []).filter(
      (c) =>
        c.convertedAt <= t &&
        (c.changes.some((ch) => ch.at <= t && wall(ch.at) >= since) || (includeNew && wall(c.convertedAt) >= since)) &&
        idFilter(p, 'source_affiliate_id', c.affiliateId) &&
        idFilter(p, 'brand_advertiser_id', c.advertiserId) &&
        idFilter(p, 'site_offer_id', c.offerId),
    );
    return sortConversions(rows, p).map((c) => conversionRecord(c, t));
  }

  function clicks(p: Record<string, unknown>) {
    const start = parseWall('start_date', String(p.start_date));
    const end = parseWall('end_date', String(p.end_date));
    const dups = bool('include_duplicates', p.include_duplicates);
    const t = now();
    return (scenario.clicks[key] ?? [])
      .filter(
        (c) =>
          c.clickedAt <= t &&
          // Cheap UTC pre-filter (zone offsets are within ±15 h) before the wall-clock comparison.
          c.clickedAt >= start - 15 * 3_600_000 &&
          c.clickedAt < end + 15 * 3_600_000 &&
          wall(c.clickedAt) >= start &&
          wall(c.clickedAt) < end &&
          (dups || c.isUnique) &&
          idFilter(p, 'affiliate_id', c.affiliateId) &&
          idFilter(p, 'advertiser_id', c.advertiserId) &&
          idFilter(p, 'offer_id', c.offerId),
      )
      .map(clickRecord);
  }

  function entities(list: ScenarioEntity[] | undefined, p: Record<string, unknown>, idParam: string) {
    const t = now();
    const desc = bool('sort_descending', p.sort_descending);
    const rows = (list ?? []).filter((e) => e.createdAt <= t && idFilter(p, idParam, e.id));
    rows.sort((a, b) => a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return desc ? rows.reverse() : rows;
  }

  const contact = (e: ScenarioEntity) =>
    e.email ? [{ contact_id: num(1), contact_name: e.name, email_address: e.email }] : [];

  async function handle(req: SimRequest): Promise<SimResponse> {
    const m = /^\/api\/(\d+)\/(\w+)\.asmx\/(\w+)$/.exec(req.path);
    const method = m ? CAKE_SIM_METHODS[m[3]] : undefined;
    if (!m || !method || method.service !== m[2] || Number(m[1]) !== method.version) {
      return {
        status: 404,
        headers: { 'content-type': 'text/html' },
        body: '<html><body><h2>404 - File or directory not found.</h2></body></html>',
      };
    }
    let p: Record<string, unknown> = Object.fromEntries(req.query);
    const ct = String(req.headers['content-type'] ?? '');
    if (req.body.trim() !== '') {
      if (ct.includes('application/json')) {
        try {
          p = { ...p, ...(JSON.parse(req.body) as Record<string, unknown>) };
        } catch {
          return aspNetError('Invalid JSON primitive.');
        }
      } else p = { ...p, ...Object.fromEntries(new URLSearchParams(req.body)) };
    }
    for (const name of method.params) {
      if (!(name in p)) return aspNetError(`Invalid web service call, missing value for parameter: '${name}'.`);
      if (p[name] === null) return aspNetError('Cannot convert null to a value type.');
    }
    const typeName = `${m[3]}Response`;
    if (p.api_key !== options.secret || options.secret === '') {
      return reply(typeName, method.listKey, { success: false, message: 'Invalid API Key', rowCount: 0, rows: [] });
    }
    try {
      let rows: unknown[];
      switch (m[3]) {
        case 'EventConversions':
          rows = eventConversions(p);
          break;
        case 'EventConversionChanges':
          rows = conversionChanges(p);
          break;
        case 'Clicks':
          rows = clicks(p);
          break;
        case 'Currencies':
          rows = Object.entries(CURRENCY_IDS).map(([abbr, id]) => ({
            currency_id: num(id),
            currency_symbol: abbr === 'USD' ? '$' : abbr,
            currency_name: abbr,
            currency_abbr: abbr,
          }));
          break;
        case 'Affiliates':
          rows = entities(scenario.affiliates[key], p, 'affiliate_id').map((e) => ({
            affiliate_id: wireId(e.id),
            affiliate_name: e.name,
            third_party_name: '',
            account_status: {
              account_status_id: num(ACCOUNT_STATUS[e.status].id),
              account_status_name: ACCOUNT_STATUS[e.status].name,
            },
            contacts: contact(e),
            date_created: date(e.createdAt),
          }));
          break;
        case 'Advertisers':
          rows = entities(scenario.advertisers[key], p, 'advertiser_id').map((e) => ({
            advertiser_id: wireId(e.id),
            advertiser_name: e.name,
            third_party_name: '',
            account_status: {
              account_status_id: num(ACCOUNT_STATUS[e.status].id),
              account_status_name: ACCOUNT_STATUS[e.status].name,
            },
            contacts: contact(e),
            date_created: date(e.createdAt),
          }));
          break;
        default:
          rows = entities(scenario.offers[key], p, 'offer_id').map((e) => ({
            offer_id: wireId(e.id),
            offer_name: e.name,
            third_party_name: '',
            advertiser: e.advertiserId
              ? { advertiser_id: wireId(e.advertiserId), advertiser_name: advertiserNames.get(e.advertiserId) ?? '' }
              : null,
            offer_status: {
              offer_status_id: num(OFFER_STATUS[e.status].id),
              offer_status_name: OFFER_STATUS[e.status].name,
            },
            date_created: date(e.createdAt),
          }));
      }
      // Lookups are not paged.
      const pg = m[3] === 'Currencies' ? { rows, rowCount: rows.length } : page(rows, p);
      return reply(typeName, method.listKey, { success: true, message: '', rowCount: pg.rowCount, rows: pg.rows });
    } catch (e) {
      if (e instanceof CakeFailure)
        return reply(typeName, method.listKey, { success: false, message: e.message, rowCount: 0, rows: [] });
      throw e;
    }
  }

  const server = new SimServer(handle, {
    malformedBody:
      '{"d":{"__type":"CakeMarketing.Api.Response","success":true,"row_count":3,"event_conversions":[{"event_conversion_id":',
  });
  return {
    kind: 'cake',
    server,
    start: () => server.start(),
    stop: () => server.stop(),
  };
}
