import { Readable } from 'node:stream';
import { parse as parseCsvStream } from 'csv-parse';
import { parse as parseCsv } from 'csv-parse/sync';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DEFAULT_RETRY, requestWithRetry } from '../http.js';
import { PlatformApiError, type FetchContext, type FetchSummary, type RawPage, type Slice } from '../types.js';
import type { RateLimitSpec } from '../rate-limit.js';
import { formatInZone, parseInstant, DAY_MS } from '../../util/time.js';
import { parseHitpathTime } from './map.js';
import {
  OPTIONAL_COLUMNS,
  REQUIRED_COLUMNS,
  TIME_COLUMN,
  findHeader,
  type HitpathColumn,
  type HitpathColumnMap,
  type HitpathConfig,
  type HitpathRawRecord,
  type HitpathReportType,
} from './schemas.js';

/**
 * HitPath Reporting API client (docs/platform-apis.md §3.3): one GET on the network's own
 * URL (`config.baseUrl`, from System > API > Reporting API) with
 * `key, type=clicks|sales, start, end, format=csv|xml`. No paging: one call returns the whole
 * window, so one slice = one call per stream.
 *
 * - start/end are *dates* in the instance's zone, end inclusive, start ≤ 45 days before today,
 *   end ≤ today. A slice's UTC window [from, to) is widened to the local dates covering it, and the
 *   rows outside [from, to) are dropped after converting their time (map.ts), so adjacent slices
 *   load every row exactly once even though each call returns whole local days.
 * - `type=sales` is assumed to select rows by sale date (the date range of a sales report is not
 *   documented); the simulator does the same.
 * - The key is a query parameter: every error and log line uses the endpoint label (path only),
 *   and any text HitPath sends back is scrubbed of the key before it reaches a message.
 * - Throttling: "up to twice every 5 minutes"; the throttle reply is not documented (§3.3). We
 *   treat as throttled an HTTP 429, or any error text (200 or 4xx) that says so ("twice every 5
 *   minutes", "rate limit", "too many requests", "try again later"…): the shared bucket is paused
 *   and the call retried — a retryable rate-limit error if the retries run out.
 *
 * XML shape expected (what the simulator emits; the root and row element names are not fixed):
 *
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <report type="sales" start="2026-10-01" end="2026-10-02">
 *     <row><hitid>9001</hitid><date>2026-10-01 13:02:11</date>…<event/></row>
 *     …
 *   </report>
 *
 * i.e. one root element holding repeated flat row elements, one child element per column named by
 * the column's header (so XML deployments must use header names that are valid element names).
 * Attributes are ignored; entities and CDATA are decoded; an empty root means no rows.
 */

/** 2 calls per 5 minutes (§3.3), as a burst-free bucket: one call per 155 s. A bucket of 2 per 300 s
 *  would allow a burst of 2 plus a refill token 150 s later — three calls in 5 minutes, which the
 *  API refuses. 155 s (not 150) leaves 10 s per 5 minutes for clock skew and latency jitter. */
export const HITPATH_RATE_LIMIT: RateLimitSpec = { requests: 1, perSeconds: 155 };
export const HITPATH_HORIZON_DAYS = 45;
const THROTTLE_WINDOW_MS = 300_000;
/** Records per RawPage: keeps queue messages small even though the API returns a window in one reply. */
export const PAGE_RECORDS = 2000;

export interface HitpathReport {
  headers: string[];
  rows: HitpathRawRecord[];
}

export interface HitpathClientContext {
  /** Platform key (rate-limit bucket and error prefix). */
  platform: string;
  config: HitpathConfig;
  columns: HitpathColumnMap;
}

const THROTTLE_TEXT =
  /twice every 5 minutes|rate.?limit|limit exceeded|too many (requests|calls)|throttl|try again later/i;
const AUTH_TEXT = /\bkey\b|unauthori[sz]ed|forbidden|denied|not registered|domain/i;
const ERROR_LINE = /^\s*(error|err|fatal|warning)\b|^\s*(<\?xml[^>]*\?>\s*)?<error\b/i;

class HitpathThrottledError extends Error {}

