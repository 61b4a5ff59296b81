import { isIP } from 'node:net';
import en from 'i18n-iso-countries/langs/en.json' with { type: 'json' };
import type { NormalizeContext } from '../types.js';
import { text } from './record.js';

/**
 * Personal data in what the connectors keep (docs/design.md §4): an end user's device ids, user
 * agent and e-mail address never reach the database in clear. Each platform names the keys that
 * carry such values in its records; an e-mail-looking string is hashed wherever it stands (an
 * affiliate who types the customer's e-mail into a sub id). IPs are kept: the duplicate rules
 * compare them.
 */

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function looksLikeEmail(v: string): boolean {
  return EMAIL.test(v.trim());
}

/**
 * A deep copy of `raw` whose values under `keys` (any depth), e-mail-looking strings and, with
 * `ctx.hashIps`, IP addresses (wherever they stand: `session_user_ip`, `set_ip`, a report column)
 * are `hmac:<keyed hash>`.
 */
export function redactRaw(raw: unknown, ctx: NormalizeContext, keys: ReadonlySet<string>): unknown {
  const walk = (v: unknown, key: string | null): unknown => {
    if (typeof v === 'string')
      return v !== '' && ((key !== null && keys.has(key)) || looksLikeEmail(v) || (ctx.hashIps && isIP(v.trim()) !== 0))
        ? `hmac:${ctx.hash(v)}`
        : v;
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
      return out;
    }
    return v;
  };
  return walk(raw, null);
}

/** A sub id as stored: trimmed text, an e-mail address replaced by its keyed hash. */
export function subId(v: string | number | null | undefined, ctx: NormalizeContext): string | null {
  const t = text(v);
  return t !== null && looksLikeEmail(t) ? `hmac:${ctx.hash(t)}` : t;
}

type SubIds = {
  sub1: string | null;
  sub2: string | null;
  sub3: string | null;
  sub4: string | null;
  sub5: string | null;
};

/** A platform's sub ids in order (as many as it has, up to five) → the canonical sub1..sub5, each through `subId`. */
export function subIds(values: readonly (string | number | null | undefined)[], ctx: NormalizeContext): SubIds {
  const v = (i: number) => subId(values[i], ctx);
  return { sub1: v(0), sub2: v(1), sub3: v(2), sub4: v(3), sub5: v(4) };
}

/** The keyed hash of a user agent, or null when there is none. */
export function userAgentHash(v: string | null | undefined, ctx: NormalizeContext): string | null {
  const t = text(v);
  return t === null ? null : ctx.hash(t);
}

// ---- countries ---------------------------------------------------------------------------------

const fold = (name: string) =>
  name.normalize('NFD').replace(/\p{M}/gu, '').replace(/[.'’]/g, '').replace(/\s+/g, ' ').trim().toLowerCase();

let byName: Map<string, string> | null = null;

/**
 * English name → code, built once: the names and alternatives of i18n-iso-countries' English
 * table (assigned codes only, so no SU, YU, FX or UK), then ICU's English name of each of those
 * codes (`Laos`, `Syria`, `Moldova`), which never overrides the table.
 */
function countryNames(): Map<string, string> {
  if (byName) return byName;
  byName = new Map();
  const table = en.countries as Record<string, string | string[]>;
  for (const [code, names] of Object.entries(table)) for (const n of [names].flat()) byName.set(fold(n), code);
  const icu = new Intl.DisplayNames(['en'], { type: 'region' });
  for (const code of Object.keys(table)) {
    const n = icu.of(code);
    if (n && n !== code && !byName.has(fold(n))) byName.set(fold(n), code);
  }
  return byName;
}

/**
 * A country as an ISO 3166-1 alpha-2 code: a 2-letter code as sent (upper-cased; `UK` → `GB`),
 * else an English name (`United Kingdom`, `Russia`, `Czech Republic`, `Ivory Coast`,
 * `Côte d'Ivoire`). A name nobody maps is null, never a guess.
 */
export function countryCode(v: string | null | undefined): string | null {
  const t = text(v);
  if (t === null) return null;
  if (/^[A-Za-z]{2}$/.test(t)) {
    const c = t.toUpperCase();
    return c === 'UK' ? 'GB' : c;
  }
  return countryNames().get(fold(t)) ?? null;
}
