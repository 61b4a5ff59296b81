import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import { toSqlDateTime, DAY_MS } from '../util/time.js';
import type { Logger } from '../util/logger.js';

/**
 * Raw clicks (and quarantined records) are purged after `privacy.clickRetentionDays` (default 120,
 * docs/design.md §4); hourly rollups, conversions and alert history are kept. Deletes run in bounded batches (by the
 * clicked_at index) so no statement holds locks for long or outlives a Data API call.
 */
export async function purgeOldClicks(
  db: Db,
  names: DbNames,
  platforms: readonly string[],
  retentionDays: number,
  now: Date,
  options: { batch?: number; logger?: Logger } = {},
): Promise<Record<string, number>> {
  const cutoff = toSqlDateTime(now.getTime() - retentionDays * DAY_MS);
  const batch = options.batch ?? 10_000;
  const purged: Record<string, number> = {};
  for (const p of platforms) {
    let total = 0;
    for (;;) {
      const r = await db.execute(
        `DELETE FROM ${names.platform(p)}.clicks WHERE clicked_at < :cutoff ORDER BY clicked_at LIMIT ${batch}`,
        { cutoff },
      );
      total += r.affectedRows;
      if (r.affectedRows < batch) break;
    }
    purged[p] = total;
    options.logger?.info('old clicks purged', { platform: p, rows: total, before: cutoff });
  }
  return purged;
}

/**
 * Quarantined records older than the same retention are deleted too (they are raw platform
 * records, redacted like `raw`): in bounded batches by the created_at index.
 */
export async function purgeOldQuarantine(
  db: Db,
  names: DbNames,
  retentionDays: number,
  now: Date,
  options: { batch?: number; logger?: Logger } = {},
): Promise<number> {
  const cutoff = toSqlDateTime(now.getTime() - retentionDays * DAY_MS);
  const batch = options.batch ?? 10_000;
  let total = 0;
  for (;;) {
    const r = await db.execute(
      `DELETE FROM ${names.core}.quarantine WHERE created_at < :cutoff ORDER BY created_at LIMIT ${batch}`,
      { cutoff },
    );
    total += r.affectedRows;
    if (r.affectedRows < batch) break;
  }
  options.logger?.info('old quarantined records purged', { rows: total, before: cutoff });
  return total;
}