function scrub(text: string, secret: string): string {
  if (!secret) return text;
  let out = text.split(secret).join('[key]');
  const enc = encodeURIComponent(secret);
  if (enc !== secret) out = out.split(enc).join('[key]');
  return out;
}

function oneLine(text: string, max = 200): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}

/** YYYY-MM-DD ± days. */
function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The local dates (instance zone, end inclusive) whose rows cover the UTC window [from, to), with
 * `end` clamped to today (the API refuses a future end). Null when the window holds no past day.
 */
export function localDatesFor(
  from: Date,
  to: Date,
  zone: string,
  now: Date,
): { start: string; end: string; today: string } | null {
  const today = formatInZone(now, zone).slice(0, 10);
  if (to.getTime() <= from.getTime()) return null;
  const start = formatInZone(from, zone).slice(0, 10);
  let end = formatInZone(new Date(to.getTime() - 1), zone).slice(0, 10);
  if (end > today) end = today;
  if (start > end) return null;
  return { start, end, today };
}

/** Refuses (before any call) a start the API would refuse: more than 45 days before today in the instance zone. */
export function checkHorizon(platform: string, endpoint: string, start: string, today: string, zone: string): void {
  const earliest = addDays(today, -HITPATH_HORIZON_DAYS);
  if (start < earliest) {
    const days = Math.round((Date.parse(`${today}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / DAY_MS);
    throw new PlatformApiError(
      platform,
      endpoint,
      `start ${start} is ${days} days before today (${today} in ${zone}); HitPath's Reporting API serves at most ${HITPATH_HORIZON_DAYS} days back, so the earliest start is ${earliest}. Older data cannot be fetched from this API.`,
      { retryable: false, field: 'start' },
    );
  }
}

/** Throws a classified error when a body is an error message rather than a report; otherwise returns. */
function checkErrorBody(platform: string, endpoint: string, text: string, secret: string, apiKeyEnv: string): void {
  const body = text.trim();
  const looksLikeError =
    ERROR_LINE.test(body) ||
    (!body.includes('\n') &&
      body.length < 300 &&
      !body.includes(',') &&
      !body.startsWith('<') &&
      /\b(invalid|denied|limit|not allowed|failed|unauthori[sz]ed)\b/i.test(body));
  if (!looksLikeError) return;
  const msg = scrub(oneLine(body.replace(/<[^>]+>/g, ' ')), secret);
  if (THROTTLE_TEXT.test(body)) throw new HitpathThrottledError(msg);
  if (AUTH_TEXT.test(msg)) {
    throw new PlatformApiError(
      platform,
      endpoint,
      `HitPath refused the API key ("${msg}"): check the key in ${apiKeyEnv} and that it was issued for this domain`,
      { retryable: false },
    );
  }
  throw new PlatformApiError(platform, endpoint, `HitPath replied with an error: "${msg}"`, { retryable: false });
}

/**
 * Parses a CSV report held whole (quoted fields may hold commas, quotes and newlines); the connector
 * itself streams replies (streamReport), this reads a saved one. A body that does not parse is retryable.
 */
export function parseCsvReport(platform: string, endpoint: string, text: string): HitpathReport {
  if (text.trim() === '') return { headers: [], rows: [] };
  let headers: string[] = [];
  try {
    const rows = parseCsv(text, {
      bom: true,
      skip_empty_lines: true,
      columns: (h: string[]) => {
        headers = h.map((x) => String(x));
        return headers;
      },
    }) as Record<string, string>[];
    return { headers, rows };
  } catch (e) {
    throw new PlatformApiError(
      platform,
      endpoint,
      `reply is not valid CSV (${oneLine((e as Error).message, 160)}); starts with ${JSON.stringify(text.slice(0, 40))}`,
      { retryable: true, cause: e },
    );
  }
}

/** How report XML is read, whole or one row element at a time: text values as sent, attributes ignored. */
const XML_OPTIONS = {
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  trimValues: true,
} as const;

const xmlParser = new XMLParser({
  ...XML_OPTIONS,
  // Rows are the root's children: always an array, even with one row.
  isArray: (_name, jpath) => String(jpath).split('.').length === 2,
});

/** Parses an XML report held whole (shape in the module comment; the connector streams, see XmlRowSplitter). A body that does not parse is retryable. */
export function parseXmlReport(platform: string, endpoint: string, text: string): HitpathReport {
  if (text.trim() === '') return { headers: [], rows: [] };
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new PlatformApiError(
      platform,
      endpoint,
      `reply is not valid XML (${valid.err.msg} at line ${valid.err.line}); starts with ${JSON.stringify(text.slice(0, 40))}`,
      { retryable: true },
    );
  }
  const doc = xmlParser.parse(text) as Record<string, unknown>;
  const roots = Object.keys(doc);
  if (roots.length !== 1)
    throw new PlatformApiError(platform, endpoint, `XML reply should have one root element, found ${roots.length}`, {
      retryable: true,
    });
  const root = doc[roots[0]];
  if (root === '' || root === null || root === undefined) return { headers: [], rows: [] };
  if (typeof root !== 'object')
    throw new PlatformApiError(platform, endpoint, `XML root <${roots[0]}> holds text, not rows`, { retryable: false });
  const kinds = Object.keys(root as object);
  const rowKind = kinds.includes('row') ? 'row' : kinds.length === 1 ? kinds[0] : null;
  if (rowKind === null)
    throw new PlatformApiError(
      platform,
      endpoint,
      `XML root <${roots[0]}> should hold one kind of row element, found ${kinds.map((k) => `<${k}>`).join(', ')}`,
      { retryable: false },
    );
  const headers = new Set<string>();
  const rows = ((root as Record<string, unknown[]>)[rowKind] ?? []).map((item) => {
    const rec = xmlRecord(item);
    for (const k of Object.keys(rec)) headers.add(k);
    return rec;
  });
  return { headers: [...headers], rows };
}

/** One parsed row element as a record of strings (nested elements kept as JSON text). */
function xmlRecord(item: unknown): HitpathRawRecord {
  const rec: HitpathRawRecord = {};
  if (item !== null && typeof item === 'object') {
    for (const [k, v] of Object.entries(item as Record<string, unknown>)) {
      rec[k] =
        typeof v === 'string'
          ? v
          : v === null || v === undefined
            ? ''
            : typeof v === 'object'
              ? JSON.stringify(v)
              : String(v);
    }
  }
  return rec;
}

/**
 * Cuts a streamed XML report (the module comment's shape: one root, flat row elements) into row
 * elements as the text arrives, so each can be parsed alone. CDATA sections and comments are
 * skipped over when looking for a row's end. Throws (a plain Error) on a shape it cannot follow.
 */
export class XmlRowSplitter {
  private buf = '';
  private root: string | null = null;
  private row: string | null = null;
  private closed = false;

  /** Adds text; returns the complete row elements it finished. */
  push(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    for (;;) {
      this.buf = this.skipProlog(this.buf);
      if (this.closed) {
        if (this.buf.trim() !== '') throw new Error('text after the root element');
        this.buf = '';
        return out;
      }
      if (this.root === null) {
        const m = /^<([A-Za-z_][\w.:-]*)[^>]*?(\/?)>/.exec(this.buf);
        if (!m) return out;
        this.root = m[1];
        this.buf = this.buf.slice(m[0].length);
        if (m[2] === '/') this.closed = true;
        continue;
      }
      const lead = this.buf.search(/\S/);
      if (lead < 0) return out;
      const rest = this.buf.slice(lead);
      if (rest.startsWith(`</${this.root}`)) {
        const end = rest.indexOf('>');
        if (end < 0) return out;
        this.closed = true;
        this.buf = rest.slice(end + 1);
        continue;
      }
      const open = /^<([A-Za-z_][\w.:-]*)[^>]*?(\/?)>/.exec(rest);
      if (!open) {
        if (!rest.startsWith('<'))
          throw new Error(`text directly inside <${this.root}>: ${JSON.stringify(rest.slice(0, 40))}`);
        return out; // an element start not complete yet
      }
      if (this.row === null) this.row = open[1];
      if (open[1] !== this.row)
        throw new Error(`<${this.root}> should hold one kind of row element, found <${this.row}> and <${open[1]}>`);
      if (open[2] === '/') {
        out.push(open[0]);
        this.buf = rest.slice(open[0].length);
        continue;
      }
      const end = this.closeOf(rest, open[0].length);
      if (end < 0) {
        this.buf = rest;
        return out;
      }
      out.push(rest.slice(0, end));
      this.buf = rest.slice(end);
    }
  }

  /** After the last text: throws unless the root element was closed. */
  end(): void {
    if (!this.closed && (this.root !== null || this.buf.trim() !== ''))
      throw new Error(this.root === null ? 'no root element' : `cut short: <${this.root}> is never closed`);
  }

  private skipProlog(text: string): string {
    let t = text;
    for (;;) {
      const lead = t.search(/\S/);
      if (lead < 0) return this.root === null || this.closed ? '' : t;
      const rest = t.slice(lead);
      const kind = rest.startsWith('<?')
        ? '?>'
        : rest.startsWith('<!--')
          ? '-->'
          : rest.startsWith('<!DOCTYPE')
            ? '>'
            : null;
      if (kind === null || (this.root !== null && !this.closed && kind !== '-->')) return this.root === null ? rest : t;
      const end = rest.indexOf(kind);
      if (end < 0) return t;
      t = rest.slice(end + kind.length);
    }
  }

  /** The index just after the row's closing tag, or -1 when it has not arrived yet. */
  private closeOf(text: string, from: number): number {
    const close = `</${this.row}>`;
    let i = from;
    for (;;) {
      const c = text.indexOf(close, i);
      const cdata = text.indexOf('<![CDATA[', i);
      const comment = text.indexOf('<!--', i);
      const skip = [cdata, comment].filter((x) => x >= 0 && (c < 0 || x < c));
      if (skip.length === 0) return c < 0 ? -1 : c + close.length;
      const at = Math.min(...skip);
      const endMark = at === cdata ? ']]>' : '-->';
      const e = text.indexOf(endMark, at);
      if (e < 0) return -1;
      i = e + endMark.length;
    }
  }
}

/** A header row lacking a column this report type needs is a configuration problem: fail naming it and the mapping. */
export function checkHeaders(
  platform: string,
  endpoint: string,
  type: HitpathReportType,
  headers: string[],
  columns: HitpathColumnMap,
  configured: HitpathConfig['columns'],
): void {
  if (headers.length === 0) return; // no rows and no header row: nothing to map
  const explicitlyConfigured = new Set(
    Object.entries(configured ?? {})
      .filter(([, v]) => v)
      .map(([k]) => k),
  );
  const missing: string[] = [];
  for (const col of [...REQUIRED_COLUMNS[type], ...OPTIONAL_COLUMNS[type].filter((c) => explicitlyConfigured.has(c))]) {
    const name = columns[col];
    if (name !== undefined && findHeader(headers, name) === undefined) missing.push(`"${name}" (${col})`);
  }
  if (missing.length === 0) return;
  const mapping = (Object.entries(columns) as [HitpathColumn, string | undefined][])
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}→${v}`)
    .join(', ');
  throw new PlatformApiError(
    platform,
    endpoint,
    `type=${type} report has no column ${missing.join(', ')}; columns in the reply: ${headers.join(', ')}; configured mapping: ${mapping} (override under platforms.${platform}.columns)`,
    { retryable: false, field: missing[0] },
  );
}

function streamType(slice: Slice): HitpathReportType {
  if (slice.stream === 'conversions') return 'sales';
  if (slice.stream === 'clicks') return 'clicks';
  throw new PlatformApiError(
    slice.platform,
    slice.stream,
    `HitPath has no ${slice.stream} stream (its Reporting API offers clicks and sales only; there is no public entity or change API)`,
    { retryable: false },
  );
}

/** Fetches one slice: one report call (plus retries), rows outside the UTC window dropped, records emitted in pages. */
export async function fetchHitpathSlice(
  c: HitpathClientContext,
  slice: Slice,
  ctx: FetchContext,
  onPage: (page: RawPage) => Promise<void>,
): Promise<FetchSummary> {
  const type = streamType(slice);
  const url = new URL(c.config.baseUrl);
  const endpoint = `${url.pathname || '/'} (type=${type})`;
  const from = parseInstant(slice.from, 'slice.from');
  const to = parseInstant(slice.to, 'slice.to');
  const zone = c.config.timezone;
  const dates = localDatesFor(from, to, zone, ctx.clock.now());
  const summary: FetchSummary = { pages: 0, records: 0, calls: 0, splits: 0 };
  if (dates === null) return summary;
  checkHorizon(c.platform, endpoint, dates.start, dates.today, zone);

  url.searchParams.set('key', ctx.secret);
  url.searchParams.set('type', type);
  url.searchParams.set('start', dates.start);
  url.searchParams.set('end', dates.end);
  url.searchParams.set('format', c.config.format);

  const counting: FetchContext = {
    ...ctx,
    fetch: (input, init) => {
      summary.calls++;
      return ctx.fetch(input, init);
    },
  };
  const timeHeaderOf = (headers: string[]) => findHeader(headers, c.columns[TIME_COLUMN[type]] ?? '');
  const fromMs = from.getTime();
  const toMs = to.getTime();
  // Rows whose time does not parse are kept: normalize quarantines them with the reason instead of
  // a silent drop. Only rows that provably belong to another window are left out.
  const inWindow = (row: HitpathRawRecord, timeHeader: string | undefined) => {
    const cell = timeHeader === undefined ? undefined : row[timeHeader];
    const t = cell === undefined ? null : parseHitpathTime(cell, zone);
    return t === null || (t.getTime() >= fromMs && t.getTime() < toMs);
  };
  const emit = async (records: HitpathRawRecord[]) => {
    await onPage({ endpoint, records });
    summary.pages++;
    summary.records += records.length;
    ctx.onProgress?.({ pages: summary.pages, records: summary.records, calls: summary.calls });
  };
  let rows = 0;
  const call = { platform: c.platform, endpoint, url: url.toString() };
  // The reply is read as a stream: rows become pages as they arrive, so a reply of millions of rows
  // never sits in memory.
  const streamed = async (res: Response) => {
    rows = await streamReport(c, endpoint, type, res, ctx.secret, (row, h) => inWindow(row, timeHeaderOf(h)), emit);
    return null;
  };

  const policy = { ...DEFAULT_RETRY, ...ctx.retry };
  for (let attempt = 1; ; attempt++) {
    try {
      await requestWithRetry(call, counting, undefined, streamed);
      break;
    } catch (e) {
      // A 429 was already waited out and retried inside requestWithRetry; other 4xx may carry the throttle text.
      const status = e instanceof PlatformApiError ? e.options.status : undefined;
      const throttled =
        e instanceof HitpathThrottledError ||
        (status !== undefined && status !== 429 && status < 500 && THROTTLE_TEXT.test((e as Error).message));
      if (!throttled) throw rethrowScrubbed(e, c.platform, endpoint, ctx.secret, c.config.apiKeyEnv);
      const waitMs = Math.min(THROTTLE_WINDOW_MS, policy.maxDelayMs);
      if (attempt >= policy.maxAttempts) {
        throw new PlatformApiError(
          c.platform,
          endpoint,
          `throttled by HitPath (at most 2 calls per 5 minutes) after ${attempt} attempts`,
          { status: 429, retryable: true },
        );
      }
      ctx.logger.warn('platform rate limit hit', { platform: c.platform, endpoint, attempt, waitMs });
      await ctx.rateLimiter.pause(c.platform, waitMs);
    }
  }

  ctx.logger.info('hitpath report fetched', {
    platform: c.platform,
    endpoint,
    start: dates.start,
    end: dates.end,
    rows,
    inWindow: summary.records,
  });
  return summary;
}

/** Bytes read before deciding whether a body is an error message rather than a report. */
const PEEK_BYTES = 4096;

/**
 * Streams a report: the first few KB are checked for an error message (throttle, bad key), the
 * header row (CSV) or first row (XML) against the column map, then rows go out in pages of
 * PAGE_RECORDS as they are parsed (awaiting each page: back-pressure down to the socket). A body
 * cut short or malformed is retryable only while no page has gone out; after that the slice itself
 * fails and is retried as a new attempt (the ledger counts only the latest attempt's messages).
 * Returns the rows read.
 */
async function streamReport(
  c: HitpathClientContext,
  endpoint: string,
  type: HitpathReportType,
  res: Response,
  secret: string,
  keep: (row: HitpathRawRecord, headers: string[]) => boolean,
  emit: (records: HitpathRawRecord[]) => Promise<void>,
): Promise<number> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let ended = false;
  while (headBytes < PEEK_BYTES) {
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    head.push(value);
    headBytes += value.byteLength;
  }
  const prefix = Buffer.concat(head);
  checkErrorBody(c.platform, endpoint, prefix.toString('utf8'), secret, c.config.apiKeyEnv);
  async function* bytes(): AsyncGenerator<Uint8Array> {
    yield prefix;
    if (ended) return;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  }
  let headers: string[] = [];
  const check = (h: string[]) => {
    headers = h;
    checkHeaders(c.platform, endpoint, type, headers, c.columns, c.config.columns);
  };
  const format = c.config.format === 'xml' ? 'XML' : 'CSV';
  const source = Readable.from(bytes());
  const records = format === 'XML' ? xmlRecords(source, check) : csvRecords(source, check);
  let page: HitpathRawRecord[] = [];
  let rows = 0;
  let sent = 0;
  try {
    for await (const row of records) {
      rows++;
      if (!keep(row, headers)) continue;
      page.push(row);
      if (page.length >= PAGE_RECORDS) {
        await emit(page);
        sent += page.length;
        page = [];
      }
    }
  } catch (e) {
    source.destroy();
    if (e instanceof PlatformApiError && !e.retryable) throw e;
    throw new PlatformApiError(
      c.platform,
      endpoint,
      `reply is not valid ${format} after ${rows} rows (${oneLine(scrub((e as Error).message, secret), 160)})${sent > 0 ? `; ${sent} rows had gone out, so the slice is fetched again as a new attempt` : ''}`,
      { retryable: sent === 0, cause: e },
    );
  }
  if (page.length > 0) await emit(page);
  return rows;
}

function csvRecords(source: Readable, onHeaders: (h: string[]) => void): AsyncIterable<HitpathRawRecord> {
  const parser = parseCsvStream({
    bom: true,
    skip_empty_lines: true,
    columns: (h: string[]) => {
      const headers = h.map((x) => String(x));
      onHeaders(headers);
      return headers;
    },
  });
  source.on('error', (e) => parser.destroy(e));
  source.pipe(parser);
  return parser as AsyncIterable<HitpathRawRecord>;
}

const xmlRowParser = new XMLParser(XML_OPTIONS);

/** Rows of a streamed XML report, one row element at a time (XmlRowSplitter); the first row's columns are checked. */
async function* xmlRecords(source: Readable, onHeaders: (h: string[]) => void): AsyncGenerator<HitpathRawRecord> {
  const decoder = new TextDecoder('utf-8');
  const splitter = new XmlRowSplitter();
  let first = true;
  const parse = (fragment: string): HitpathRawRecord => {
    const valid = XMLValidator.validate(fragment);
    if (valid !== true) throw new Error(`${valid.err.msg} in ${JSON.stringify(fragment.slice(0, 60))}`);
    const doc = xmlRowParser.parse(fragment) as Record<string, unknown>;
    const rec = xmlRecord(Object.values(doc)[0]);
    if (first) {
      onHeaders(Object.keys(rec));
      first = false;
    }
    return rec;
  };
  for await (const chunk of source) {
    for (const f of splitter.push(decoder.decode(chunk as Uint8Array, { stream: true }))) yield parse(f);
  }
  for (const f of splitter.push(decoder.decode())) yield parse(f);
  splitter.end();
}

/** Errors from the HTTP layer, with anything HitPath echoed scrubbed of the key and auth failures explained. */
function rethrowScrubbed(e: unknown, platform: string, endpoint: string, secret: string, apiKeyEnv: string): unknown {
  if (!(e instanceof PlatformApiError)) return e;
  const prefix = `${platform} ${endpoint}: `;
  const inner = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
  const status = e.options.status;
  const message =
    status === 401 || status === 403
      ? `HitPath refused the API key (${scrub(inner, secret)}): check the key in ${apiKeyEnv} and that it was issued for this domain`
      : scrub(inner, secret);
  if (message === inner && status !== 401 && status !== 403) return e;
  return new PlatformApiError(platform, endpoint, message, e.options);
}
