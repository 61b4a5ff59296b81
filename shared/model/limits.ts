import { CONVERSION_STATUSES, ENTITY_STATUSES, type Stream, STREAM_TABLE } from './canonical.js';

/**
 * The limits of the platform schema (sql/platform/001_platform_tables.sql), checked on every
 * canonical row before the upsert: MySQL refuses a whole multi-row statement for one value that
 * does not fit ("Data too long", "Out of range"), so one affiliate's 300-character sub id would
 * otherwise sink every record of its message, on every replay. A row that breaks a limit is
 * quarantined alone, with the field named. Keep this table in step with the SQL (a test compares
 * them).
 */

type Check =
  | { kind: 'text'; max: number; required?: boolean }
  | { kind: 'money'; required?: boolean }
  | { kind: 'time'; required?: boolean }
  | { kind: 'one-of'; values: readonly string[]; required: true }
  | { kind: 'code'; pattern: RegExp; expected: string; required?: boolean };

const id64 = { kind: 'text', max: 64, required: true } as const;
const opt = (max: number) => ({ kind: 'text', max }) as const;
const subs = { sub1: opt(255), sub2: opt(255), sub3: opt(255), sub4: opt(255), sub5: opt(255) } as const;
const common = {
  affiliate_id: id64,
  offer_id: id64,
  advertiser_id: opt(64),
  ...subs,
  ip: opt(64),
  user_agent_hash: opt(64),
  country_code: { kind: 'code', pattern: /^[A-Z]{2}$/, expected: 'a 2-letter country code' },
} as const;

export const ROW_LIMITS: Record<'conversions' | 'clicks' | 'entities', Record<string, Check>> = {
  conversions: {
    conversion_id: id64,
    click_id: opt(128),
    transaction_id: opt(128),
    order_id: opt(191),
    converted_at: { kind: 'time', required: true },
    clicked_at: { kind: 'time' },
    ...common,
    event_name: opt(128),
    status: { kind: 'one-of', values: CONVERSION_STATUSES, required: true },
    revenue: { kind: 'money', required: true },
    payout: { kind: 'money', required: true },
    sale_amount: { kind: 'money' },
    currency: { kind: 'code', pattern: /^[A-Z]{3}$/, expected: 'an ISO 4217 code', required: true },
  },
  clicks: {
    click_id: { kind: 'text', max: 128, required: true },
    clicked_at: { kind: 'time', required: true },
    ...common,
  },
  entities: {
    id: id64,
    name: { kind: 'text', max: 255, required: true },
    status: { kind: 'one-of', values: ENTITY_STATUSES, required: true },
    email: opt(255),
  },
};

/** DECIMAL(18,6): at most 12 integer digits. */
const MONEY = /^-?\d{1,12}(?:\.\d+)?$/;
/** DATETIME(3) holds years 1000–9999; ISO text with milliseconds and Z, as the connectors write it (toISOString). */
const ISO = /^(\d{4})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

export interface LimitBreach {
  field: string;
  problem: string;
  value: unknown;
}

function breach(check: Check, value: unknown): string | null {
  if (value === null || value === undefined) return check.required ? 'is required' : null;
  switch (check.kind) {
    case 'text': {
      if (typeof value !== 'string') return 'expected text';
      if (check.required && value === '') return 'is empty';
      // VARCHAR(n) counts characters (code points); UTF-16 units are never fewer, so only a long
      // string needs counting.
      if (value.length <= check.max) return null;
      const n = [...value].length;
      return n > check.max ? `longer than the column's ${check.max} characters (${n})` : null;
    }
    case 'money':
      return typeof value === 'string' && MONEY.test(value.replace(/^0+(?=\d)/, ''))
        ? null
        : 'out of range for DECIMAL(18,6) or not a decimal';
    case 'time': {
      const m = typeof value === 'string' ? ISO.exec(value) : null;
      if (!m) return 'expected a UTC time like 2026-10-12T13:02:11.000Z';
      const year = Number(m[1]);
      return year < 1000 || year > 9999 ? 'outside the DATETIME range (years 1000–9999)' : null;
    }
    case 'one-of':
      return typeof value === 'string' && check.values.includes(value)
        ? null
        : `expected one of ${check.values.join(', ')}`;
    case 'code':
      return typeof value === 'string' && check.pattern.test(value) ? null : `expected ${check.expected}`;
  }
}

const CHECKS = {
  conversions: Object.entries(ROW_LIMITS.conversions),
  clicks: Object.entries(ROW_LIMITS.clicks),
  entities: Object.entries(ROW_LIMITS.entities),
};

/** The first value of a canonical row that its table cannot hold, or null when the row fits. */
export function checkRow(stream: Stream, row: Record<string, unknown>): LimitBreach | null {
  const table = STREAM_TABLE[stream];
  const checks = CHECKS[table === 'conversions' || table === 'clicks' ? table : 'entities'];
  for (let i = 0; i < checks.length; i++) {
    const [field, check] = checks[i];
    const problem = breach(check, row[field]);
    if (problem !== null) return { field, problem, value: row[field] };
  }
  return null;
}
