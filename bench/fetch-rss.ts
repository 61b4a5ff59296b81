/**
 * Child process of the benchmark: peak RSS of the fetch worker on one HitPath reply (BENCH_FORMAT csv or xml) of
 * BENCH_CLICKS (default 2,000,000) clicks. The parent serves the CSV at BENCH_URL, generated as it
 * is sent; this process runs the real `fetchSlice` (HitPath connector, streamed CSV, the fetch
 * worker's ≤ 900 KB normalize messages, the ledger in the bench database BENCH_PREFIX) with a
 * queue that counts the messages and drops them, then prints one JSON line.
 *
 * Usage: BENCH_PREFIX=… BENCH_URL=… BENCH_FROM=… BENCH_TO=… node --import tsx bench/fetch-rss.ts
 */
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import type { PipelineDeps } from '#shared/pipeline/deps.js';
import { fetchSlice } from '#shared/pipeline/fetch-worker.js';
import { Ledger } from '#shared/pipeline/ledger.js';
import { createMysqlDb } from '#shared/db/mysql.js';
import { dbNames } from '#shared/db/names.js';
import { parseConfig } from '#shared/config/load.js';
import { systemClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import { DATABASE_URL, HASH_KEY_ENV } from './common.js';

const baselineKb = process.resourceUsage().maxRSS;
const prefix = process.env.BENCH_PREFIX!;
const from = process.env.BENCH_FROM!;
const to = process.env.BENCH_TO!;
const names = dbNames(prefix);
const db = createMysqlDb(DATABASE_URL);
const config = parseConfig({
  databases: { prefix },
  migration: { legacy: ['hitpath'], target: 'everflow', startDate: '2026-10-01', cutoverDate: '2026-10-20' },
  platforms: {
    everflow: { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'EVERFLOW_API_KEY' },
    hitpath: {
      kind: 'hitpath',
      baseUrl: process.env.BENCH_URL,
      apiKeyEnv: 'HITPATH_API_KEY',
      timezone: 'UTC',
      format: process.env.BENCH_FORMAT === 'xml' ? 'xml' : 'csv',
      rateLimit: { requests: 100, perSeconds: 1 },
    },
  },
});
let messages = 0;
let maxBytes = 0;
const base = localPipelineDeps({
  config,
  db,
  names,
  env: { ...HASH_KEY_ENV, HITPATH_API_KEY: 'bench-key', EVERFLOW_API_KEY: 'unused' },
  clock: systemClock,
  logger: silentLogger,
  retry: { timeoutMs: 600_000 },
});
const deps: PipelineDeps = {
  ...base,
  queue: {
    send: async (_queue: string, bodies: string[]) => {
      messages += bodies.length;
      for (const b of bodies) maxBytes = Math.max(maxBytes, Buffer.byteLength(b));
    },
  } as PipelineDeps['queue'],
};
const sliceId = '00000000-0000-4000-8000-00000000f00d';
await new Ledger(db, names).plan(
  [{ sliceId, platform: 'hitpath', stream: 'clicks', from, to, backfillId: null }],
  new Date(),
);
const started = performance.now();
const out = await fetchSlice({ kind: 'fetch', sliceId, platform: 'hitpath', stream: 'clicks', from, to }, deps);
const seconds = (performance.now() - started) / 1000;
await db.close();
console.log(
  JSON.stringify({
    records: out.records,
    messages,
    maxMessageBytes: maxBytes,
    seconds,
    baselineKb,
    peakKb: process.resourceUsage().maxRSS,
  }),
);
