/**
 * Child process of the benchmark: peak RSS of the normalize worker on the largest input the fetch
 * worker produces. It builds normalize messages exactly at the fetch worker's limits (900,000 bytes
 * minus the 1 KiB envelope, ≤ 5,000 records) and runs `normalizeBatch` on them against the bench
 * database named by BENCH_PREFIX, then prints one JSON line: RSS after the imports (baseline) and
 * the process's peak (process.resourceUsage().maxRSS, which is VmHWM).
 *
 * Usage: BENCH_PREFIX=… BENCH_STREAM=conversions|clicks BENCH_MESSAGES=1|10 node --import tsx bench/normalize-rss.ts
 */
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { deterministicSliceId, Ledger } from '#shared/pipeline/ledger.js';
import { normalizeBatch, type NormalizeInput } from '#shared/pipeline/normalize-worker.js';
import type { PipelineDeps } from '#shared/pipeline/deps.js';
import { createMysqlDb } from '#shared/db/mysql.js';
import { dbNames } from '#shared/db/names.js';
import { systemClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import { benchConfig, DATABASE_URL, HASH_KEY_ENV } from './common.js';
import { clickFields, clickJson, conversionFields, conversionJson } from './synthetic.js';

const prefix = process.env.BENCH_PREFIX!;
const stream = (process.env.BENCH_STREAM ?? 'conversions') as 'conversions' | 'clicks';
const count = Number(process.env.BENCH_MESSAGES ?? 1);
const MAX_BYTES = 900_000 - 1_024;
const MAX_RECORDS = 5_000;

const baselineKb = process.resourceUsage().maxRSS;
const names = dbNames(prefix);
const db = createMysqlDb(DATABASE_URL);
const config = benchConfig(prefix, { startDate: '2026-10-01', cutoverDate: '2026-10-20' });
const deps = {
  ...localPipelineDeps({ config, db, names, env: HASH_KEY_ENV, clock: systemClock, logger: silentLogger }),
  queue: { send: async () => undefined },
} as unknown as PipelineDeps;
const ledger = new Ledger(db, names);
const from = '2026-12-01T00:00:00.000Z';
const to = '2026-12-02T00:00:00.000Z';
const sliceId = deterministicSliceId(`rss-${process.pid}`, 'everflow', stream, from, to);
await ledger.plan([{ sliceId, platform: 'everflow', stream, from, to, backfillId: null }], new Date());
const attempt = await ledger.startFetch(sliceId, new Date());

// Records 10M+ so they do not collide with the throughput run's rows.
let i = 10_000_000;
const messages: NormalizeInput[] = [];
const records: number[] = [];
for (let m = 0; m < count; m++) {
  const chunk: string[] = [];
  let bytes = 0;
  for (;;) {
    const json =
      stream === 'conversions'
        ? conversionJson(conversionFields(i, 20_000_000, Date.UTC(2026, 11, 1) / 1000, 1))
        : clickJson(clickFields(i, 20_000_000, Date.UTC(2026, 11, 1) / 1000, 1));
    const size = Buffer.byteLength(json) + 1;
    if (chunk.length > 0 && (bytes + size > MAX_BYTES || chunk.length >= MAX_RECORDS)) break;
    chunk.push(json);
    bytes += size;
    i++;
  }
  const head = {
    kind: 'normalize',
    sliceId,
    attempt,
    seq: m,
    platform: 'everflow',
    stream,
    fetchedAt: new Date().toISOString(),
    endpoint: 'bench',
  };
  messages.push({ messageId: `m${m}`, body: `${JSON.stringify(head).slice(0, -1)},"records":[${chunk.join(',')}]}` });
  records.push(chunk.length);
}
const beforeKb = process.resourceUsage().maxRSS;
const r = await normalizeBatch(messages, deps);
const peakKb = process.resourceUsage().maxRSS;
await db.close();
process.stdout.write(
  `${JSON.stringify({
    stream,
    messages: count,
    recordsPerMessage: records,
    messageBytes: messages.map((m) => Buffer.byteLength(m.body)),
    baselineKb,
    beforeKb,
    peakKb,
    loaded: r.loaded,
    failed: r.failedIds.length,
    errors: r.errors,
  })}\n`,
);
