import type { Stream } from '../../model/canonical.js';
import { requestWithRetry } from '../http.js';
import { PlatformApiError, type FetchContext, type FetchSummary, type RawPage, type Slice } from '../types.js';
import { zoneOffsetMs } from '../../util/time.js';
import { parseCakeReply, CAKE_ANNOTATION } from './schemas.js';
import { parseCakeDate, type CakeDateSemantics } from './map.js';

/**
 * Fetches one slice from CAKE's classic ASMX API (docs/platform-apis.md §2), every page.
 *
 * - `POST <baseUrl>/api/<version>/<service>.asmx/<Method>` with a JSON body and
 *   `Content-Type: application/json`, which makes ASP.NET answer JSON wrapped as `{"d": …}` (what
 *   pycake does). The api_key travels in the body, never in the URL or an error message.
 * - **Every parameter is always sent** (CAKE errors when one is missing, and NULL ids fail with
 *   "Cannot convert to System.Int32"): 0 / '' / 'all' mean "no filter". `CAKE_METHODS` lists each
 *   method's parameters as the reference gives them; `buildParams` refuses to send a call that lacks
 *   one.
 * - Paging: `start_at_row` (1-based, per the affiliate Clicks doc: "usually 1"; pycake sends 0)
 *   and `row_limit`. An instance that counts from 0 shows itself as exactly its first row missing
 *   at the end; the client then asks for row 0 once and starts later runs at 0.
 *   The next page starts after the rows actually received (a server that caps `row_limit` below
 *   what we asked is still read to the end), until `row_count` rows have been read, or, when CAKE
 *   gives no `row_count`, until a page comes back short. Ending with fewer rows than `row_count`
 *   is a (retryable) error, not silent loss: it is also how a 0-based instance would show itself.
 * - Sorting by `event_conversion_id` (a unique key, so pages cannot shuffle rows between them as a
 *   sort on a tied date could); the v15 export script shows it is an accepted sort_field.
 * - Dates are sent as the instance's wall clock (`MM/DD/YYYY HH:MM:SS`, config.timezone) since CAKE
 *   works in instance time; `end_date` is exclusive ("data on end date will not be included").
 *   Across a DST change the wall-clock window that covers [from, to) can be an hour wider than the
 *   slice (autumn: the repeated hour), so the window asked for is widened to cover every instant of
 *   the slice, and records whose mapped time falls outside [from, to) are left to the neighbouring
 *   slice (each record belongs to exactly the slice holding its mapped time; a record whose date
 *   does not parse is kept, for normalize to quarantine with a reason).
 * - `success: false` (bad key, bad parameter) → a non-retryable PlatformApiError naming the method
 *   and CAKE's message; a body that is cut short or malformed → retried by requestWithRetry.
 */

export type CakeParam = string | number | boolean;

export interface CakeMethod {
  service: 'reports' | 'export';
  method: string;
  version: number;
  /** The record list inside `d`. */
  listKey: string;
  /** Every parameter the method takes besides api_key (reference §2.2 / pycake), in its order. */
  params: readonly string[];
  /** The event-time field used to keep a record in its slice (time-windowed streams only). */
  timeField: string | null;
  /** Page size asked for by default. */
  rowLimit: number;
}

/**
 * Page sizes: a JSON EventConversion is ~2–4 KB, so 2,000 rows is a few MB per reply (well under
 * what a Lambda holds and CAKE's "wide reports may time out"); clicks are smaller, entities few.
 */
