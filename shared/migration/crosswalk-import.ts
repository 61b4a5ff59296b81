import type { Config } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import type { EntityType } from '../rules/crosswalk.js';
import { toSqlDateTime } from '../util/time.js';
import { CsvFileError, readCsv, type CsvProblem } from './csv-file.js';

/**
 * `dualtrack mappings import FILE.csv` (docs/design.md §8): the entity crosswalk as
 * `entity,platform,platform_id,canonical_key`, one row per entity per platform.
 *
 * All or nothing: every line is validated first (unknown entity type or platform, duplicate
 * (entity, platform, platform_id), two ids for one canonical key on one platform — in the file or
 * against rows already stored —, empty fields, over-long values, broken CSV) and every problem is
 * reported with its line number; only a clean file is written, in one transaction. The file is the
 * operator's truth: a row replaces whatever the crosswalk held for its (entity, platform, platform_id),
 * including a `matched` suggestion, and is stored as source `imported`, confidence 1. Re-importing the
 * same file changes nothing (not even `updated_at`). Rows not in the file are left alone (an import
 * adds and corrects; it does not delete).
 */

export const CROSSWALK_COLUMNS = ['entity', 'platform', 'platform_id', 'canonical_key'] as const;
export const ENTITY_TYPES: readonly EntityType[] = ['affiliate', 'offer', 'advertiser'];

export interface CrosswalkEntry {
  line: number;
  entity: EntityType;
  platform: string;
  platform_id: string;
  canonical_key: string;
}

export function parseCrosswalkCsv(text: string, config: Config, file = 'mappings file'): CrosswalkEntry[] {
  const { records, problems } = readCsv(text, CROSSWALK_COLUMNS);
  const platforms = Object.keys(config.platforms);
  const out: CrosswalkEntry[] = [];
  const seenId = new Map<string, number>();
  const seenKey = new Map<string, { line: number; id: string }>();
  for (const { line, values } of records) {
    const entity = values.entity.toLowerCase();
    const bad: string[] = [];
    if (!(ENTITY_TYPES as readonly string[]).includes(entity))
      bad.push(`unknown entity ${JSON.stringify(values.entity)} (expected ${ENTITY_TYPES.join(', ')})`);
    if (!platforms.includes(values.platform))
      bad.push(`unknown platform ${JSON.stringify(values.platform)} (configured: ${platforms.join(', ')})`);
    if (values.platform_id.length > 64) bad.push('platform_id longer than 64 characters');
    if (values.canonical_key.length > 128) bad.push('canonical_key longer than 128 characters');
    if (bad.length) {
      problems.push({ line, message: bad.join('; ') });
      continue;
    }
    const idKey = `${entity}\u0000${values.platform}\u0000${values.platform_id}`;
    const first = seenId.get(idKey);
    if (first !== undefined) {
      problems.push({
        line,
        message: `duplicate ${entity} ${values.platform} ${JSON.stringify(values.platform_id)} (first on line ${first})`,
      });
      continue;
    }
    seenId.set(idKey, line);
    const ck = `${entity}\u0000${values.canonical_key}\u0000${values.platform}`;
    const other = seenKey.get(ck);
    if (other) {
      problems.push({
        line,
        message: `${entity} ${JSON.stringify(values.canonical_key)} already has ${values.platform} id ${JSON.stringify(other.id)} on line ${other.line} (one row per entity per platform)`,
      });
      continue;
    }
    seenKey.set(ck, { line, id: values.platform_id });
    out.push({
      line,
      entity: entity as EntityType,
      platform: values.platform,
      platform_id: values.platform_id,
      canonical_key: values.canonical_key,
    });
  }
  if (problems.length) throw new CsvFileError(file, sortProblems(problems));
  return out;
}

export interface ImportResult {
  inserted: number;
  updated: number;
  unchanged: number;
}

type StoredRow = {
  entity_type: string;
  platform: string;
  platform_id: string;
  canonical_key: string;
  source: string;
  confidence: string;
};

export async function importCrosswalk(
  db: Db,
  names: DbNames,
  entries: readonly CrosswalkEntry[],
  now: Date,
  file = 'mappings file',
): Promise<ImportResult> {
  return db.transaction(async (tx) => {
    // Locked for the transaction: a concurrent import or `suggest --accept` waits instead of
    // slipping a second id for the same key in between the check and the write.
    const stored = await tx.query<StoredRow>(
      `SELECT entity_type, platform, platform_id, canonical_key, source, confidence FROM ${names.core}.entity_map FOR UPDATE`,
    );
    const byId = new Map(stored.map((r) => [`${r.entity_type}\u0000${r.platform}\u0000${r.platform_id}`, r]));
    // (entity, key, platform) → platform id, after this file is applied.
    const remapped = new Set(entries.map((e) => `${e.entity}\u0000${e.platform}\u0000${e.platform_id}`));
    const idOfKey = new Map<string, string>();
    for (const r of stored)
      if (!remapped.has(`${r.entity_type}\u0000${r.platform}\u0000${r.platform_id}`))
        idOfKey.set(`${r.entity_type}\u0000${r.canonical_key}\u0000${r.platform}`, r.platform_id);
    const problems: CsvProblem[] = [];
    for (const e of entries) {
      const existing = idOfKey.get(`${e.entity}\u0000${e.canonical_key}\u0000${e.platform}`);
      if (existing !== undefined && existing !== e.platform_id) {
        problems.push({
          line: e.line,
          message: `${e.entity} ${JSON.stringify(e.canonical_key)} already maps to ${e.platform} id ${JSON.stringify(existing)} in the crosswalk (one row per entity per platform)`,
        });
      }
    }
    if (problems.length) throw new CsvFileError(file, problems);
    const result: ImportResult = { inserted: 0, updated: 0, unchanged: 0 };
    const changed: CrosswalkEntry[] = [];
    for (const e of entries) {
      const r = byId.get(`${e.entity}\u0000${e.platform}\u0000${e.platform_id}`);
      if (!r) result.inserted++;
      else if (r.canonical_key === e.canonical_key && r.source === 'imported' && Number(r.confidence) === 1) {
        result.unchanged++;
        continue;
      } else result.updated++;
      changed.push(e);
    }
    if (changed.length) {
      await tx.batch(
        `INSERT INTO ${names.core}.entity_map (entity_type, platform, platform_id, canonical_key, source, confidence, updated_at)
         VALUES (:entity, :platform, :id, :key, 'imported', 1, :now)
         ON DUPLICATE KEY UPDATE canonical_key = VALUES(canonical_key), source = 'imported', confidence = 1, updated_at = VALUES(updated_at)`,
        changed.map((e) => ({
          entity: e.entity,
          platform: e.platform,
          id: e.platform_id,
          key: e.canonical_key,
          now: toSqlDateTime(now),
        })),
      );
    }
    return result;
  });
}

function sortProblems(p: CsvProblem[]): CsvProblem[] {
  return [...p].sort((a, b) => a.line - b.line);
}
