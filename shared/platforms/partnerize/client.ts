import type * as z from 'zod';
import { parseJsonBody, requestWithRetry } from '../http.js';
import { PlatformApiError, type FetchContext, type FetchSummary, type RawPage, type Slice } from '../types.js';
import { formatInZone, parseInstant, zoneOffsetMs, HOUR_MS } from '../../util/time.js';
import {
  ANNOTATION_KEY,
  advertiserListSchema,
  campaignListSchema,
  clickReportSchema,
  conversionReportSchema,
  publisherListSchema,
  type PagedEnvelope,
  type PartnerizeAnnotation,
} from './schemas.js';
import { partnerizeTimeToUtc } from './map.js';

/**
 * Fetches one slice from Partnerize with all its pages (docs/platform-apis.md §4):
 *
 * - Auth: HTTP Basic, `base64(application_key:user_api_key)`; the secret is `applicationKey:userApiKey`
 *   (shared/config/load.ts `platformSecret`). A 401/403 becomes a non-retryable error naming the
 *   config's environment variables, never the keys.
 * - Conversions are reported per campaign (`/reporting/report_advertiser/campaign/{id}/conversion.json`),
 *   so a slice first lists the network's campaigns (`GET /campaign?network_id=`), then pulls each
 *   campaign's report. `conversion_changes` is the same report with `date_type=last_modified`.
 *   Clicks likewise (`…/click.json`).
 * - Timezone: we always send `timezone` = the configured zone (default `UTC`, which Partnerize
 *   accepts: it is one of its reporting zones), so the offsetless times in the reply are in a zone
 *   we know; each record is tagged with it (`_dualtrack.timezone`) for map.ts.
 * - Windows: `start_date`/`end_date` are wall-clock text in that zone. Near a DST change a wall-clock
 *   boundary is ambiguous, so there the asked window is widened by 3 h; every record is then kept
 *   only if its own time (conversion_time, last_modified for changes, set_time for clicks) is in the
 *   slice's UTC window [from, to). That also makes the result independent of whether Partnerize
 *   treats `end_date` as inclusive. A record whose time does not parse is kept (map.ts quarantines it
 *   with a reason) rather than dropped.
 * - Paging: ≤300 rows a page (`limit=300`, the documented maximum). The next page comes from
 *   `hypermedia.pagination.next_page` (its `cursor_id` or `offset`); without hypermedia, from the
 *   reply's `cursor_id`, or `offset`+`count`. A cursor that repeats or an offset that does not
 *   advance is an error, not a loop. Offset-paged data is live and rows can shift between pages, so
 *   rows are de-duplicated by id within the slice (a shift can still hide a row until the next
 *   lookback re-read, which is what the lookback window is for).
 * - JSON numbers are kept as their literal text (`parsePartnerizeJson`): money never passes
 *   through a double, and large cursor ids stay exact.
 * - 429: requestWithRetry waits `X-RateLimit-Retry-After` / `X-RateLimit-Reset` (seconds) and pauses
 *   the shared bucket; a body that does not parse is retried like a 5xx.
 */

export interface PartnerizeClientConfig {
  /** The platform's key in config, used in errors and for the rate limiter's bucket. */
  key: string;
  baseUrl: string;
  networkId: string;
  timezone: string;
  apiKeyEnv: string;
  applicationKeyEnv: string;
}

/** The documented maximum page size for cursor paging, and what the v1 examples return. */
export const PAGE_LIMIT = 300;
const MAX_PAGES = 100_000;
/** Widening of the asked window near a DST change (the largest DST shift in use is 2 h). */
const DST_PAD_MS = 3 * HOUR_MS;

// ---- number-preserving JSON --------------------------------------------------------------------

/** `JSON.parse` with numbers as their literal text. A body that does not parse is retryable. */
export const parsePartnerizeJson = (platform: string, endpoint: string, text: string): unknown =>
  parseJsonBody(platform, endpoint, text);

