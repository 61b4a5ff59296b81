import type * as z from 'zod';
import type { EntityStream } from '../../model/canonical.js';
import { parseJsonBody, requestWithRetry } from '../http.js';
import { PlatformApiError, type FetchContext, type FetchSummary, type RawPage, type Slice } from '../types.js';
import { DAY_MS, HOUR_MS } from '../../util/time.js';
import {
  advertisersReplySchema,
  affiliatesReplySchema,
  clicksReplySchema,
  conversionsReplySchema,
  offersReplySchema,
  timezonesReplySchema,
  type EverflowPaging,
  type EverflowTimezone,
  MONEY_KEYS,
} from './schemas.js';

/**
 * Fetches one slice of one stream from Everflow's Network API (docs/platform-apis.md §1),
 * all pages, through `requestWithRetry` (shared rate limit, 429/5xx/timeout/bad-body retries).
 *
 * Wire decisions, where the docs leave room:
 * - Windows go out as `YYYY-MM-DD HH:MM:SS` in the network's UTC `timezone_id`, looked up once per
 *   client from `/v1/meta/timezones` (the id for UTC differs between doc pages: 67 vs 90, §1.5).
 * - Everflow does not say whether `to` is inclusive at second resolution. We ask for
 *   [from, to] (whole seconds, `to` rounded up) and drop rows whose timestamp is outside the
 *   slice's half-open [from, to): correct under either reading, and a row on the boundary is
 *   loaded by exactly one slice. Rows whose timestamp is unreadable are kept, so normalize
 *   quarantines them with a reason instead of them vanishing.
 * - `page`/`page_size` go in the query string (the raw-conversions doc and tap-everflow); the
 *   table endpoints also get `paging` in the body (the newer quickstart). We page by the reply's
 *   own `paging` (servers clamp page_size) until `page * page_size >= total_count`.
 * - clicks/stream has no paging: ≤10,000 rows and ≤14 days per call (§1.2), and a reply with the
 *   cap's number of rows is truncated ("if there are more … they will not be returned"), as is one
 *   with `incomplete_results: true`. Each call's window is sized to carry close to the cap
 *   (ClickWindowSizer): from the ledger's density hint or a one-hour first call, then from the
 *   clicks already received — the same hours a day or a week earlier, whichever predicted better
 *   lately — else the last reply's rate. A truncated reply is asked again over a shorter window (`splits`
 *   counts these); a one-second window that still reaches the cap cannot be split and is an error:
 *   nothing is dropped silently.
 * - Conversions and events come from one call (`show_conversions` and `show_events` true).
 *   `incomplete_results: true` on a conversions page is retried like a bad body.
 */

export const EVERFLOW_PAGE_SIZE = 2000;
export const EVERFLOW_CLICK_CAP = 10_000;
export const EVERFLOW_CLICK_WINDOW_MS = 14 * DAY_MS;

export const ENDPOINTS = {
  timezones: '/v1/meta/timezones',
  conversions: '/v1/networks/reporting/conversions',
  clicks: '/v1/networks/reporting/clicks/stream',
  // The users relationship carries the partner's and the brand's contact e-mails (what
  // `mappings suggest` matches on); without it the tables return the bare objects.
  affiliates: '/v1/networks/affiliatestable?relationship=users',
  offers: '/v1/networks/offerstable',
  advertisers: '/v1/networks/advertiserstable?relationship=users',
} as const;

export interface EverflowClientOptions {
  /** The platform key in config (rate-limit bucket, error messages). */
  platform: string;
  baseUrl: string;
  /** Requested page size (server may clamp). Default 2,000 (the documented maximum). */
  pageSize?: number;
  /** Rows at which a clicks/stream reply counts as truncated. Default 10,000. */
  clickCap?: number;
  /** Longest window per clicks/stream call. Default 14 days. */
  clickWindowMs?: number;
}

interface Counters {
  pages: number;
  records: number;
  calls: number;
  splits: number;
}

