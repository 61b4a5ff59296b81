import { afterAll, beforeAll, expect, it } from 'vitest';
import { purgeOldClicks, purgeOldQuarantine } from '#shared/pipeline/retention.js';
import { refreshRollups, touchedGroups, upsertClicks } from '#shared/db/upsert.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { clickRow } from '../helpers/factories.js';

let t: TestDatabase;
beforeAll(async () => (t = await freshDatabase(['everflow'])));
afterAll(async () => t.drop());

it('purges raw clicks older than the retention in batches, keeping newer clicks and every rollup', async () => {
  const ev = t.names.platform('everflow');
  const now = new Date('2026-10-01T00:00:00Z');
  const clicks = Array.from({ length: 250 }, (_, i) =>
    clickRow({
      click_id: `k${i}`,
      clicked_at: new Date(now.getTime() - (i < 130 ? 121 : 119) * 86_400_000 + i * 1000).toISOString(),
    }),
  );
  await upsertClicks(t.db, ev, clicks);
  await refreshRollups(
    t.db,
    ev,
    'clicks',
    touchedGroups(clicks, (r: { clicked_at: string }) => r.clicked_at),
  );
  const purged = await purgeOldClicks(t.db, t.names, ['everflow'], 120, now, { batch: 50 });
  expect(purged).toEqual({ everflow: 130 });
  const [r] = await t.db.query<{ left: number; oldest: string; rolled: string }>(
    `SELECT (SELECT COUNT(*) FROM ${ev}.clicks) AS \`left\`, (SELECT MIN(clicked_at) FROM ${ev}.clicks) AS oldest, (SELECT SUM(clicks) FROM ${ev}.hourly_rollups) AS rolled`,
  );
  expect(r.left).toBe(120);
  expect(r.oldest >= '2026-06-03').toBe(true);
  expect(r.rolled).toBe('250');
});

it('purges quarantined records older than the retention, keeping newer ones', async () => {
  const now = new Date('2026-10-01T00:00:00Z');
  for (const [i, daysAgo] of [121, 130, 119, 1].entries())
    await t.db.execute(
      `INSERT INTO ${t.names.core}.quarantine (platform, stream, record_hash, reason, record, created_at)
       VALUES ('everflow', 'conversions', :h, 'r', '{}', :at)`,
      {
        h: String(i).repeat(64),
        at: new Date(now.getTime() - daysAgo * 86_400_000).toISOString().slice(0, 23).replace('T', ' '),
      },
    );
  expect(await purgeOldQuarantine(t.db, t.names, 120, now, { batch: 1 })).toBe(2);
  const [r] = await t.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t.names.core}.quarantine`);
  expect(Number(r.n)).toBe(2);
});
