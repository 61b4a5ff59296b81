import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import type { PlatformIds } from './types.js';

/**
 * The entity crosswalk (`<prefix>_core.entity_map`) loaded once per evaluation. It is small (one row
 * per entity per platform: thousands, not millions), so rules look entities up in memory and name
 * subjects with every platform's id. An entity missing from the crosswalk is keyed `<platform>:<id>`
 * and its subject shows only the id it was seen with.
 */

export type EntityType = 'affiliate' | 'offer' | 'advertiser';

export class Crosswalk {
  private readonly toKey = new Map<string, string>();
  private readonly toIds = new Map<string, PlatformIds>();

  constructor(rows: readonly { entity_type: string; platform: string; platform_id: string; canonical_key: string }[]) {
    const sorted = [...rows].sort((a, b) => (a.platform < b.platform ? -1 : a.platform > b.platform ? 1 : 0));
    for (const r of sorted) {
      this.toKey.set(`${r.entity_type}\u0000${r.platform}\u0000${r.platform_id}`, r.canonical_key);
      const k = `${r.entity_type}\u0000${r.canonical_key}`;
      const ids = this.toIds.get(k) ?? {};
      // One row per entity per platform is the contract; if an import broke it, keep the first id.
      if (!(r.platform in ids)) ids[r.platform] = r.platform_id;
      this.toIds.set(k, ids);
    }
  }

  static async load(db: Db, names: DbNames): Promise<Crosswalk> {
    const rows = await db.query<{ entity_type: string; platform: string; platform_id: string; canonical_key: string }>(
      `SELECT entity_type, platform, platform_id, canonical_key FROM ${names.core}.entity_map`,
    );
    return new Crosswalk(rows);
  }

  /** The canonical key, or undefined when the entity is not mapped. */
  canonical(type: EntityType, platform: string, id: string): string | undefined {
    return this.toKey.get(`${type}\u0000${platform}\u0000${id}`);
  }

  /** The canonical key, or `<platform>:<id>` for an unmapped entity (stable fingerprint key). */
  keyOf(type: EntityType, platform: string, id: string): string {
    return this.canonical(type, platform, id) ?? `${platform}:${id}`;
  }

  /** Every platform's id for a canonical key (`{}` when unknown). */
  idsOf(type: EntityType, canonicalKey: string): PlatformIds {
    return { ...(this.toIds.get(`${type}\u0000${canonicalKey}`) ?? {}) };
  }

  /**
   * The subject ids of an entity seen as `id` on `platform`: every platform's id through the
   * crosswalk, plus the observed id(s) (which win over the crosswalk for the platform they came from).
   */
  subjectIds(type: EntityType, seen: Record<string, string>): PlatformIds {
    let ids: PlatformIds = {};
    for (const [platform, id] of Object.entries(seen)) {
      const key = this.canonical(type, platform, id);
      if (key) ids = { ...this.idsOf(type, key), ...ids };
    }
    return { ...ids, ...seen };
  }

  /** The platform ids mapped to `canonicalKey` on `platform` (normally one). */
  platformIdsOf(type: EntityType, canonicalKey: string, platform: string): string[] {
    const id = this.idsOf(type, canonicalKey)[platform];
    return id === undefined ? [] : [id];
  }
}