const IANA_UTC = new Set([
  'utc',
  'etc/utc',
  'etc/universal',
  'universal',
  'zulu',
  'etc/zulu',
  'etc/gmt',
  'gmt',
  'etc/gmt+0',
  'etc/gmt-0',
  'etc/gmt0',
]);

/**
 * The UTC entry of `/v1/meta/timezones`: by IANA name first (what tap-everflow matches), else an
 * entry whose display name (`timezone_name` or `label`) says UTC / Coordinated Universal Time with
 * a zero offset (`utc_offset` or `offset`). A zone that
 * is merely at +00:00 today (Europe/London in winter) is never taken: it has DST.
 */
export function findUtcTimezone(zones: readonly EverflowTimezone[]): EverflowTimezone | null {
  const byIana = zones.find((z) => z.timezone && IANA_UTC.has(z.timezone.trim().toLowerCase()));
  if (byIana) return byIana;
  const zeroOffset = (o: EverflowTimezone['utc_offset']) =>
    o === 0 ||
    (typeof o === 'string' && /^(?:[+-]?0{1,2}(?::?0{2})?|UTC|GMT|UTC[+-]?0{1,2}(?::?0{2})?)$/i.test(o.trim()));
  return (
    zones.find(
      (z) =>
        /\b(UTC|Coordinated Universal Time)\b/i.test(`${z.timezone_name ?? ''} ${z.label ?? ''}`) &&
        zeroOffset(z.utc_offset ?? z.offset) &&
        !/\//.test(z.timezone ?? ''),
    ) ?? null
  );
}

/** `YYYY-MM-DD HH:MM:SS` of a UTC instant (Everflow's request date-time format). */
export function everflowDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

export class EverflowClient {
  private readonly platform: string;
  private readonly root: string;
  private readonly pageSize: number;
  private readonly clickCap: number;
  private readonly clickWindowMs: number;
  private utcZone: Promise<number> | null = null;

  constructor(options: EverflowClientOptions) {
    this.platform = options.platform;
    // Accept https://api.eflow.team, …/v1 and the EU form …/v1/networks alike.
    this.root = options.baseUrl.replace(/\/+$/, '').replace(/\/v1(?:\/networks)?$/, '');
    this.pageSize = options.pageSize ?? EVERFLOW_PAGE_SIZE;
    this.clickCap = options.clickCap ?? EVERFLOW_CLICK_CAP;
    this.clickWindowMs = options.clickWindowMs ?? EVERFLOW_CLICK_WINDOW_MS;
  }

  async fetchSlice(slice: Slice, ctx: FetchContext, onPage: (page: RawPage) => Promise<void>): Promise<FetchSummary> {
    const counters: Counters = { pages: 0, records: 0, calls: 0, splits: 0 };
    switch (slice.stream) {
      case 'conversions':
        await this.fetchConversions(this.window(slice), ctx, onPage, counters);
        break;
      case 'clicks': {
        const until = await this.fetchClicks(this.window(slice), ctx, onPage, counters, slice.rowsPerHour);
        if (until !== null) return { ...counters, completeUntil: new Date(until).toISOString() };
        break;
      }
      case 'affiliates':
      case 'offers':
      case 'advertisers':
        await this.fetchEntities(slice.stream, ctx, onPage, counters);
        break;
      case 'conversion_changes':
        throw new PlatformApiError(
          this.platform,
          slice.stream,
          'Everflow has no conversion change feed in the Network reporting API; status changes are caught by re-reading the conversions lookback window',
          { retryable: false },
        );
    }
    return { ...counters };
  }

  /** The UTC `timezone_id`, fetched once per client (a failed lookup is retried on the next call). */
  utcTimezoneId(ctx: FetchContext): Promise<number> {
    if (!this.utcZone) {
      this.utcZone = this.lookUpUtc(ctx);
      this.utcZone.catch(() => (this.utcZone = null));
    }
    return this.utcZone;
  }

