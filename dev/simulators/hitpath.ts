import { HITPATH_DEFAULT_COLUMNS } from '#shared/config/schema.js';
import { formatInZone } from '#shared/util/time.js';
import { statusAt, type Scenario, type ScenarioClick, type ScenarioConversion } from './scenario/types.js';
import {
  SimServer,
  type PlatformSimulator,
  type SimRequest,
  type SimResponse,
  type SimulatorOptions,
} from './server.js';
import type { ConversionStatus } from '#shared/model/canonical.js';

/**
 * HitPath Reporting API simulator (docs/platform-apis.md §3.3), serving
 * `scenario.clicks/conversions[options.platform]` at `GET /api.php`:
 *
 * - `key` must equal options.secret, else HTTP 403 `Error: Invalid key` (the key is never echoed);
 * - `type=clicks`: every click whose local click date is in [start, end], one row each; when the
 *   click converted (base sale, by now) its sale columns are filled, as the docs say of `amount`;
 * - `type=sales`: one row per sale or Multi-Sales event whose local *sale* date is in
 *   [start, end], with the click's columns, status as of now();
 * - `start`/`end` are dates in options.timezone (`2026-10-01`, `10/1/2026`, `today`, `yesterday`);
 *   end ≥ start, end ≤ today, start ≥ today − 45 days, else HTTP 400 `Error: …`;
 * - `format=csv|xml` (default options.format, else csv); headers are docs/design.md's defaults or
 *   options.columns; times are local wall-clock `YYYY-MM-DD HH:MM:SS` (or `M/D/YYYY h:mm:ss AM`
 *   with `timeStyle: 'us'`);
 * - XML: `<report type start end><row><hitid>…</hitid>…</row>…</report>` (see the connector's client.ts);
 * - `enforceRateLimit`: a call when two calls were already served in the last 5 minutes (by
 *   options.now) gets the throttle reply. HitPath does not document it; we use HTTP 200,
 *   `text/plain`, `Error: Data can be accessed up to twice every 5 minutes. Please try again later.`
 *   (an old-style API answering errors as text). Refused calls do not count towards the limit.
 * - Faults through `server.injectFaults`; `malformed` sends a CSV with an unclosed quote (or an
 *   unclosed XML element when the default format is XML).
 */

export interface HitpathSimulatorOptions extends SimulatorOptions {
  format?: 'csv' | 'xml';
  /** Logical column → header (overrides docs/design.md's defaults); `is_unique` adds a unique-click column. */
  columns?: Partial<Record<string, string>>;
  enforceRateLimit?: boolean;
  timeStyle?: 'iso' | 'us';
}

export interface HitpathSimulator extends PlatformSimulator {
  /** Calls answered with the throttle reply so far. */
  readonly throttledCalls: number;
}

export const HITPATH_SIM_PATH = '/api.php';
export const HITPATH_THROTTLE_REPLY =
  'Error: Data can be accessed up to twice every 5 minutes. Please try again later.';
const WINDOW_MS = 5 * 60_000;
const HORIZON_DAYS = 45;
const DAY_MS = 86_400_000;

const STATUS_WORD: Record<ConversionStatus, string> = {
  approved: 'Approved',
  pending: 'Pending',
  rejected: 'Rejected',
  invalid: 'Invalid',
};

type Cells = Record<string, string>;

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

function parseDateParam(s: string, today: string): string | null {
  const v = s.trim().toLowerCase();
  if (v === 'today') return today;
  if (v === 'yesterday') return addDays(today, -1);
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(v);
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(v);
  const ymd = iso ? [iso[1], iso[2], iso[3]] : us ? [us[3], us[1], us[2]] : null;
  if (!ymd) return null;
  const d = `${ymd[0]}-${ymd[1].padStart(2, '0')}-${ymd[2].padStart(2, '0')}`;
  return Number.isNaN(Date.parse(`${d}T00:00:00Z`)) || new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) !== d
    ? null
    : d;
}

