import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import type { EntityType } from './crosswalk.js';
import { idsText } from './common.js';

const TABLE: Record<EntityType, string> = { affiliate: 'affiliates', offer: 'offers', advertiser: 'advertisers' };

/**
 * Human labels for summaries: `Acme Media (hitpath 1001 / everflow 57)`. The name comes from the
 * first platform (in the ids' order) whose entity table knows the id; ids alone when none does.
 * Cached per evaluation; only the handful of entities that appear in findings are looked up.
 */
export class EntityLabels {
  private readonly cache = new Map<string, string | null>();
  constructor(
    private readonly db: Db,
    private readonly names: DbNames,
    private readonly platforms: readonly string[],
  ) {}

  async name(type: EntityType, platform: string, id: string): Promise<string | null> {
    if (!this.platforms.includes(platform)) return null;
    const k = `${type}\u0000${platform}\u0000${id}`;
    if (this.cache.has(k)) return this.cache.get(k) ?? null;
    const rows = await this.db.query<{ name: string }>(
      `SELECT name FROM ${this.names.platform(platform)}.${TABLE[type]} WHERE id = :id`,
      { id },
    );
    const name = rows[0]?.name ?? null;
    this.cache.set(k, name);
    return name;
  }

  async label(type: EntityType, ids: Record<string, string> | undefined): Promise<string> {
    if (!ids) return '?';
    for (const [p, id] of Object.entries(ids)) {
      const n = await this.name(type, p, id);
      if (n) return `${n} (${idsText(ids)})`;
    }
    return idsText(ids);
  }
}