  private async lookUpUtc(ctx: FetchContext): Promise<number> {
    const endpoint = ENDPOINTS.timezones;
    const reply = await this.call(ctx, endpoint, 'GET', undefined, timezonesReplySchema);
    const utc = findUtcTimezone(reply.value.timezones);
    if (!utc)
      throw new PlatformApiError(
        this.platform,
        endpoint,
        `no UTC entry among ${reply.value.timezones.length} timezones (looked for timezone "UTC" or a "Coordinated Universal Time" name at offset 0)`,
        { retryable: false, field: 'timezones' },
      );
    ctx.logger.debug('everflow UTC timezone_id resolved', { platform: this.platform, timezoneId: utc.timezone_id });
    return utc.timezone_id;
  }

  private window(slice: Slice): { from: number; to: number } {
    const from = Date.parse(slice.from);
    const to = Date.parse(slice.to);
    if (Number.isNaN(from) || Number.isNaN(to)) {
      throw new PlatformApiError(
        this.platform,
        slice.stream,
        `slice window is not ISO-8601: from ${JSON.stringify(slice.from)}, to ${JSON.stringify(slice.to)}`,
        { retryable: false },
      );
    }
    return { from, to };
  }

  private async fetchConversions(
    w: { from: number; to: number },
    ctx: FetchContext,
    onPage: (page: RawPage) => Promise<void>,
    c: Counters,
  ): Promise<void> {
    if (w.to <= w.from) return;
    const endpoint = ENDPOINTS.conversions;
    const timezoneId = await this.utcTimezoneId(ctx);
    const body = JSON.stringify({
      from: everflowDateTime(floorSecond(w.from)),
      to: everflowDateTime(ceilSecond(w.to)),
      timezone_id: timezoneId,
      show_conversions: true,
      show_events: true,
    });
    await this.paged(
      ctx,
      endpoint,
      body,
      conversionsReplySchema,
      'conversions',
      c,
      async (records) => {
        const inWindow = records.filter((r) => keepInWindow(r, 'conversion_unix_timestamp', w));
        if (inWindow.length > 0) await onPage({ endpoint, records: inWindow });
        return inWindow.length;
      },
      (data) => {
        if (data.incomplete_results === true)
          throw new PlatformApiError(this.platform, endpoint, 'reply says incomplete_results: true; asking again', {
            retryable: true,
            field: 'incomplete_results',
          });
      },
    );
  }

  private async fetchEntities(
    stream: EntityStream,
    ctx: FetchContext,
    onPage: (page: RawPage) => Promise<void>,
    c: Counters,
  ): Promise<void> {
    const endpoint = ENDPOINTS[stream];
    const schema = {
      affiliates: affiliatesReplySchema,
      offers: offersReplySchema,
      advertisers: advertisersReplySchema,
    }[stream] as z.ZodType<Record<string, unknown> & { paging: EverflowPaging }>;
    await this.paged(
      ctx,
      endpoint,
      (page, pageSize) => JSON.stringify({ paging: { page, page_size: pageSize } }),
      schema,
      stream,
      c,
      async (records) => {
        if (records.length > 0) await onPage({ endpoint, records });
        return records.length;
      },
    );
  }

