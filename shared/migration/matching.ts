import type { Config } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import type { EntityType } from '../rules/crosswalk.js';
import { toSqlDateTime } from '../util/time.js';
import { orderedPlatforms } from '../rules/common.js';

/**
 * `dualtrack mappings suggest`: proposes crosswalk rows for entities that are in a platform's entity
 * list but not in the crosswalk, by matching them against the other platforms' entities:
 *
 * | signal | confidence |
 * |---|---|
 * | same email (case-insensitive) and same normalized name | 0.99 |
 * | same email | 0.95 |
 * | same normalized name (see `normalizeName`) | 0.90 |
 * | same email domain (not a webmail domain) and similar name (token overlap ≥ 0.5) | 0.80 |
 * | similar name only (token overlap ≥ 0.6) | 0.50 + 0.3 × overlap |
 * | same email domain only | 0.60 |
 *
 * A candidate on another platform that is already mapped lends its canonical key (unless that key
 * already has an id on the unmapped entity's platform: one row per entity per platform); two unmapped
 * entities get a new key (`aff-`/`off-`/`adv-` + the normalized name). Matches are one-to-one per
 * platform pair, best confidence first; when two candidates tie for the best, the suggestion is
 * marked ambiguous and its confidence cut by a quarter so it needs a human look. Suggestions are only
 * printed; `--accept` stores those at or above `--min-confidence` with source `matched`.
 */

/** Legal-form words dropped from the end of a name ("Acme Media, LLC" = "ACME MEDIA"). */
const LEGAL_SUFFIXES = new Set([
  'llc',
  'inc',
  'incorporated',
  'ltd',
  'limited',
  'corp',
  'corporation',
  'co',
  'company',
  'plc',
  'llp',
  'lp',
  'gmbh',
  'ag',
  'kg',
  'sa',
  'sas',
  'sarl',
  'srl',
  'spa',
  'bv',
  'nv',
  'pty',
  'pvt',
  'oy',
  'ab',
  'as',
  'aps',
  'kk',
  'sl',
  'sro',
  'ug',
]);

const WEBMAIL = new Set([
  'gmail.com',
  'googlemail.com',
  'yahoo.com',
  'hotmail.com',
  'outlook.com',
  'live.com',
  'msn.com',
  'aol.com',
  'icloud.com',
  'me.com',
  'proton.me',
  'protonmail.com',
  'gmx.com',
  'gmx.de',
  'mail.com',
  'yandex.ru',
  'qq.com',
  '163.com',
]);

/**
 * A name reduced to what identifies the business: accents removed (NFKD), lower case, `&` → `and`,
 * dots dropped (so `L.L.C.` = `LLC`), other punctuation → space, trailing legal-form words removed
 * (repeatedly: `Pty Ltd`), whitespace collapsed. A name that is nothing but a legal form keeps it.
 */