export const CAKE_METHODS: Record<Stream, CakeMethod> = {
  conversions: {
    service: 'reports',
    method: 'EventConversions',
    version: 18,
    listKey: 'event_conversions',
    params: [
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
    timeField: 'event_conversion_date',
    rowLimit: 2000,
  },
  conversion_changes: {
    service: 'reports',
    method: 'EventConversionChanges',
    version: 18,
    listKey: 'event_conversions',
    params: [
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
    timeField: null,
    rowLimit: 2000,
  },
  clicks: {
    service: 'reports',
    method: 'Clicks',
    version: 12,
    listKey: 'clicks',
    params: [
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
    timeField: 'click_date',
    rowLimit: 5000,
  },
  affiliates: {
    service: 'export',
    method: 'Affiliates',
    version: 5,
    listKey: 'affiliates',
    params: [
      'affiliate_id',
      'affiliate_name',
      'account_manager_id',
      'tag_id',
      'start_at_row',
      'row_limit',
      'sort_field',
      'sort_descending',
    ],
    timeField: null,
    rowLimit: 1000,
  },
  offers: {
    service: 'export',
    method: 'Offers',
    version: 6,
    listKey: 'offers',
    params: [
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
    timeField: null,
    rowLimit: 1000,
  },
  advertisers: {
    service: 'export',
    method: 'Advertisers',
    version: 6,
    listKey: 'advertisers',
    params: [
      'advertiser_id',
      'advertiser_name',
      'account_manager_id',
      'tag_id',
      'start_at_row',
      'row_limit',
      'sort_field',
      'sort_descending',
    ],
    timeField: null,
    rowLimit: 1000,
  },
};

export function endpointLabel(m: CakeMethod): string {
  return `${m.service}.asmx/${m.method}`;
}

/** `MM/DD/YYYY HH:MM:SS` of a wall-clock instant held in UTC fields (the Clicks v12 format). */
function formatWall(wallMs: number): string {
  const d = new Date(wallMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/**
 * The instance wall-clock window [start, end) that covers every instant of [fromMs, toMs): the
 * zone offsets at both ends bound the offsets inside (a slice is far shorter than the months
 * between DST changes), so start uses the smaller and end the larger. Seconds are floored/ceiled.
 */
export function localWindow(fromMs: number, toMs: number, zone: string): { start: string; end: string } {
  const offF = zoneOffsetMs(zone, fromMs);
  const offT = zoneOffsetMs(zone, toMs);
  const start = Math.floor((fromMs + Math.min(offF, offT)) / 1000) * 1000;
  const end = Math.ceil((toMs + Math.max(offF, offT)) / 1000) * 1000;
  return { start: formatWall(start), end: formatWall(end) };
}

/** Every parameter of `stream`'s method with its "no filter" value, for the slice's window. */
export function buildParams(stream: Stream, slice: Slice, zone: string): Record<string, CakeParam> {
  const m = CAKE_METHODS[stream];
  const from = Date.parse(slice.from);
  const to = Date.parse(slice.to);
  const needsWindow = stream === 'conversions' || stream === 'clicks' || stream === 'conversion_changes';
  if (needsWindow && (Number.isNaN(from) || Number.isNaN(to) || to <= from)) {
    throw new PlatformApiError(slice.platform, endpointLabel(m), `bad slice window [${slice.from}, ${slice.to})`, {
      retryable: false,
    });
  }
  const win = needsWindow ? localWindow(from, to, zone) : { start: '', end: '' };
  let p: Record<string, CakeParam>;
  switch (stream) {
    case 'conversions':
      p = {
        start_date: win.start,
        end_date: win.end,
        event_type: 'all',
        event_id: 0,
        source_affiliate_id: 0,
        brand_advertiser_id: 0,
        channel_id: 0,
        site_offer_id: 0,
        site_offer_contract_id: 0,
        source_affiliate_tag_id: 0,
        brand_advertiser_tag_id: 0,
        site_offer_tag_id: 0,
        campaign_id: 0,
        creative_id: 0,
        price_format_id: 0,
        source_type: 'all',
        payment_percentage_filter: 'both',
        disposition_type: 'all',
        disposition_id: 0,
        source_affiliate_billing_status: 'all',
        brand_advertiser_billing_status: 'all',
        test_filter: 'non_tests',
        start_at_row: 1,
        row_limit: m.rowLimit,
        sort_field: 'event_conversion_id',
        sort_descending: false,
      };
      break;
    case 'conversion_changes':
      // New conversions come through the conversions stream; this one is for status/payout updates.
      p = {
        changes_since: win.start,
        include_new_event_conversions: false,
        source_affiliate_id: 0,
        brand_advertiser_id: 0,
        site_offer_id: 0,
        campaign_id: 0,
        creative_id: 0,
        include_tests: false,
        start_at_row: 1,
        row_limit: m.rowLimit,
        sort_field: 'event_conversion_id',
        sort_descending: false,
      };
      break;
    case 'clicks':
      // include_duplicates: every click is loaded, with is_unique from its `duplicate` flag, so click
      // counts compare with platforms that report all clicks.
      p = {
        start_date: win.start,
        end_date: win.end,
        affiliate_id: 0,
        advertiser_id: 0,
        offer_id: 0,
        campaign_id: 0,
        creative_id: 0,
        price_format_id: 0,
        include_duplicates: true,
        include_tests: false,
        start_at_row: 1,
        row_limit: m.rowLimit,
      };
      break;
    case 'affiliates':
      p = {
        affiliate_id: 0,
        affiliate_name: '',
        account_manager_id: 0,
        tag_id: 0,
        start_at_row: 1,
        row_limit: m.rowLimit,
        sort_field: 'affiliate_id',
        sort_descending: false,
      };
      break;
    case 'offers':
      p = {
        offer_id: 0,
        offer_name: '',
        advertiser_id: 0,
        vertical_id: 0,
        offer_type_id: 0,
        media_type_id: 0,
        offer_status_id: 0,
        tag_id: 0,
        start_at_row: 1,
        row_limit: m.rowLimit,
        sort_field: 'offer_id',
        sort_descending: false,
      };
      break;
    case 'advertisers':
      p = {
        advertiser_id: 0,
        advertiser_name: '',
        account_manager_id: 0,
        tag_id: 0,
        start_at_row: 1,
        row_limit: m.rowLimit,
        sort_field: 'advertiser_id',
        sort_descending: false,
      };
      break;
  }
  const missing = m.params.filter((k) => p[k] === undefined || p[k] === null);
  const extra = Object.keys(p).filter((k) => !m.params.includes(k));
  if (missing.length > 0 || extra.length > 0) {
    // A programming error: CAKE would refuse the call, so never send it.
    throw new PlatformApiError(
      slice.platform,
      endpointLabel(m),
      `parameter list out of date: missing ${missing.join(', ') || 'none'}, unknown ${extra.join(', ') || 'none'}`,
      { retryable: false },
    );
  }
  return p;
}

export interface CakeClientOptions {
  /** The platform key in config (rate-limit bucket, error label). */
  platform: string;
  baseUrl: string;
  timezone: string;
  dateSemantics: CakeDateSemantics;
  /** Overrides every method's page size (tests; an instance that times out on big pages). */
  rowLimit?: number;
}

/** Method URLs of instances seen counting start_at_row from 0 (kept for the life of the process). */
const ZERO_BASED = new Set<string>();

/**
 * The instance's currency list (`get.asmx/Currencies`: CAKE's numeric `currency_id` → ISO code),
 * read once per process and instance: conversion money arrives as `{currency_id, amount}` with
 * CAKE's own ids, which only this list turns into a currency.
 */
const currencyLists = new Map<string, Promise<{ codes: Map<string, string>; attempts: number }>>();

export const CURRENCIES_METHOD = { service: 'get', method: 'Currencies', version: 1, listKey: 'currencies' } as const;

async function currencyList(
  ctx: FetchContext,
  o: CakeClientOptions,
): Promise<{ codes: Map<string, string>; calls: number }> {
  const url = `${o.baseUrl.replace(/\/+$/, '')}/api/${CURRENCIES_METHOD.version}/get.asmx/Currencies`;
  let list = currencyLists.get(url);
  const fresh = !list;
  if (!list) {
    const endpoint = 'get.asmx/Currencies';
    list = requestWithRetry(
      {
        platform: o.platform,
        endpoint,
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
        body: JSON.stringify({ api_key: ctx.secret }),
      },
      ctx,
      (text) => parseCakeReply(text, endpoint, CURRENCIES_METHOD.listKey, ctx.secret, o.platform),
    ).then((reply) => {
      const out = new Map<string, string>();
      for (const r of reply.value.records as Record<string, unknown>[]) {
        const id = r?.currency_id;
        const code = typeof r?.currency_abbr === 'string' ? r.currency_abbr.trim().toUpperCase() : '';
        if ((typeof id === 'string' || typeof id === 'number') && /^[A-Z]{3}$/.test(code)) out.set(String(id), code);
      }
      return { codes: out, attempts: reply.attempts };
    });
    currencyLists.set(url, list);
    list.catch(() => currencyLists.delete(url)); // a failed read is asked again next time
  }
  const { codes, attempts } = await list;
  return { codes, calls: fresh ? attempts : 0 };
}

/** Each conversion with the ISO code of its money's `currency_id` from the instance's list (null: not in it). */
function annotateCurrency(records: unknown[], currencies: Map<string, string>): unknown[] {
  return records.map((rec) => {
    if (rec === null || typeof rec !== 'object') return rec;
    const r = rec as Record<string, { currency_id?: unknown } | undefined>;
    const id = r.received?.currency_id ?? r.paid?.currency_id;
    if (id === undefined || id === null || id === '') return rec;
    return { ...rec, [CAKE_ANNOTATION]: { currency_id: String(id), currency: currencies.get(String(id)) ?? null } };
  });
}

export async function fetchCakeSlice(
  slice: Slice,
  ctx: FetchContext,
  onPage: (page: RawPage) => Promise<void>,
  o: CakeClientOptions,
): Promise<FetchSummary> {
  const m = CAKE_METHODS[slice.stream];
  const endpoint = endpointLabel(m);
  const url = `${o.baseUrl.replace(/\/+$/, '')}/api/${m.version}/${m.service}.asmx/${m.method}`;
  const params = buildParams(slice.stream, slice, o.timezone);
  const rowLimit = o.rowLimit ?? m.rowLimit;
  const isConversions = slice.stream === 'conversions' || slice.stream === 'conversion_changes';
  const lookup = isConversions ? await currencyList(ctx, o) : null;
  const currencies = lookup?.codes ?? null;
  const from = Date.parse(slice.from);
  const to = Date.parse(slice.to);
  const inSlice = (rec: unknown): boolean => {
    if (!m.timeField || rec === null || typeof rec !== 'object') return true;
    const v = (rec as Record<string, unknown>)[m.timeField];
    if (typeof v !== 'string') return true;
    try {
      const t = parseCakeDate(v, o.timezone, o.dateSemantics).getTime();
      return t >= from && t < to;
    } catch {
      return true; // normalize quarantines it with a reason
    }
  };

  const summary: FetchSummary = { pages: 0, records: 0, calls: lookup?.calls ?? 0, splits: 0 };
  const firstRow = ZERO_BASED.has(url) ? 0 : 1;
  let startAt = firstRow;
  let fetched = 0;
  let outside = 0;
  let first: string | null = null;
  const deliver = async (records: unknown[]) => {
    const inside = records.filter(inSlice);
    const kept = currencies ? annotateCurrency(inside, currencies) : inside;
    outside += records.length - inside.length;
    if (kept.length > 0) {
      await onPage({ endpoint, records: kept });
      summary.pages += 1;
      summary.records += kept.length;
    }
  };
  const call = async (start: number, limit: number) => {
    const body = JSON.stringify({ api_key: ctx.secret, ...params, start_at_row: start, row_limit: limit });
    const reply = await requestWithRetry(
      {
        platform: o.platform,
        endpoint,
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
        body,
      },
      ctx,
      (text) => parseCakeReply(text, endpoint, m.listKey, ctx.secret, o.platform),
    );
    summary.calls += reply.attempts;
    return reply.value;
  };
  for (;;) {
    const page = await call(startAt, rowLimit);
    const n = page.records.length;
    if (first === null && n > 0) first = JSON.stringify(page.records[0]);
    fetched += n;
    startAt += n;
    await deliver(page.records);
    ctx.onProgress?.({ pages: summary.pages, records: summary.records, calls: summary.calls });
    ctx.logger.debug('cake page', {
      platform: o.platform,
      endpoint,
      startAt: startAt - n,
      rows: n,
      rowCount: page.rowCount,
    });
    if (n === 0) {
      // Exactly the first row missing: this instance counts start_at_row from 0 (the docs say
      // "usually 1", client code uses 0). Ask for row 0 once; a row not seen yet proves it, and
      // later runs start at 0.
      if (firstRow === 1 && page.rowCount !== null && fetched === page.rowCount - 1) {
        const zero = await call(0, 1);
        if (zero.records.length === 1 && JSON.stringify(zero.records[0]) !== first) {
          ZERO_BASED.add(url);
          ctx.logger.info('cake instance counts start_at_row from 0', { platform: o.platform, endpoint });
          fetched += 1;
          await deliver(zero.records);
          break;
        }
      }
      if (page.rowCount !== null && fetched < page.rowCount) {
        throw new PlatformApiError(
          o.platform,
          endpoint,
          `CAKE reported row_count ${page.rowCount} but returned ${fetched} rows (rows changed while paging, or start_at_row is not 1-based on this instance)`,
          { retryable: true },
        );
      }
      break;
    }
    if (page.rowCount !== null) {
      if (fetched >= page.rowCount) break;
    } else if (n < rowLimit) break;
  }
  if (outside > 0)
    ctx.logger.debug('cake rows outside slice left to neighbouring slices', {
      platform: o.platform,
      endpoint,
      outside,
    });
  return summary;
}