  /** Pages 1, 2, … of a paged POST until the reply's own `paging` says the list is done. */
  private async paged<T extends Record<string, unknown> & { paging: EverflowPaging }>(
    ctx: FetchContext,
    endpoint: string,
    body: string | ((page: number, pageSize: number) => string),
    schema: z.ZodType<T>,
    listKey: string,
    c: Counters,
    deliver: (records: unknown[]) => Promise<number>,
    check?: (data: T) => void,
  ): Promise<void> {
    let expectedPages = Infinity;
    for (let page = 1; ; page++) {
      if (page > expectedPages + 1) {
        throw new PlatformApiError(
          this.platform,
          endpoint,
          `paging did not end: page ${page} requested with total_count suggesting ${expectedPages} pages`,
          { retryable: false, field: 'paging' },
        );
      }
      const url = `${endpoint}${endpoint.includes('?') ? '&' : '?'}page=${page}&page_size=${this.pageSize}`;
      const text = typeof body === 'function' ? body(page, this.pageSize) : body;
      const reply = await this.call(ctx, endpoint, 'POST', text, schema, url, check);
      const records = reply.value[listKey] as unknown[];
      const { page_size: size, total_count: total } = reply.value.paging;
      expectedPages = Math.max(1, Math.ceil(total / size));
      c.calls += reply.attempts;
      c.pages += 1;
      c.records += await deliver(records);
      ctx.onProgress?.({ pages: c.pages, records: c.records, calls: c.calls });
      if (page * size >= total) return;
      if (records.length === 0) {
        // The list shrank while we paged (total_count said more): nothing more to read, but say so.
        ctx.logger.warn('everflow paging ended early', {
          platform: this.platform,
          endpoint,
          page,
          pageSize: size,
          totalCount: total,
        });
        return;
      }
    }
  }

  private async fetchClicks(
    w: { from: number; to: number },
    ctx: FetchContext,
    onPage: (page: RawPage) => Promise<void>,
    c: Counters,
    rowsPerHour: number | undefined,
  ): Promise<number | null> {
    if (w.to <= w.from) return null;
    const endpoint = ENDPOINTS.clicks;
    const timezoneId = await this.utcTimezoneId(ctx);
    // Work in whole seconds (Everflow's resolution).
    const end = ceilSecond(w.to);
    const sizer = new ClickWindowSizer(this.clickCap, this.clickWindowMs, rowsPerHour);
    let a = floorSecond(w.from);
    let shorter: number | null = null;
    while (a < end) {
      // Enough for this invocation: everything before `a` is delivered; the caller hands on the rest.
      if (shorter === null && c.pages > 0 && a < w.to && ctx.shouldYield?.()) return Math.max(a, w.from);
      const b = Math.min(end, a + (shorter ?? sizer.next(a)));
      shorter = null;
      const splittable = b - a >= 2000;
      const body = JSON.stringify({
        from: everflowDateTime(a),
        to: everflowDateTime(b),
        timezone_id: timezoneId,
        query: { filters: [] },
      });
      const reply = await this.call(ctx, endpoint, 'POST', body, clicksReplySchema, endpoint, (data) => {
        // A window we cannot shorten is asked again as is; requestWithRetry gives up after its attempts.
        if (data.incomplete_results === true && !splittable)
          throw new PlatformApiError(
            this.platform,
            endpoint,
            'reply says incomplete_results: true for a one-second window; asking again',
            { retryable: true, field: 'incomplete_results' },
          );
      });
      c.calls += reply.attempts;
      const rows = reply.value.clicks;
      const truncated = rows.length >= this.clickCap;
      if (truncated || reply.value.incomplete_results === true) {
        if (!splittable) {
          throw new PlatformApiError(
            this.platform,
            endpoint,
            `${rows.length} clicks (the ${this.clickCap}-row cap) between ${everflowDateTime(a)} and ${everflowDateTime(b)} UTC: the window cannot be split further, and the rest would be lost`,
            { retryable: false },
          );
        }
        // The reply is not the whole window: ask a shorter one from the same start.
        shorter = sizer.truncated(a, b);
        c.splits += 1;
        ctx.logger.debug('everflow click window split', {
          platform: this.platform,
          from: everflowDateTime(a),
          to: everflowDateTime(b),
          rows: rows.length,
          reason: truncated ? 'cap' : 'incomplete_results',
        });
        continue;
      }
      sizer.observe(a, b, rows);
      const part = { from: Math.max(a, w.from), to: Math.min(b, w.to) };
      const inWindow = rows.filter((r) => keepInWindow(r, 'unix_timestamp', part));
      c.pages += 1;
      c.records += inWindow.length;
      if (inWindow.length > 0) await onPage({ endpoint, records: inWindow });
      ctx.onProgress?.({ pages: c.pages, records: c.records, calls: c.calls });
      a = b;
    }
    return null;
  }

