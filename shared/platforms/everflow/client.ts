import type * as z from 'zod';
import type { EntityStream } from '../../model/canonical.js';
import { parseJsonBody, requestWithRetry } from '../http.js';
import { PlatformApiError, type FetchContext, type FetchSummary, type RawPage, type Slice } from '../types.js';
import { DAY_MS } from '../../util/time.js';
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
 * - clicks/stream has no paging: ≤10,000 rows and ≤14 days per call (§1.2); a reply with the cap's
 *   number of rows is truncated ("if there are more … they will not be returned"). Each call asks
 *   for the rest of the slice (at most 14 days); a truncated reply holds the window's earliest
 *   clicks, so its rows before its newest second are kept and the next call starts at that second
 *   (the one that may have been cut) — how tap-everflow pages this endpoint (§1.2). Every call but
 *   a slice's last carries the cap, in whatever order the reply lists its rows. A reply that says
 *   `incomplete_results: true` is not used (which rows are missing is not said): the window is
 *   asked again at half the length (`splits` counts these). Cap-many clicks within one second
 *   cannot be paged past and are an error: nothing is dropped silently.
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
        const until = await this.fetchClicks(this.window(slice), ctx, onPage, counters);
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
  ): Promise<number | null> {
    if (w.to <= w.from) return null;
    const endpoint = ENDPOINTS.clicks;
    const timezoneId = await this.utcTimezoneId(ctx);
    // Work in whole seconds (Everflow's resolution).
    const end = ceilSecond(w.to);
    let a = floorSecond(w.from);
    // incomplete_results replies in a row for the window starting at `a`: each halves the next window.
    let halvings = 0;
    while (a < end) {
      // Enough for this invocation: everything before `a` is delivered; the caller hands on the rest.
      if (halvings === 0 && c.pages > 0 && a < w.to && ctx.shouldYield?.()) return Math.max(a, w.from);
      const longest = Math.min(end - a, this.clickWindowMs);
      const b = a + Math.max(1000, ceilSecond(longest / 2 ** halvings));
      const oneSecond = b - a <= 1000;
      const body = JSON.stringify({
        from: everflowDateTime(a),
        to: everflowDateTime(b),
        timezone_id: timezoneId,
        query: { filters: [] },
      });
      const reply = await this.call(ctx, endpoint, 'POST', body, clicksReplySchema, endpoint, (data) => {
        // A window we cannot shorten is asked again as is; requestWithRetry gives up after its attempts.
        if (data.incomplete_results === true && oneSecond)
          throw new PlatformApiError(
            this.platform,
            endpoint,
            'reply says incomplete_results: true for a one-second window; asking again',
            { retryable: true, field: 'incomplete_results' },
          );
      });
      c.calls += reply.attempts;
      const rows = reply.value.clicks;
      if (reply.value.incomplete_results === true) {
        // Which rows are missing is not said: nothing of this reply is kept; a shorter window is asked.
        halvings += 1;
        c.splits += 1;
        ctx.logger.debug('everflow click window asked again shorter (incomplete_results)', {
          platform: this.platform,
          from: everflowDateTime(a),
          to: everflowDateTime(b),
          rows: rows.length,
        });
        continue;
      }
      halvings = 0;
      let next = b;
      if (rows.length >= this.clickCap) {
        // Truncated: the reply holds the window's earliest clicks (whatever order it lists them in).
        // Keep those before its newest second and go on from that second, which may have been cut.
        const newest = newestSecond(rows);
        if (newest === null || newest <= a) {
          throw new PlatformApiError(
            this.platform,
            endpoint,
            `${rows.length} clicks (the ${this.clickCap}-row cap) within the second ${everflowDateTime(a)} UTC: a window cannot be narrower than a second, and the rest would be lost`,
            { retryable: false },
          );
        }
        next = newest;
      }
      const part = { from: Math.max(a, w.from), to: Math.min(next, w.to) };
      const inWindow = rows.filter((r) => keepInWindow(r, 'unix_timestamp', part));
      c.pages += 1;
      c.records += inWindow.length;
      if (inWindow.length > 0) await onPage({ endpoint, records: inWindow });
      ctx.onProgress?.({ pages: c.pages, records: c.records, calls: c.calls });
      a = next;
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

/** A record's epoch-seconds timestamp at `key`, or null when it is missing or not a finite number. */
function epochSeconds(record: unknown, key: string): number | null {
  const t = record !== null && typeof record === 'object' ? (record as Record<string, unknown>)[key] : undefined;
  return typeof t === 'number' && Number.isFinite(t) ? t : null;
}

/** Keeps a row whose timestamp lies in [from, to), and any row whose timestamp is unreadable. */
function keepInWindow(record: unknown, key: string, w: { from: number; to: number }): boolean {
  const t = epochSeconds(record, key);
  return t === null || (t * 1000 >= w.from && t * 1000 < w.to);
}

/** The newest readable `unix_timestamp` of a click reply, in ms (whole seconds), or null. */
function newestSecond(rows: readonly unknown[]): number | null {
  let newest: number | null = null;
  for (const r of rows) {
    const t = epochSeconds(r, 'unix_timestamp');
    if (t !== null && (newest === null || t > newest)) newest = t;
  }
  return newest === null ? null : Math.floor(newest) * 1000;
}
