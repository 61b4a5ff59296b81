import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config/load.js';
import type { Db } from '#shared/db/port.js';
import { deterministicSliceId, Ledger } from '#shared/pipeline/ledger.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { normalizeBatch, type NormalizeInput } from '#shared/pipeline/normalize-worker.js';
import type { PipelineDeps } from '#shared/pipeline/deps.js';
import { ManualClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import { freshDatabase, tableDigest, type TestDatabase } from '../helpers/db.js';

/**
 * normalizeBatch's ledger roll-up inside the load transaction and its once-per-batch rollup refresh
 * and watermark: concurrent messages of one slice, and a refresh that fails after the rows loaded.
 */

const template = (
  JSON.parse(readFileSync(new URL('../fixtures/everflow/clicks.json', import.meta.url), 'utf8')) as {
    clicks: Record<string, unknown>[];
  }
).clicks[0];
const HOUR = 3_600_000;
const START = Date.UTC(2026, 9, 5, 10);

let t: TestDatabase;
let deps: PipelineDeps;
let ledger: Ledger;
beforeAll(async () => {
  t = await freshDatabase(['everflow', 'hitpath']);
  const config = parseConfig({
    baseCurrency: 'USD',
    databases: { prefix: t.names.prefix },
    migration: { legacy: ['hitpath'], target: 'everflow', startDate: '2026-10-01', cutoverDate: '2026-10-20' },
    platforms: {
      everflow: { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'EVERFLOW_API_KEY' },
      hitpath: {
        kind: 'hitpath',
        baseUrl: 'https://reports.example.net/api.php',
        apiKeyEnv: 'HITPATH_API_KEY',
        timezone: 'America/New_York',
      },
    },
  });
  const base = localPipelineDeps({
    config,
    db: t.db,
    names: t.names,
    env: { DUALTRACK_HASH_KEY: 'test-hash-key' },
    clock: new ManualClock(new Date(START + 30 * 86_400_000)),
    logger: silentLogger,
  });
  deps = { ...base, queue: { send: async () => undefined } } as unknown as PipelineDeps;
  ledger = new Ledger(t.db, t.names);
});
afterAll(async () => t?.drop());

function click(id: string, at: number, affiliate: number, offer: number): Record<string, unknown> {
  const rel = template.relationship as Record<string, Record<string, unknown>>;
  return {
    ...template,
    transaction_id: id,
    unix_timestamp: Math.floor(at / 1000),
    relationship: {
      ...rel,
      offer: { ...rel.offer, network_offer_id: offer },
      affiliate: { ...rel.affiliate, network_affiliate_id: affiliate },
    },
  };
}

/** Plans, starts and finishes a one-hour scheduled click slice of `messages` messages of `perMessage` clicks; returns the messages. */
async function slice(
  hour: number,
  messages: number,
  perMessage: number,
): Promise<{ sliceId: string; inputs: NormalizeInput[] }> {
  const from = new Date(hour).toISOString();
  const to = new Date(hour + HOUR).toISOString();
  const sliceId = deterministicSliceId('normalize-batch-test', 'everflow', 'clicks', from, to);
  const now = new Date(START);
  await ledger.plan([{ sliceId, platform: 'everflow', stream: 'clicks', from, to, backfillId: null }], now);
  const attempt = await ledger.startFetch(sliceId, now);
  const inputs = Array.from({ length: messages }, (_, seq) => {
    const records = Array.from({ length: perMessage }, (_, i) =>
      click(`${hour}-${seq}-${i}`, hour + (((seq * perMessage + i) * 997) % HOUR), 1 + ((seq + i) % 9), 1 + (i % 4)),
    );
    const body = JSON.stringify({
      kind: 'normalize',
      sliceId,
      attempt,
      seq,
      platform: 'everflow',
      stream: 'clicks',
      fetchedAt: from,
      endpoint: '/v1/networks/reporting/clicks/stream',
      records,
    });
    return { messageId: `${sliceId}-${seq}`, body };
  });
  await ledger.finishFetch(sliceId, attempt, { pages: 1, records: messages * perMessage, messages }, now);
  return { sliceId, inputs };
}

async function sliceRow(sliceId: string) {
  const [r] = await t.db.query<{
    status: string;
    messages_done: number;
    records_fetched: number;
    rows_loaded: number;
    rows_quarantined: number;
    records_dlq: number;
  }>(
    `SELECT status, messages_done, records_fetched, rows_loaded, rows_quarantined, records_dlq FROM ${t.names.core}.fetch_slices WHERE slice_id = :id`,
    { id: sliceId },
  );
  return r;
}

async function rollupsMatchClicks(): Promise<void> {
  const ev = t.names.platform('everflow');
  const [r] = await t.db.query<{ base: number; rolled: string | null; bad: number }>(
    `SELECT (SELECT COUNT(*) FROM ${ev}.clicks) AS base, (SELECT SUM(clicks) FROM ${ev}.hourly_rollups) AS rolled,
            (SELECT COUNT(*) FROM (SELECT DATE_FORMAT(c.clicked_at, '%Y-%m-%d %H:00:00') AS h, c.affiliate_id, c.offer_id, COUNT(*) AS n FROM ${ev}.clicks c
                                    GROUP BY DATE_FORMAT(c.clicked_at, '%Y-%m-%d %H:00:00'), c.affiliate_id, c.offer_id) x
               LEFT JOIN ${ev}.hourly_rollups r ON r.hour = x.h AND r.affiliate_id = x.affiliate_id AND r.offer_id = x.offer_id
              WHERE r.clicks IS NULL OR r.clicks <> x.n) AS bad`,
  );
  expect(Number(r.rolled)).toBe(r.base);
  expect(r.bad).toBe(0);
}

describe('normalizeBatch', () => {
  it('messages of one slice loaded at the same time on separate connections complete the slice once, with counts that add up', async () => {
    const { sliceId, inputs } = await slice(START, 8, 60);
    // Eight one-message batches at once: eight transactions on eight pool connections.
    const results = await Promise.all(inputs.map((m) => normalizeBatch([m], deps)));
    expect(results.flatMap((r) => r.failedIds)).toEqual([]);
    expect(await sliceRow(sliceId)).toEqual({
      status: 'done',
      messages_done: 8,
      records_fetched: 480,
      rows_loaded: 480,
      rows_quarantined: 0,
      records_dlq: 0,
    });
    expect(await ledger.watermark('everflow', 'clicks')).toEqual(new Date(START + HOUR));
    await rollupsMatchClicks();
  });

  it('a rollup refresh that fails after the rows loaded fails the batch’s messages; their redelivery completes the rollups, and a third delivery changes nothing', async () => {
    const a = await slice(START + HOUR, 2, 50);
    const b = await slice(START + 2 * HOUR, 1, 40);
    const batch = [...a.inputs, ...b.inputs];
    let failRefresh = true;
    const flaky: Db = new Proxy(t.db, {
      get(target, prop, receiver) {
        if (prop === 'execute') {
          return async (sql: string, params?: Record<string, never>) => {
            if (failRefresh && sql.includes('hourly_rollups')) throw new Error('connection lost during the refresh');
            return target.execute(sql, params);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const first = await normalizeBatch(batch, { ...deps, db: flaky });
    expect(first.failedIds.sort()).toEqual(batch.map((m) => m.messageId).sort());
    expect(first.errors[batch[0].messageId]).toMatch(/connection lost during the refresh/);
    expect(first.loaded).toBe(0);
    // The rows and the ledger committed; only the rollups are behind until the redelivery.
    expect((await sliceRow(a.sliceId)).status).toBe('done');
    const ev = t.names.platform('everflow');
    const [behind] = await t.db.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM ${ev}.hourly_rollups WHERE hour >= :h`,
      { h: new Date(START + HOUR) },
    );
    expect(behind.n).toBe(0);

    failRefresh = false;
    const second = await normalizeBatch(batch, deps);
    expect(second.failedIds).toEqual([]);
    expect(second.loaded).toBe(140);
    await rollupsMatchClicks();
    expect(await sliceRow(a.sliceId)).toEqual({
      status: 'done',
      messages_done: 2,
      records_fetched: 100,
      rows_loaded: 100,
      rows_quarantined: 0,
      records_dlq: 0,
    });
    expect(await ledger.watermark('everflow', 'clicks')).toEqual(new Date(START + 3 * HOUR));

    const tables = [
      `${ev}.clicks`,
      `${ev}.hourly_rollups`,
      `${t.names.core}.fetch_slices`,
      `${t.names.core}.slice_messages`,
      `${t.names.core}.watermarks`,
    ];
    const before = await tableDigest(t.db, tables);
    expect((await normalizeBatch([...batch].reverse(), deps)).failedIds).toEqual([]);
    expect(await tableDigest(t.db, tables)).toBe(before);
  });
});