  /**
   * One call through requestWithRetry: auth header, lossless JSON parse, envelope schema. Bodies
   * that do not parse are retried (cut short in transit); a reply that parses but fails its
   * schema is not (the API answered something else), and names the failing field path.
   */
  private async call<T>(
    ctx: FetchContext,
    endpoint: string,
    method: 'GET' | 'POST',
    body: string | undefined,
    schema: z.ZodType<T>,
    pathAndQuery: string = endpoint,
    check?: (data: T) => void,
  ) {
    const platform = this.platform;
    const headers: Record<string, string> = { 'X-Eflow-API-Key': ctx.secret, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await requestWithRetry(
        { platform, endpoint, url: this.root + pathAndQuery, method, headers, body },
        ctx,
        (text) => {
          const json = parseJsonBody(platform, endpoint, text, MONEY_KEYS);
          const r = schema.safeParse(json);
          if (!r.success) {
            const issue = r.error.issues[0];
            const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(reply)';
            const apiError =
              json !== null && typeof json === 'object' && typeof (json as { error?: unknown }).error === 'string'
                ? ` (the reply says: ${(json as { error: string }).error.slice(0, 200)})`
                : '';
            throw new PlatformApiError(
              platform,
              endpoint,
              `reply does not match the expected shape at ${field}: ${issue.message}${apiError}`,
              { retryable: false, field },
            );
          }
          check?.(r.data);
          return r.data;
        },
      );
    } catch (e) {
      throw this.explain(e, ctx.secret);
    }
  }

  /** Auth failures get an actionable message; the key itself never appears in any error. */
  private explain(e: unknown, secret: string): unknown {
    if (!(e instanceof PlatformApiError)) return e;
    const scrub = (s: string) => (secret.length >= 4 ? s.split(secret).join('[redacted]') : s);
    const status = e.options.status;
    const bare = e.message.replace(`${e.platform} ${e.endpoint}: `, '');
    let message = scrub(bare);
    if (status === 401)
      message = `authentication failed (HTTP 401): the network API key was missing or not accepted; check the key behind platforms.${this.platform}.apiKeyEnv. ${message}`;
    if (status === 403)
      message = `forbidden (HTTP 403): the key is not a network API key (an affiliate or advertiser key?) or lacks this permission. ${message}`;
    if (message === bare) return e;
    return new PlatformApiError(e.platform, e.endpoint, message, { ...e.options, cause: e.options.cause });
  }
}

function floorSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}
function ceilSecond(ms: number): number {
  return Math.ceil(ms / 1000) * 1000;
}

/** Keeps a row whose timestamp lies in [from, to), and any row whose timestamp is unreadable. */
function keepInWindow(record: unknown, key: string, w: { from: number; to: number }): boolean {
  const t = record !== null && typeof record === 'object' ? (record as Record<string, unknown>)[key] : undefined;
  if (typeof t !== 'number' || !Number.isFinite(t)) return true;
  const ms = t * 1000;
  return ms >= w.from && ms < w.to;
}

/** Each clicks/stream call aims at this share of the row cap until the predictions' error is known. */
const FIRST_FILL = 0.9;
/** The margin under the cap is twice the recent predictions' RMS error, within these bounds. */
const MIN_MARGIN = 0.03;
const MAX_MARGIN = 0.3;
const BUCKET_MS = 5 * 60_000;
const FIRST_PROBE_MS = 3_600_000;

