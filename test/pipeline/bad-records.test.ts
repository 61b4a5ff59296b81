import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config/load.js';
import type { Db } from '#shared/db/port.js';
import type { PipelineDeps } from '#shared/pipeline/deps.js';
import { deterministicSliceId, Ledger } from '#shared/pipeline/ledger.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { type NormalizeInput, normalizeBatch } from '#shared/pipeline/normalize-worker.js';
import { ManualClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { baseConfig } from '../rules/helpers.js';

/**
 * No record poisons a batch (docs/design.md §5): one message of 5,000 good HitPath sales plus each
 * kind of value real affiliates and platforms send that a column cannot hold, through the normalize
 * path on MariaDB. Every good record loads, each bad one is quarantined alone with a reason that
 * names the field, nothing is dead-lettered, the slice's books balance.
 */

const HASH_KEY = 'test-hash-key';
const hash = (v: string) => createHmac('sha256', HASH_KEY).update(v).digest('hex');
const NOW = new Date('2026-10-20T00:00:00Z');

let t: TestDatabase;
let deps: PipelineDeps;
let ledger: Ledger;

function setup(db: Db, hashIps: boolean): PipelineDeps {
  const config = parseConfig(baseConfig(t.names.prefix, { privacy: { hashIps } }), 'test config');
  const base = localPipelineDeps({
    config,
    db,
    names: t.names,
    env: { DUALTRACK_HASH_KEY: HASH_KEY },
    clock: new ManualClock(NOW),
    logger: silentLogger,
  });
  return { ...base, queue: { send: async () => undefined } } as unknown as PipelineDeps;
}

beforeAll(async () => {
  t = await freshDatabase(['everflow', 'hitpath']);
  deps = setup(t.db, false);
  ledger = new Ledger(t.db, t.names);
  // A refusal the limits cannot foresee (a constraint this install added): the database itself says no.
  await t.db.execute(
    `ALTER TABLE ${t.names.platform('hitpath')}.conversions ADD CONSTRAINT test_refused CHECK (sub2 IS NULL OR sub2 <> 'refused-by-db')`,
  );
});
afterAll(async () => t?.drop());

const sale = (i: number, over: Record<string, string> = {}): Record<string, string> => ({
  hitid: `H${i}`,
  date: '2026-10-12 09:15:00',
  saledate: '2026-10-12 09:47:30',
  campaignid: String(70 + (i % 5)),
  affiliateid: String(1000 + (i % 40)),
  c1: `sub-${i}`,
  c2: '',
  c3: '',
  ip: `203.0.113.${i % 250}`,
  transid: `ORD-${i}`,
  amount: '45.00',
  payout: '30.00',
  status: 'Approved',
  event: '',
  ...over,
});

async function message(
  stream: 'conversions',
  records: unknown[],
  name: string,
): Promise<NormalizeInput & { sliceId: string }> {
  const from = '2026-10-12T00:00:00.000Z';
  const to = '2026-10-13T00:00:00.000Z';
  const sliceId = deterministicSliceId(name, 'hitpath', stream, from, to);
  await ledger.plan([{ sliceId, platform: 'hitpath', stream, from, to, backfillId: null }], NOW);
  const attempt = await ledger.startFetch(sliceId, NOW);
  await ledger.finishFetch(sliceId, attempt, { pages: 1, records: records.length, messages: 1 }, NOW);
  const body = JSON.stringify({
    kind: 'normalize',
    sliceId,
    attempt,
    seq: 0,
    platform: 'hitpath',
    stream,
    fetchedAt: from,
    endpoint: '/api.php?type=sales',
    records,
  });
  return { messageId: `${name}-0`, body, sliceId };
}

async function sliceBooks(sliceId: string) {
  const [r] = await t.db.query<Record<string, string | number>>(
    `SELECT status, records_fetched, rows_loaded, rows_quarantined, records_dlq FROM ${t.names.core}.fetch_slices WHERE slice_id = :id`,
    { id: sliceId },
  );
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'status' ? v : Number(v)]));
}