function parseEnvelope<T>(platform: string, endpoint: string, text: string, schema: z.ZodType<T>): T {
  const json = parsePartnerizeJson(platform, endpoint, text);
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue.path.length ? issue.path.map(String).join('.') : 'reply';
  throw new PlatformApiError(platform, endpoint, `unexpected reply: ${where}: ${issue.message}`, {
    retryable: false,
    field: where,
  });
}

// ---- one slice ---------------------------------------------------------------------------------

interface Campaign {
  id: string;
  advertiserId: string | null;
}

interface State {
  pages: number;
  records: number;
  calls: number;
}

type Next = { cursor: string } | { offset: number } | null;

function asNumber(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Where the next page starts, from the reply (see the module comment for the order of rules). */
export function nextPage(env: PagedEnvelope, rows: number, offset: number): Next {
  if (rows === 0) return null;
  const pagination = env.hypermedia?.pagination;
  if (pagination) {
    const next = pagination.next_page;
    if (next === null || next === undefined || next.trim() === '') return null;
    const q = new URL(next, 'http://next.invalid').searchParams;
    const cursor = q.get('cursor_id');
    if (cursor !== null && cursor !== '') return { cursor };
    const off = asNumber(q.get('offset'));
    if (off !== null) return { offset: off };
  }
  const limit = asNumber(env.limit) ?? PAGE_LIMIT;
  const cursor = env.cursor_id;
  if (cursor !== null && cursor !== undefined && String(cursor) !== '' && rows >= limit)
    return { cursor: String(cursor) };
  const count = asNumber(env.count);
  if (count !== null) return offset + rows < count ? { offset: offset + rows } : null;
  return rows >= limit ? { offset: offset + rows } : null;
}

function needsPad(zone: string, at: number): boolean {
  return zoneOffsetMs(zone, at - DST_PAD_MS) !== zoneOffsetMs(zone, at + DST_PAD_MS);
}

const conversionRows = (env: z.infer<typeof conversionReportSchema>): unknown[] =>
  env.conversions.map((x) => unwrap(x, 'conversion_data'));

function unwrap(item: unknown, key: string): unknown {
  if (item !== null && typeof item === 'object' && !Array.isArray(item) && key in item)
    return (item as Record<string, unknown>)[key];
  return item;
}

export async function fetchPartnerizeSlice(
  slice: Slice,
  ctx: FetchContext,
  cfg: PartnerizeClientConfig,
  onPage: (page: RawPage) => Promise<void>,
): Promise<FetchSummary> {
  const state: State = { pages: 0, records: 0, calls: 0 };
  const auth = authorization(cfg, ctx.secret);
  const base = cfg.baseUrl.replace(/\/+$/, '');

  async function get<T extends PagedEnvelope>(
    path: string,
    params: Record<string, string>,
    schema: z.ZodType<T>,
  ): Promise<T> {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    try {
      const reply = await requestWithRetry(
        {
          platform: cfg.key,
          endpoint: path,
          url: url.toString(),
          headers: { authorization: auth, accept: 'application/json' },
        },
        ctx,
        (text) => parseEnvelope(cfg.key, path, text, schema),
      );
      state.calls += reply.attempts;
      return reply.value;
    } catch (e) {
      if (e instanceof PlatformApiError && (e.options.status === 401 || e.options.status === 403)) {
        throw new PlatformApiError(
          cfg.key,
          path,
          `authentication failed (HTTP ${e.options.status}): Partnerize refused the application key / user API key pair; check the values of ${cfg.applicationKeyEnv} and ${cfg.apiKeyEnv} and the user's access to network ${cfg.networkId}`,
          { status: e.options.status, retryable: false },
        );
      }
      throw e;
    }
  }

  /** Pages through one list, handing each page's rows to `handle`. */
  async function pageThrough<T extends PagedEnvelope>(
    path: string,
    params: Record<string, string>,
    schema: z.ZodType<T>,
    rowsOf: (env: T) => unknown[],
    handle: (rows: unknown[]) => Promise<void>,
  ): Promise<void> {
    let offset = 0;
    let cursor: string | null = null;
    const seenCursors = new Set<string>();
    for (let page = 1; ; page++) {
      if (page > MAX_PAGES)
        throw new PlatformApiError(cfg.key, path, `more than ${MAX_PAGES} pages for one slice; use shorter slices`, {
          retryable: false,
        });
      const q: Record<string, string> = { ...params, limit: String(PAGE_LIMIT) };
      if (cursor !== null) q.cursor_id = cursor;
      else if (offset > 0) q.offset = String(offset);
      const env = await get(path, q, schema);
      const rows = rowsOf(env);
      await handle(rows);
      const next = nextPage(env, rows.length, offset);
      if (next === null) return;
      if ('cursor' in next) {
        if (seenCursors.has(next.cursor))
          throw new PlatformApiError(
            cfg.key,
            path,
            `pagination did not advance (cursor_id ${next.cursor} returned twice)`,
            { retryable: true },
          );
        seenCursors.add(next.cursor);
        cursor = next.cursor;
      } else {
        if (next.offset <= offset)
          throw new PlatformApiError(
            cfg.key,
            path,
            `pagination did not advance (offset ${next.offset} after ${offset})`,
            { retryable: true },
          );
        offset = next.offset;
        cursor = null;
      }
    }
  }

  /** Hands one page on; `pages` in the summary counts these (pages left empty by the window filter are not handed on). */
  async function emit(endpoint: string, records: unknown[]): Promise<void> {
    if (records.length === 0) return;
    state.pages++;
    state.records += records.length;
    await onPage({ endpoint, records });
    ctx.onProgress?.({ pages: state.pages, records: state.records, calls: state.calls });
  }

  async function listCampaigns(): Promise<{ path: string; rows: unknown[] }> {
    const path = '/campaign';
    const rows: unknown[] = [];
    await pageThrough(
      path,
      { network_id: cfg.networkId },
      campaignListSchema,
      (env) => env.campaigns.map((c) => unwrap(c, 'campaign')),
      async (r) => {
        rows.push(...r);
      },
    );
    return { path, rows };
  }

  async function campaigns(): Promise<Campaign[]> {
    const { path, rows } = await listCampaigns();
    return rows.map((r, i) => {
      const rec = (r ?? {}) as Record<string, unknown>;
      const id = rec.campaign_id;
      if ((typeof id !== 'string' && typeof id !== 'number') || String(id).trim() === '') {
        throw new PlatformApiError(
          cfg.key,
          path,
          `campaigns[${i}].campaign_id: expected an id, got ${JSON.stringify(id) ?? 'nothing'}`,
          { retryable: false, recordIndex: i, field: 'campaign_id' },
        );
      }
      const adv = rec.advertiser_id;
      return { id: String(id), advertiserId: typeof adv === 'string' || typeof adv === 'number' ? String(adv) : null };
    });
  }

  /** Report streams: every campaign, every page, rows kept when their own time is in [from, to). */
  async function report<T extends PagedEnvelope>(
    kind: 'conversion' | 'click',
    schema: z.ZodType<T>,
    rowsOf: (env: T) => unknown[],
    timeField: (row: Record<string, unknown>) => unknown,
    extraParams: Record<string, string>,
  ): Promise<void> {
    const zone = cfg.timezone;
    const from = instant(slice.from, 'from');
    const to = instant(slice.to, 'to');
    if (to <= from)
      throw new PlatformApiError(cfg.key, 'slice', `empty window: from ${slice.from} is not before to ${slice.to}`, {
        retryable: false,
      });
    const params = {
      start_date: formatInZone(new Date(from - (needsPad(zone, from) ? DST_PAD_MS : 0)), zone),
      end_date: formatInZone(new Date(to + (needsPad(zone, to) ? DST_PAD_MS : 0)), zone),
      timezone: zone,
      ...extraParams,
    };
    const seen = new Set<string>();
    for (const campaign of await campaigns()) {
      const path = `/reporting/report_advertiser/campaign/${encodeURIComponent(campaign.id)}/${kind}.json`;
      const annotation: PartnerizeAnnotation = { timezone: zone, advertiser_id: campaign.advertiserId };
      await pageThrough(path, params, schema, rowsOf, async (rows) => {
        const keep: unknown[] = [];
        for (const row of rows) {
          if (row === null || typeof row !== 'object' || Array.isArray(row)) {
            keep.push(row); // not a record at all: map.ts quarantines it with a reason
            continue;
          }
          const rec = row as Record<string, unknown>;
          const t = timeField(rec);
          const at = typeof t === 'string' ? partnerizeTimeToUtc(t, zone) : null;
          if (at !== null) {
            const ms = Date.parse(at);
            if (ms < from || ms >= to) continue; // belongs to a neighbouring slice
          }
          const id = kind === 'conversion' ? rec.conversion_id : rec.click_id;
          if (typeof id === 'string' || typeof id === 'number') {
            if (seen.has(String(id))) continue; // shifted across an offset page boundary
            seen.add(String(id));
          }
          keep.push({ ...rec, [ANNOTATION_KEY]: annotation });
        }
        await emit(path, keep);
      });
    }
  }

  async function entityList<T extends PagedEnvelope>(
    path: string,
    params: Record<string, string>,
    schema: z.ZodType<T>,
    rowsOf: (env: T) => unknown[],
  ): Promise<void> {
    await pageThrough(path, params, schema, rowsOf, (rows) => emit(path, rows));
  }

  switch (slice.stream) {
    case 'conversions':
      await report('conversion', conversionReportSchema, conversionRows, (r) => r.conversion_time, {});
      break;
    case 'conversion_changes':
      await report('conversion', conversionReportSchema, conversionRows, (r) => r.last_modified, {
        date_type: 'last_modified',
      });
      break;
    case 'clicks':
      await report(
        'click',
        clickReportSchema,
        (env) => env.clicks.map((x) => unwrap(x, 'click')),
        (r) => r.set_time,
        {},
      );
      break;
    case 'offers': {
      const { path, rows } = await listCampaigns();
      for (let i = 0; i < rows.length; i += PAGE_LIMIT) await emit(path, rows.slice(i, i + PAGE_LIMIT));
      break;
    }
    case 'affiliates':
      await entityList(
        `/v2/networks/${encodeURIComponent(cfg.networkId)}/publishers`,
        {},
        publisherListSchema,
        (env) => env.publishers,
      );
      break;
    case 'advertisers':
      await entityList('/user/advertiser', {}, advertiserListSchema, (env) =>
        env.advertisers.map((a) => unwrap(a, 'advertiser')),
      );
      break;
    default:
      throw new PlatformApiError(cfg.key, 'slice', `stream ${String(slice.stream)} is not offered by Partnerize`, {
        retryable: false,
      });
  }
  return { pages: state.pages, records: state.records, calls: state.calls, splits: 0 };

  function instant(s: string, what: string): number {
    try {
      return parseInstant(s, `slice.${what}`).getTime();
    } catch (e) {
      throw new PlatformApiError(cfg.key, 'slice', (e as Error).message, { retryable: false });
    }
  }
}

/** `Basic base64(applicationKey:userApiKey)`; the message on a bad secret never echoes it. */
export function authorization(
  cfg: Pick<PartnerizeClientConfig, 'key' | 'applicationKeyEnv' | 'apiKeyEnv'>,
  secret: string,
): string {
  const colon = secret.indexOf(':');
  if (colon <= 0 || colon === secret.length - 1) {
    throw new PlatformApiError(
      cfg.key,
      'auth',
      `credentials must be "applicationKey:userApiKey" (from ${cfg.applicationKeyEnv} and ${cfg.apiKeyEnv})`,
      { retryable: false },
    );
  }
  return `Basic ${Buffer.from(secret, 'utf8').toString('base64')}`;
}