/**
 * Sizes clicks/stream windows so each call carries close to (never over) the row cap: a call that
 * comes back truncated is wasted, one that comes back a tenth full costs as much as a full one.
 * It keeps a histogram of the clicks received so far (5-minute buckets: 4,032 numbers for 14 days)
 * and predicts each 5 minutes of a window from the same 5 minutes one day earlier, or one week
 * earlier (weekdays differ), whichever has predicted the recent replies better (a ramp favours the
 * day, a weekly pattern the week), scaled by how the latest reply compared with that prediction. The
 * margin under the cap is twice the chosen predictor's recent error. With less than a day of history
 * it uses the latest reply's rate over its last hour; with none, the ledger's density hint, or one
 * hour (widening fourfold while the replies are empty).
 */
export class ClickWindowSizer {
  private readonly buckets = new Map<number, number>();
  private historyFrom: number | null = null;
  private historyTo: number | null = null;
  private rate: number | null;
  /** Per predictor (the same 5 minutes a day, or a week, earlier): its scale and its last relative errors. */
  private readonly predictors = [DAY_MS, 7 * DAY_MS].map((period) => ({ period, scale: 1, errors: [] as number[] }));
  private truncatedAt: number | null = null;
  private lastWindow: number | null = null;

  constructor(
    private readonly cap: number,
    private readonly maxWindowMs: number,
    rowsPerHour?: number,
  ) {
    this.rate = rowsPerHour && rowsPerHour > 0 ? rowsPerHour / HOUR_MS : null;
  }

  /** Rows a call from `a` aims at: under the cap by twice the chosen predictor's recent RMS error (3–30 %). */
  target(a?: number): number {
    const p = a === undefined ? null : this.best(a);
    if (!p || p.errors.length < 3) return Math.floor(this.cap * FIRST_FILL);
    return Math.floor(this.cap * (1 - Math.min(MAX_MARGIN, Math.max(MIN_MARGIN, 2 * rms(p.errors)))));
  }

  /** The length of the next window starting at `a` (whole seconds, ≥ 1 s, ≤ the API's window). */
  next(a: number): number {
    const p = this.best(a);
    let w: number;
    if (p) w = this.fromHistory(a, p);
    else if (this.rate !== null && this.rate > 0) w = this.target() / this.rate;
    else if (this.rate === 0)
      w = 4 * (this.lastWindow ?? FIRST_PROBE_MS); // nothing yet: widen, do not leap
    else w = FIRST_PROBE_MS;
    return this.seconds(w);
  }

  /** A complete reply for [a, b): its clicks feed the histogram, the rate, and each predictor's scale and error. */
  observe(a: number, b: number, rows: readonly unknown[]): void {
    this.score(a, b, rows.length, false);
    for (const r of rows) {
      const t = (r as { unix_timestamp?: unknown } | null)?.unix_timestamp;
      if (typeof t !== 'number' || !Number.isFinite(t)) continue;
      const k = Math.floor((t * 1000) / BUCKET_MS);
      this.buckets.set(k, (this.buckets.get(k) ?? 0) + 1);
    }
    if (this.historyTo !== a) this.historyFrom = a;
    this.historyTo = b;
    this.rate = this.recentRate(a, b, rows.length);
    this.lastWindow = b - a;
    this.truncatedAt = null;
  }

  /**
   * A truncated reply for [a, b): the rate was at least cap / (b - a) and the predictions too low.
   * Returns the window to ask instead: 15 % shorter (an overshoot is usually small), halved when the
   * same start comes back truncated again.
   */
  truncated(a: number, b: number): number {
    this.rate = Math.max(this.rate ?? 0, this.cap / (b - a));
    this.score(a, b, this.cap, true);
    const again = this.truncatedAt === a;
    this.truncatedAt = a;
    return this.seconds((b - a) * (again ? 0.5 : 0.85));
  }