describe('one bad value never sinks its neighbours', () => {
  it('5,000 good sales load; each bad kind is quarantined alone, naming the field; nothing dead-letters', async () => {
    const good = Array.from({ length: 5000 }, (_, i) => sale(i));
    const bad = [
      sale(90001, { c1: 'x'.repeat(300) }), // an affiliate's 300-character sub id
      sale(90002, { amount: '99999999999999999999' }), // more than DECIMAL(18,6) holds
      sale(90003, { hitid: `E${'9'.repeat(70)}` }), // an id longer than the column
      sale(90004, { saledate: '2026-02-30 10:00:00' }), // a date that does not exist
      sale(90005, { saledate: '2026-13-45 99:00' }),
      sale(90006, { c2: 'refused-by-db', email: 'buyer@example.com' }), // refused by the database itself
    ];
    const withEmail = sale(90007, { c1: 'buyer@example.com' }); // loads, the e-mail stored as its hash
    const records = [...good.slice(0, 2500), ...bad, withEmail, ...good.slice(2500)];
    const m = await message('conversions', records, 'bad-kinds');
    const out = await normalizeBatch([{ ...m, receiveCount: 1 }], deps, { maxReceiveCount: 5 });

    expect(out.failedIds).toEqual([]);
    expect(out).toMatchObject({ loaded: 5001, quarantined: 6, poison: 0 });
    const hp = t.names.platform('hitpath');
    const [n] = await t.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${hp}.conversions`);
    expect(Number(n.n)).toBe(5001);
    const q = await t.db.query<{ reason: string; record: string | Record<string, unknown> }>(
      `SELECT reason, record FROM ${t.names.core}.quarantine WHERE slice_id = :s ORDER BY reason`,
      { s: m.sliceId },
    );
    const reasons = q.map((r) => r.reason);
    expect(reasons).toHaveLength(6);
    const has = (re: RegExp) =>
      expect(
        reasons.some((r) => re.test(r)),
        `${re} in\n${reasons.join('\n')}`,
      ).toBe(true);
    has(/^hitpath conversions: conversion_id H90001: sub1: longer than the column's 255 characters \(300\)/);
    has(
      /^hitpath conversions: column "amount" \(revenue\): out of range for DECIMAL\(18,6\), got "99999999999999999999"/,
    );
    has(/^hitpath conversions: conversion_id E9{70}: conversion_id: longer than the column's 64 characters \(71\)/);
    has(/^hitpath conversions: column "saledate" \(converted_at\): expected a time .*got "2026-02-30 10:00:00"/);
    has(/^hitpath conversions: column "saledate" \(converted_at\): expected a time .*got "2026-13-45 99:00"/);
    has(/^hitpath conversions: conversion_id H90006: the database refused the row: .*test_refused/);
    // The quarantine keeps the record redacted like `raw`: the e-mail is a keyed hash.
    const refused = q.find((r) => r.reason.includes('H90006'))!;
    const rec = typeof refused.record === 'string' ? JSON.parse(refused.record) : refused.record;
    expect(rec.email).toBe(`hmac:${hash('buyer@example.com')}`);
    const [e] = await t.db.query<{ sub1: string }>(`SELECT sub1 FROM ${hp}.conversions WHERE conversion_id = 'H90007'`);
    expect(e.sub1).toBe(`hmac:${hash('buyer@example.com')}`);

    expect(await sliceBooks(m.sliceId)).toEqual({
      status: 'done',
      records_fetched: 5007,
      rows_loaded: 5001,
      rows_quarantined: 6,
      records_dlq: 0,
    });
  });

  it('a message that fails on its last delivery is counted in the ledger as dead-lettered', async () => {
    // A database that refuses every conversion upsert as if the connection dropped.
    const flaky: Db = {
      ...t.db,
      query: t.db.query.bind(t.db),
      execute: t.db.execute.bind(t.db),
      close: t.db.close.bind(t.db),
      transaction: (fn) =>
        t.db.transaction((tx) =>
          fn({
            ...tx,
            query: tx.query.bind(tx),
            transaction: tx.transaction.bind(tx),
            close: tx.close.bind(tx),
            execute: (sql, params) =>
              /INTO \S+\.conversions/.test(sql)
                ? Promise.reject(new Error('connection lost'))
                : tx.execute(sql, params),
          }),
        ),
    };
    const d = setup(flaky, false);
    const m = await message('conversions', [sale(1), sale(2)], 'dead-letter');
    const early = await normalizeBatch([{ ...m, receiveCount: 4 }], d, { maxReceiveCount: 5 });
    expect(early.failedIds).toEqual([m.messageId]);
    expect((await sliceBooks(m.sliceId)).records_dlq).toBe(0);
    const last = await normalizeBatch([{ ...m, receiveCount: 5 }], d, { maxReceiveCount: 5 });
    expect(last.failedIds).toEqual([m.messageId]);
    // The books balance (fetched = loaded + quarantined + dead-lettered); the slice waits for the replay.
    expect(await sliceBooks(m.sliceId)).toEqual({
      status: 'fetched',
      records_fetched: 2,
      rows_loaded: 0,
      rows_quarantined: 0,
      records_dlq: 2,
    });
    // The redrive that finally loads it replaces the dead letter in the books and completes the slice.
    const redriven = await normalizeBatch([{ ...m, receiveCount: 1 }], deps, { maxReceiveCount: 5 });
    expect(redriven.failedIds).toEqual([]);
    expect(await sliceBooks(m.sliceId)).toMatchObject({ status: 'done', rows_loaded: 2, records_dlq: 0 });
  });

  it('hashIps also hashes the IP addresses inside the quarantined record', async () => {
    const d = setup(t.db, true);
    const m = await message('conversions', [sale(3, { status: 'Mystery', ip: '198.51.100.7' })], 'hash-ips');
    await normalizeBatch([m], d);
    const [q] = await t.db.query<{ record: string | Record<string, unknown> }>(
      `SELECT record FROM ${t.names.core}.quarantine WHERE slice_id = :s`,
      { s: m.sliceId },
    );
    const rec = typeof q.record === 'string' ? JSON.parse(q.record) : q.record;
    expect(rec.ip).toBe(`hmac:${hash('198.51.100.7')}`);
    expect(JSON.stringify(rec)).not.toContain('198.51.100.7');
  });
});