function csvCell(v: string): string {
  return /[",\r\n]|^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function xmlText(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function createHitpathSimulator(scenario: Scenario, options: HitpathSimulatorOptions): HitpathSimulator {
  const zone = options.timezone ?? 'UTC';
  const now = options.now ?? (() => Date.now());
  const defaultFormat = options.format ?? 'csv';
  const names: Record<string, string> = { ...HITPATH_DEFAULT_COLUMNS };
  for (const [k, v] of Object.entries(options.columns ?? {})) if (v) names[k] = v;
  const logical = Object.keys(names);
  const headers = logical.map((k) => names[k]);
  const served: number[] = [];
  let throttled = 0;

  const local = (ms: number): string => {
    const s = formatInZone(new Date(ms), zone);
    if (options.timeStyle !== 'us') return s;
    const [date, time] = s.split(' ');
    const [y, mo, d] = date.split('-').map(Number);
    const [h, mi, sec] = time.split(':');
    const hour = Number(h);
    return `${mo}/${d}/${y} ${hour % 12 === 0 ? 12 : hour % 12}:${mi}:${sec} ${hour < 12 ? 'AM' : 'PM'}`;
  };
  const localDate = (ms: number) => formatInZone(new Date(ms), zone).slice(0, 10);

  const clickCells = (c: ScenarioClick | ScenarioConversion): Cells => ({
    click_id: c.clickId,
    clicked_at: local(c.clickedAt),
    offer_id: c.offerId,
    affiliate_id: c.affiliateId,
    sub1: c.subs[0] ?? '',
    sub2: c.subs[1] ?? '',
    sub3: c.subs[2] ?? '',
    ip: c.ip,
  });
  const saleCells = (v: ScenarioConversion, t: number): Cells => ({
    converted_at: local(v.convertedAt),
    order_id: v.orderId,
    revenue: v.revenue,
    payout: v.payout,
    status: STATUS_WORD[statusAt(v, t).status],
    event_name: v.eventName ?? '',
  });
  const emptySale: Cells = { converted_at: '', order_id: '', revenue: '', payout: '', status: '', event_name: '' };

  /**
   * Index of the first item with time ≥ `ms` in a list sorted by that time. The scenario's lists are
   * sorted (clicks by clickedAt, conversions by convertedAt): a request reads only its own days
   * instead of formatting every record's local date (that full scan made each call cost seconds).
   */
  function lowerBound<T>(list: readonly T[], time: (x: T) => number, ms: number): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (time(list[mid]) < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** The items whose local date is in [start, end] and time ≤ t: a ±1 day UTC range, then the exact local-date test. */
  function inWindow<T>(list: readonly T[], time: (x: T) => number, start: string, end: string, t: number): T[] {
    const lo = lowerBound(list, time, Date.parse(`${start}T00:00:00Z`) - DAY_MS);
    const hi = lowerBound(list, time, Date.parse(`${end}T00:00:00Z`) + 2 * DAY_MS);
    const out: T[] = [];
    for (let i = lo; i < hi; i++) {
      const ms = time(list[i]);
      if (ms > t) continue;
      const d = localDate(ms);
      if (d >= start && d <= end) out.push(list[i]);
    }
    return out;
  }
  /** Each click's earliest base sale (conversions are sorted by time), built once per conversion list. */
  let baseSaleOf: { list: readonly ScenarioConversion[]; length: number; map: Map<string, ScenarioConversion> } | null =
    null;
  function baseSales(conversions: readonly ScenarioConversion[]): Map<string, ScenarioConversion> {
    if (!baseSaleOf || baseSaleOf.list !== conversions || baseSaleOf.length !== conversions.length) {
      const map = new Map<string, ScenarioConversion>();
      for (const v of conversions) if (v.eventName === null && !map.has(v.clickId)) map.set(v.clickId, v);
      baseSaleOf = { list: conversions, length: conversions.length, map };
    }
    return baseSaleOf.map;
  }

  function rows(type: 'clicks' | 'sales', start: string, end: string, t: number): Cells[] {
    const conversions = scenario.conversions[options.platform] ?? [];
    if (type === 'sales') {
      return inWindow(conversions, (v) => v.convertedAt, start, end, t).map((v) => ({
        ...clickCells(v),
        ...saleCells(v, t),
        is_unique: '1',
      }));
    }
    const baseSale = baseSales(conversions);
    return inWindow(scenario.clicks[options.platform] ?? [], (c) => c.clickedAt, start, end, t).map((c) => {
      const found = baseSale.get(c.clickId);
      const sale = found && found.convertedAt <= t ? found : undefined;
      return { ...clickCells(c), ...(sale ? saleCells(sale, t) : emptySale), is_unique: c.isUnique ? '1' : '0' };
    });
  }

  function render(format: 'csv' | 'xml', type: string, start: string, end: string, data: Cells[]): SimResponse {
    if (format === 'xml') {
      const body = data
        .map(
          (r) =>
            `  <row>${logical.map((k, i) => (r[k] ? `<${headers[i]}>${xmlText(r[k])}</${headers[i]}>` : `<${headers[i]}/>`)).join('')}</row>\n`,
        )
        .join('');
      return {
        status: 200,
        headers: { 'content-type': 'application/xml; charset=utf-8' },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<report type="${type}" start="${start}" end="${end}">\n${body}</report>\n`,
      };
    }
    const lines = [
      headers.map(csvCell).join(','),
      ...data.map((r) => logical.map((k) => csvCell(r[k] ?? '')).join(',')),
    ];
    return { status: 200, headers: { 'content-type': 'text/csv; charset=utf-8' }, body: `${lines.join('\r\n')}\r\n` };
  }

  const error = (status: number, message: string): SimResponse => ({
    status,
    headers: { 'content-type': 'text/plain' },
    body: `Error: ${message}`,
  });

  function handle(req: SimRequest): SimResponse {
    if (req.path !== HITPATH_SIM_PATH) return error(404, 'not found');
    if (req.method !== 'GET') return error(405, 'use GET');
    const q = req.query;
    if (q.get('key') !== options.secret) return error(403, 'Invalid key');
    const t = now();
    if (options.enforceRateLimit) {
      const recent = served.filter((at) => at > t - WINDOW_MS).length;
      if (recent >= 2) {
        throttled++;
        return { status: 200, headers: { 'content-type': 'text/plain' }, body: HITPATH_THROTTLE_REPLY };
      }
    }
    const type = q.get('type');
    if (type !== 'clicks' && type !== 'sales') return error(400, 'type must be clicks or sales');
    const formatParam = (q.get('format') ?? defaultFormat).toLowerCase();
    if (formatParam !== 'csv' && formatParam !== 'xml') return error(400, 'format must be csv or xml');
    const today = localDate(t);
    if (!q.get('start')) return error(400, 'start date is required');
    if (!q.get('end')) return error(400, 'end date is required');
    const start = parseDateParam(q.get('start')!, today);
    const end = parseDateParam(q.get('end')!, today);
    if (start === null) return error(400, 'invalid start date');
    if (end === null) return error(400, 'invalid end date');
    if (start < addDays(today, -HORIZON_DAYS))
      return error(400, `start date must be no more than ${HORIZON_DAYS} days before today`);
    if (end < start) return error(400, 'end date must be on or after start date');
    if (end > today) return error(400, 'end date must not be after today');
    served.push(t);
    return render(formatParam, type, start, end, rows(type, start, end, t));
  }

  const malformedBody =
    defaultFormat === 'xml'
      ? '<?xml version="1.0"?>\n<report>\n  <row><hitid>1</hitid>'
      : `${headers.join(',')}\r\n"9001,2026-10-01 00:00:00\r\n`;
  const server = new SimServer(handle, { malformedBody });
  return {
    kind: 'hitpath',
    server,
    get throttledCalls() {
      return throttled;
    },
    start: () => server.start(),
    stop: () => server.stop(),
  };
}