  /** Each predictor that could have predicted [a, b) records its error and rescales (`atLeast`: a truncated reply). */
  private score(a: number, b: number, actual: number, atLeast: boolean): void {
    for (const p of this.predictors) {
      if (!this.covers(a, p.period)) continue;
      const expected = this.expected(a, b, p.period);
      if (expected <= 0) continue;
      p.errors.push(clampError(actual / (expected * p.scale) - 1));
      if (p.errors.length > 8) p.errors.shift();
      const scale = Math.min(4, Math.max(0.25, actual / expected));
      p.scale = atLeast ? Math.max(p.scale, scale) : scale;
    }
  }

  /** The predictor to use from `a`: of those with the history, the one with the smaller recent error (the daily one until both have a record). */
  private best(a: number): (typeof this.predictors)[number] | null {
    const usable = this.predictors.filter((p) => this.covers(a, p.period));
    if (usable.length === 0) return null;
    if (usable.some((p) => p.errors.length < 3)) return usable[0];
    return usable.reduce((x, y) => (rms(y.errors) < rms(x.errors) ? y : x));
  }

  /** Clicks per ms over the window's last hour (traffic on the rise or fall), or the whole window's when shorter. */
  private recentRate(a: number, b: number, rows: number): number {
    const from = Math.ceil((b - HOUR_MS) / BUCKET_MS);
    const to = Math.floor(b / BUCKET_MS);
    if (b - a < 2 * HOUR_MS || to <= from) return rows / (b - a);
    let sum = 0;
    for (let k = from; k < to; k++) sum += this.buckets.get(k) ?? 0;
    return sum / ((to - from) * BUCKET_MS);
  }

  private seconds(w: number): number {
    return Math.max(1000, Math.min(this.maxWindowMs, Math.floor(w / 1000) * 1000));
  }

  /** The history runs without a break from at least one `period` before `a` up to `a`. */
  private covers(a: number, period: number): boolean {
    return this.historyTo === a && this.historyFrom !== null && a - this.historyFrom >= period;
  }

  /** The clicks of the 5-minute bucket `k` of a window starting in bucket `first`, as the same bucket `period` (whole periods) earlier had them. */
  private prior(first: number, k: number, period: number): number {
    const per = period / BUCKET_MS;
    return this.buckets.get(k - (Math.floor((k - first) / per) + 1) * per) ?? 0;
  }

  private expected(a: number, b: number, period: number): number {
    const first = Math.floor(a / BUCKET_MS);
    let sum = 0;
    for (let k = first; k * BUCKET_MS < b; k++) sum += this.prior(first, k, period);
    return sum;
  }

  /** The longest window from `a` whose predicted clicks stay under the target. */
  private fromHistory(a: number, p: (typeof this.predictors)[number]): number {
    const first = Math.floor(a / BUCKET_MS);
    const goal = this.target(a);
    const target = goal / p.scale;
    let count = 0;
    let k = first;
    for (; (k - first) * BUCKET_MS < this.maxWindowMs; k++) {
      const add = this.prior(first, k, p.period);
      if (count + add > target) break;
      count += add;
    }
    if (k === first) return this.rate && this.rate > 0 ? goal / this.rate : 1000;
    // History from a quieter time (traffic that only started) must not stretch the window beyond
    // half again what the last day's average rate allows.
    const lastDay = this.expectedFromLastDay(a);
    const w = k * BUCKET_MS - a;
    return lastDay > 0 ? Math.min(w, (1.5 * goal) / (lastDay / DAY_MS)) : w;
  }

  private expectedFromLastDay(a: number): number {
    let sum = 0;
    for (let k = Math.floor((a - DAY_MS) / BUCKET_MS); k * BUCKET_MS < a; k++) sum += this.buckets.get(k) ?? 0;
    return sum;
  }
}

function rms(errors: readonly number[]): number {
  return Math.sqrt(errors.reduce((x, e) => x + e * e, 0) / errors.length);
}

/** One prediction's relative error, bounded so a prediction from empty history does not set the margin for long. */
function clampError(e: number): number {
  return Math.max(-0.5, Math.min(0.5, e));
}