export function normalizeName(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .replace(/&/g, ' and ')
    .replace(/[.'’`]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
  const tokens = base.split(' ').filter(Boolean);
  while (tokens.length > 1 && LEGAL_SUFFIXES.has(tokens[tokens.length - 1])) tokens.pop();
  return tokens.join(' ');
}

export function normalizeEmail(email: string | null | undefined): string | null {
  const e = (email ?? '').trim().toLowerCase();
  return /^[^\s@]+@[^\s@]+$/.test(e) ? e : null;
}

export function emailDomain(email: string | null | undefined): string | null {
  const e = normalizeEmail(email);
  return e ? e.slice(e.indexOf('@') + 1) : null;
}

/** Jaccard overlap of the normalized names' word sets (0…1). */
export function nameSimilarity(a: string, b: string): number {
  const ta = new Set(normalizeName(a).split(' ').filter(Boolean));
  const tb = new Set(normalizeName(b).split(' ').filter(Boolean));
  if (ta.size === 0 || tb.size === 0) return 0;
  let inter = 0;
  for (const t of ta) if (tb.has(t)) inter++;
  return inter / (ta.size + tb.size - inter);
}

export interface MatchEntity {
  platform: string;
  id: string;
  name: string;
  email: string | null;
  canonical_key: string | null;
}

/** The confidence that two entities on different platforms are the same, with the reason. */
export function matchScore(
  a: Pick<MatchEntity, 'name' | 'email'>,
  b: Pick<MatchEntity, 'name' | 'email'>,
): { confidence: number; reason: string } {
  const na = normalizeName(a.name);
  const nb = normalizeName(b.name);
  const sameName = na !== '' && na === nb;
  const ea = normalizeEmail(a.email);
  const eb = normalizeEmail(b.email);
  const sameEmail = ea !== null && ea === eb;
  const da = emailDomain(a.email);
  const sameDomain = !sameEmail && da !== null && da === emailDomain(b.email) && !WEBMAIL.has(da);
  const sim = sameName ? 1 : nameSimilarity(a.name, b.name);
  if (sameEmail && sameName) return { confidence: 0.99, reason: 'same email and name' };
  if (sameEmail) return { confidence: 0.95, reason: 'same email' };
  if (sameName) return { confidence: 0.9, reason: 'same name' };
  if (sameDomain && sim >= 0.5) return { confidence: 0.8, reason: 'same email domain, similar name' };
  if (sim >= 0.6) return { confidence: round3(0.5 + 0.3 * sim), reason: 'similar name' };
  if (sameDomain) return { confidence: 0.6, reason: 'same email domain' };
  return { confidence: 0, reason: 'no match' };
}

export interface Suggestion {
  entity: EntityType;
  platform: string;
  platform_id: string;
  name: string;
  canonical_key: string;
  /** true when `canonical_key` is new (both sides unmapped): accepting stores both rows. */
  new_key: boolean;
  matched: { platform: string; platform_id: string; name: string; canonical_key: string | null };
  confidence: number;
  reason: string;
  ambiguous: boolean;
}

const TABLE: Record<EntityType, string> = { affiliate: 'affiliates', offer: 'offers', advertiser: 'advertisers' };
const PREFIX: Record<EntityType, string> = { affiliate: 'aff', offer: 'off', advertiser: 'adv' };

export async function suggestMappings(
  db: Db,
  names: DbNames,
  config: Config,
  options: { minConfidence?: number; entities?: EntityType[] } = {},
): Promise<Suggestion[]> {
  const min = options.minConfidence ?? 0.6;
  const platforms = orderedPlatforms(config);
  const map = await db.query<{ entity_type: EntityType; platform: string; platform_id: string; canonical_key: string }>(
    `SELECT entity_type, platform, platform_id, canonical_key FROM ${names.core}.entity_map`,
  );
  const usedKeys = new Set(map.map((r) => `${r.entity_type}\u0000${r.canonical_key}`));
  const out: Suggestion[] = [];
  for (const entity of options.entities ?? (['affiliate', 'offer', 'advertiser'] as EntityType[])) {
    const keyOf = new Map(
      map.filter((r) => r.entity_type === entity).map((r) => [`${r.platform}\u0000${r.platform_id}`, r.canonical_key]),
    );
    const keyHas = new Set(
      map.filter((r) => r.entity_type === entity).map((r) => `${r.canonical_key}\u0000${r.platform}`),
    );
    const byPlatform = new Map<string, MatchEntity[]>();
    for (const p of platforms) {
      const rows = await db.query<{ id: string; name: string; email: string | null }>(
        `SELECT id, name, email FROM ${names.platform(p)}.${TABLE[entity]} ORDER BY id`,
      );
      byPlatform.set(
        p,
        rows.map((r) => ({
          platform: p,
          id: r.id,
          name: r.name,
          email: r.email,
          canonical_key: keyOf.get(`${p}\u0000${r.id}`) ?? null,
        })),
      );
    }
    // Each unordered platform pair once; an unmapped entity may match on several other platforms.
    const taken = new Set<string>();
    for (let i = 0; i < platforms.length; i++) {
      for (let j = 0; j < platforms.length; j++) {
        if (i === j) continue;
        const P = platforms[i];
        const Q = platforms[j];
        const candidates: { a: MatchEntity; b: MatchEntity; confidence: number; reason: string; ambiguous: boolean }[] =
          [];
        for (const a of byPlatform.get(P) ?? []) {
          if (a.canonical_key !== null) continue;
          let best: { b: MatchEntity; confidence: number; reason: string }[] = [];
          for (const b of byPlatform.get(Q) ?? []) {
            // A mapped candidate whose key already has an id on P cannot take a second one.
            if (b.canonical_key !== null && keyHas.has(`${b.canonical_key}\u0000${P}`)) continue;
            // Two unmapped entities are considered once (from the earlier platform's side).
            if (b.canonical_key === null && j < i) continue;
            const s = matchScore(a, b);
            if (s.confidence <= 0) continue;
            if (best.length === 0 || s.confidence > best[0].confidence) best = [{ b, ...s }];
            else if (s.confidence === best[0].confidence) best.push({ b, ...s });
          }
          if (best.length === 0) continue;
          const ambiguous = best.length > 1;
          const top = best[0];
          candidates.push({
            a,
            b: top.b,
            confidence: ambiguous ? round3(top.confidence * 0.75) : top.confidence,
            reason: ambiguous ? `${top.reason} (${best.length} candidates on ${Q})` : top.reason,
            ambiguous,
          });
        }
        candidates.sort((x, y) => y.confidence - x.confidence || (x.a.id < y.a.id ? -1 : 1));
        for (const c of candidates) {
          if (c.confidence < min) continue;
          const ka = `${P}\u0000${c.a.id}`;
          const kb = `${Q}\u0000${c.b.id}\u0000${P}`;
          if (taken.has(ka) || taken.has(kb)) continue;
          let key = c.b.canonical_key;
          let newKey = false;
          if (key === null) {
            key = freshKey(entity, c.a.name || c.a.id, usedKeys);
            newKey = true;
          } else if (keyHas.has(`${key}\u0000${P}`)) continue;
          taken.add(ka);
          taken.add(kb);
          keyHas.add(`${key}\u0000${P}`);
          if (newKey) keyHas.add(`${key}\u0000${Q}`);
          out.push({
            entity,
            platform: P,
            platform_id: c.a.id,
            name: c.a.name,
            canonical_key: key,
            new_key: newKey,
            matched: { platform: Q, platform_id: c.b.id, name: c.b.name, canonical_key: c.b.canonical_key },
            confidence: c.confidence,
            reason: c.reason,
            ambiguous: c.ambiguous,
          });
          if (newKey) {
            // The candidate now belongs to the new key too; later passes must not map it again.
            taken.add(`${Q}\u0000${c.b.id}`);
            c.b.canonical_key = key;
          }
          c.a.canonical_key = key;
        }
      }
    }
  }
  return out;
}

/** Stores suggestions as crosswalk rows (source `matched`, with their confidence) in one transaction. */
export async function acceptSuggestions(
  db: Db,
  names: DbNames,
  suggestions: readonly Suggestion[],
  now: Date,
): Promise<number> {
  const rows: { entity: string; platform: string; id: string; key: string; confidence: number }[] = [];
  for (const s of suggestions) {
    rows.push({
      entity: s.entity,
      platform: s.platform,
      id: s.platform_id,
      key: s.canonical_key,
      confidence: s.confidence,
    });
    if (s.new_key)
      rows.push({
        entity: s.entity,
        platform: s.matched.platform,
        id: s.matched.platform_id,
        key: s.canonical_key,
        confidence: s.confidence,
      });
  }
  if (rows.length === 0) return 0;
  await db.transaction(async (tx) => {
    // INSERT IGNORE semantics by hand: a row that appeared meanwhile (an import) is the operator's and wins.
    await tx.batch(
      `INSERT INTO ${names.core}.entity_map (entity_type, platform, platform_id, canonical_key, source, confidence, updated_at)
       VALUES (:entity, :platform, :id, :key, 'matched', :confidence, :now)
       ON DUPLICATE KEY UPDATE entity_type = entity_type`,
      rows.map((r) => ({ ...r, confidence: r.confidence.toFixed(3), now: toSqlDateTime(now) })),
    );
  });
  return rows.length;
}

function freshKey(entity: EntityType, name: string, used: Set<string>): string {
  const slug = normalizeName(name).replace(/ /g, '-').slice(0, 100) || 'unnamed';
  let key = `${PREFIX[entity]}-${slug}`;
  for (let n = 2; used.has(`${entity}\u0000${key}`); n++) key = `${PREFIX[entity]}-${slug}-${n}`;
  used.add(`${entity}\u0000${key}`);
  return key;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
