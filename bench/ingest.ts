import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import type { Db, ExecResult, Params, Row } from '#shared/db/port.js';
import mysql from 'mysql2/promise';
import type { Stream } from '#shared/model/canonical.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { deterministicSliceId, Ledger } from '#shared/pipeline/ledger.js';
import type { NormalizeMessage } from '#shared/pipeline/messages.js';
import { normalizeBatch, type NormalizeInput } from '#shared/pipeline/normalize-worker.js';
import { hmacContext, type PipelineDeps } from '#shared/pipeline/deps.js';
import { conversionRecordSchema, clickRecordSchema } from '#shared/platforms/everflow/schemas.js';
import { touchedGroups, upsertClicks, upsertConversions } from '#shared/db/upsert.js';
import type { ClickRow, ConversionRow } from '#shared/model/canonical.js';
import { systemClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import {
  benchConfig,
  freshBenchDatabase,
  HASH_KEY_ENV,
  lanes,
  log,
  rawConnection,
  type BenchDatabase,
} from './common.js';
import {
  clickFields,
  clickJson,
  conversionFields,
  conversionJson,
  COUNTRY_CODE_OF,
  fakeRowHash,
  USER_AGENTS,
  type ClickFields,
  type ConversionFields,
} from './synthetic.js';

/**
 * Ingestion benchmark (issue "Ingestion pipeline"): the normalize stage (shared/pipeline/
 * normalize-worker.ts `normalizeBatch`, the code the normalize Lambda and the local runner run)
 * loading synthetic Everflow conversions and clicks into MariaDB, beside two ceilings measured on
 * the same machine in the same run with the same rows and columns:
 *  - a plain multi-row INSERT (no ON DUPLICATE KEY, no rollups, no ledger), batches of BATCH rows,
 *    autocommit (one transaction per batch statement), on as many connections as the pipeline's
 *    normalize concurrency;
 *  - LOAD DATA LOCAL INFILE, streamed through mysql2's infileStreamFactory, 100k rows a statement.
 *
 * The pipeline is driven the way the fetch worker + local runner drive it: slices as the Everflow
 * connector cuts them (clicks 1 h, conversions 24 h), planned and started in the fetch ledger;
 * records serialized into normalize messages under the same limits (900,000 bytes − 1 KiB
 * envelope, ≤ 5,000 records); batches of 10 messages (LocalQueue's and the SQS event source's
 * batch size) on 2 lanes (the local runner's normalize concurrency).
 */

export const DAYS = 30;
/** 2026-10-01T00:00:00Z: any fixed start works; nothing depends on it. */
export const START_SEC = Date.UTC(2026, 9, 1) / 1000;
const MAX_MESSAGE_BYTES = 900_000 - 1_024;
const MAX_RECORDS = 5_000;
const BATCH_MESSAGES = 10;
const NORMALIZE_CONCURRENCY = 2;

export interface StreamResult {
  stream: 'conversions' | 'clicks';
  rows: number;
  messages: number;
  avgRecordsPerMessage: number;
  avgMessageBytes: number;
  pipeline: { wallMs: number; generateMs: number; rowsPerSec: number; rowsPerSecExGen: number };
  insert: {
    wallMs: number;
    generateMs: number;
    rowsPerSec: number;
    rowsPerSecExGen: number;
    batchRows: number;
    concurrency: number;
  };
  loadData:
    | { wallMs: number; generateMs: number; rowsPerSec: number; rowsPerSecExGen: number; rowsPerStatement: number }
    | { error: string };
  /** Pipeline rows/s (excluding synthetic generation) ÷ INSERT rows/s (excluding generation). */
  ratioToInsert: number;
  /** Messages redelivered after a failure (as the queue would), and why they failed. */
  retries: number;
  errorKinds: Record<string, number>;
  /** Lane-milliseconds the normalize lanes spent waiting on each kind of statement, and in JS (the rest of normalizeBatch). */
  breakdownMs: Record<string, number>;
  dbCalls: Record<string, number>;
  cpu: CpuProfile;
  checks: string[];
}

export interface IngestResult {
  streams: StreamResult[];
  localInfile: string;
  prefix: string;
}

type Kind = 'conversions' | 'clicks';

/** Produces the normalize messages of one stream, slice by slice, recording each slice in the ledger as the fetch worker does. */
class MessageProducer {
  private i = 0;
  private seq = 0;
  private sliceIndex = -1;
  private sliceEnd = 0;
  private sliceId = '';
  private attempt = 1;
  private lock: Promise<unknown> = Promise.resolve();
  generateMs = 0;
  messages = 0;
  bytes = 0;
  private readonly sliceSec: number;
  private readonly fetchedAt = new Date().toISOString();

  constructor(
    private readonly kind: Kind,
    private readonly n: number,
    private readonly ledger: Ledger,
    private readonly runKey: string,
  ) {
    this.sliceSec = (kind === 'clicks' ? 1 : 24) * 3600;
  }

  private recordAt(i: number): { json: string; time: number } {
    if (this.kind === 'conversions') {
      const f = conversionFields(i, this.n, START_SEC, DAYS);
      return { json: conversionJson(f), time: f.convertedAt };
    }
    const f = clickFields(i, this.n, START_SEC, DAYS);
    return { json: clickJson(f), time: f.clickedAt };
  }

  /** Up to `k` messages (serialized: lanes take turns). Empty when the stream is exhausted. */
  take(k: number): Promise<NormalizeInput[]> {
    const p = this.lock.then(() => this.takeNow(k));
    this.lock = p.catch(() => undefined);
    return p;
  }

  private async finishSlice(): Promise<void> {
    if (this.sliceIndex < 0) return;
    await this.ledger.finishFetch(
      this.sliceId,
      this.attempt,
      { pages: 1, records: this.sliceRecords, messages: this.seq },
      new Date(),
    );
  }
  private sliceRecords = 0;

  private async startSlice(time: number): Promise<void> {
    await this.finishSlice();
    this.sliceIndex = Math.floor((time - START_SEC) / this.sliceSec);
    const from = new Date((START_SEC + this.sliceIndex * this.sliceSec) * 1000).toISOString();
    const to = new Date((START_SEC + (this.sliceIndex + 1) * this.sliceSec) * 1000).toISOString();
    this.sliceEnd = START_SEC + (this.sliceIndex + 1) * this.sliceSec;
    this.sliceId = deterministicSliceId(this.runKey, 'everflow', this.kind, from, to);
    await this.ledger.plan(
      [{ sliceId: this.sliceId, platform: 'everflow', stream: this.kind, from, to, backfillId: null }],
      new Date(),
    );
    this.attempt = await this.ledger.startFetch(this.sliceId, new Date());
    this.seq = 0;
    this.sliceRecords = 0;
  }

  private async takeNow(k: number): Promise<NormalizeInput[]> {
    const out: NormalizeInput[] = [];
    while (out.length < k && this.i < this.n) {
      const t0 = performance.now();
      let first = this.recordAt(this.i);
      this.generateMs += performance.now() - t0;
      if (this.sliceIndex < 0 || first.time >= this.sliceEnd) await this.startSlice(first.time);
      const g0 = performance.now();
      const chunk: string[] = [];
      let bytes = 0;
      // One message: records of the current slice under the byte and record limits (fetch-worker.ts).
      while (true) {
        const size = Buffer.byteLength(first.json, 'utf8') + 1;
        if (chunk.length > 0 && (bytes + size > MAX_MESSAGE_BYTES || chunk.length >= MAX_RECORDS)) break;
        chunk.push(first.json);
        bytes += size;
        this.i++;
        if (this.i >= this.n) break;
        first = this.recordAt(this.i);
        if (first.time >= this.sliceEnd) break;
      }
      const head: Omit<NormalizeMessage, 'records'> = {
        kind: 'normalize',
        sliceId: this.sliceId,
        attempt: this.attempt,
        seq: this.seq++,
        platform: 'everflow',
        stream: this.kind as Stream,
        fetchedAt: this.fetchedAt,
        endpoint:
          this.kind === 'clicks' ? '/v1/networks/reporting/clicks/stream' : '/v1/networks/reporting/conversions',
      };
      const body = `${JSON.stringify(head).slice(0, -1)},"records":[${chunk.join(',')}]}`;
      this.sliceRecords += chunk.length;
      this.messages++;
      this.bytes += body.length;
      out.push({ messageId: `${this.kind}-${this.messages}`, body });
      this.generateMs += performance.now() - g0;
    }
    if (this.i >= this.n && out.length === 0 && this.sliceIndex >= 0) {
      await this.finishSlice();
      this.sliceIndex = -2; // finished once
    }
    return out;
  }
}

/** Where the normalize lanes wait on the database, by kind of statement (lane-milliseconds). */
export class TimingDb implements Db {
  readonly dialect: Db['dialect'];
  constructor(
    private readonly inner: Db,
    readonly ms: Record<string, number> = {},
    readonly calls: Record<string, number> = {},
  ) {
    this.dialect = inner.dialect;
  }
  private add(kind: string, t0: number) {
    this.ms[kind] = (this.ms[kind] ?? 0) + performance.now() - t0;
    this.calls[kind] = (this.calls[kind] ?? 0) + 1;
  }
  private kind(sql: string): string {
    if (/hourly_rollups/.test(sql)) return 'rollup refresh';
    if (/fetch_slices|slice_messages|watermarks/.test(sql)) return 'ledger';
    if (/INSERT INTO \w+\.(conversions|clicks)/.test(sql)) return 'row upsert';
    if (/quarantine/.test(sql)) return 'quarantine';
    return 'other';
  }
  async query<T extends Row = Row>(sql: string, params?: Params): Promise<T[]> {
    const t0 = performance.now();
    try {
      return await this.inner.query<T>(sql, params);
    } finally {
      this.add(this.kind(sql), t0);
    }
  }
  async execute(sql: string, params?: Params): Promise<ExecResult> {
    const t0 = performance.now();
    try {
      return await this.inner.execute(sql, params);
    } finally {
      this.add(this.kind(sql), t0);
    }
  }
  batch(sql: string, paramSets: readonly Params[]): Promise<void> {
    return this.inner.batch(sql, paramSets);
  }
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    let inner = 0;
    const t0 = performance.now();
    try {
      return await this.inner.transaction(async (tx) => {
        const r = await fn(new TimingDb(tx, this.ms, this.calls));
        inner = performance.now();
        return r;
      });
    } finally {
      // Commit (and BEGIN/connection checkout) = the transaction's time outside its statements.
      if (inner) this.add('begin + commit', inner);
      void t0;
    }
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const MAX_RECEIVES = 5;

async function runPipeline(bdb: BenchDatabase, deps: Omit<PipelineDeps, 'queue'>, kind: Kind, n: number) {
  const ledger = new Ledger(bdb.db, bdb.names);
  const producer = new MessageProducer(kind, n, ledger, `bench-${kind}`);
  const timing = new TimingDb(deps.db);
  const fullDeps = { ...deps, db: timing, queue: { send: async () => undefined } } as unknown as PipelineDeps;
  let loaded = 0;
  let normalizeMs = 0;
  const failed: string[] = [];
  // Failed messages go back to the queue, as LocalQueue / SQS redeliver them (maxReceiveCount).
  const redeliver: { m: NormalizeInput; receives: number }[] = [];
  const receives = new Map<string, number>();
  let retries = 0;
  const errorKinds: Record<string, number> = {};
  const t0 = performance.now();
  let lastLog = t0;
  await lanes(NORMALIZE_CONCURRENCY, async () => {
    const batch = redeliver.length
      ? redeliver.splice(0, BATCH_MESSAGES).map((r) => r.m)
      : await producer.take(BATCH_MESSAGES);
    if (batch.length === 0) return redeliver.length > 0;
    const b0 = performance.now();
    const r = await normalizeBatch(batch, fullDeps);
    normalizeMs += performance.now() - b0;
    loaded += r.loaded;
    for (const id of r.failedIds) {
      const k = (receives.get(id) ?? 1) + 1;
      receives.set(id, k);
      // Keep the statement's first words (which table deadlocked), drop the rest.
      const err = r.errors[id].replace(/\[(\S+ \S+ \S+).*$/, '[$1 …]').trim();
      errorKinds[err] = (errorKinds[err] ?? 0) + 1;
      if (k > MAX_RECEIVES) failed.push(`${id}: ${r.errors[id]}`);
      else {
        retries++;
        redeliver.push({ m: batch.find((m) => m.messageId === id)!, receives: k });
      }
    }
    if (r.poison || r.quarantined) failed.push(`poison ${r.poison}, quarantined ${r.quarantined}`);
    if (performance.now() - lastLog > 15_000) {
      lastLog = performance.now();
      log(
        `  pipeline ${kind}: ${loaded.toLocaleString('en-US')} / ${n.toLocaleString('en-US')} rows, ${((loaded / (lastLog - t0)) * 1000).toFixed(0)} rows/s, load ${loadavg()[0].toFixed(1)}`,
      );
    }
    return failed.length === 0;
  });
  // The producer closes the last slice once it is asked again after running dry.
  await producer.take(1);
  const wallMs = performance.now() - t0;
  return {
    wallMs,
    generateMs: producer.generateMs,
    messages: producer.messages,
    bytes: producer.bytes,
    loaded,
    failed,
    retries,
    errorKinds,
    dbMs: timing.ms,
    dbCalls: timing.calls,
    normalizeMs,
  };
}

// ---------------------------------------------------------------------------------------------
// Ceilings: the same canonical rows, written directly.

function sqlTime(sec: number): string {
  const iso = new Date(sec * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

const uaHashes = USER_AGENTS.map((ua) => hmacContext(HASH_KEY_ENV.DUALTRACK_HASH_KEY).hash(ua));
const FETCHED = sqlTime(Math.floor(Date.now() / 1000));

export const CEILING_CONVERSION_COLUMNS = [
  'conversion_id',
  'click_id',
  'transaction_id',
  'order_id',
  'converted_at',
  'clicked_at',
  'affiliate_id',
  'offer_id',
  'advertiser_id',
  'sub1',
  'sub2',
  'sub3',
  'sub4',
  'sub5',
  'event_name',
  'is_event',
  'status',
  'revenue',
  'payout',
  'sale_amount',
  'currency',
  'ip',
  'user_agent_hash',
  'country_code',
  'raw',
  'first_seen_at',
  'updated_at',
  'row_hash',
];
export const CEILING_CLICK_COLUMNS = [
  'click_id',
  'clicked_at',
  'affiliate_id',
  'offer_id',
  'advertiser_id',
  'sub1',
  'sub2',
  'sub3',
  'sub4',
  'sub5',
  'ip',
  'user_agent_hash',
  'country_code',
  'is_unique',
];

/** The canonical row's values (what the pipeline stores; `raw` is the record text, the same size as its redacted copy). */
function conversionRowValues(f: ConversionFields, i: number): (string | number | null)[] {
  return [
    f.conversionId,
    f.transactionId,
    f.transactionId,
    f.orderId,
    sqlTime(f.convertedAt),
    sqlTime(f.clickedAt),
    String(f.affiliate),
    String(f.offer),
    String(f.advertiser),
    f.sub1,
    f.sub2,
    null,
    null,
    null,
    f.isEvent ? 'Upsell' : null,
    f.isEvent ? 1 : 0,
    f.status,
    f.revenue,
    f.payout,
    f.saleAmount,
    'USD',
    f.ip,
    uaHashes[f.ua],
    COUNTRY_CODE_OF[f.country],
    conversionJson(f),
    FETCHED,
    FETCHED,
    fakeRowHash(i),
  ];
}
function clickRowValues(f: ClickFields): (string | number | null)[] {
  return [
    f.clickId,
    sqlTime(f.clickedAt),
    String(f.affiliate),
    String(f.offer),
    String(f.advertiser),
    f.sub1,
    f.sub2,
    null,
    null,
    null,
    f.ip,
    uaHashes[f.ua],
    COUNTRY_CODE_OF[f.country],
    f.isUnique ? 1 : 0,
  ];
}

function rowValues(kind: Kind, i: number, n: number): (string | number | null)[] {
  return kind === 'conversions'
    ? conversionRowValues(conversionFields(i, n, START_SEC, DAYS), i)
    : clickRowValues(clickFields(i, n, START_SEC, DAYS));
}

async function ceilingTable(kind: Kind, ceilingDb: string, source: string): Promise<string> {
  const conn = await rawConnection();
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${ceilingDb}`);
    await conn.query(`DROP TABLE IF EXISTS ${ceilingDb}.${kind}`);
    await conn.query(`CREATE TABLE ${ceilingDb}.${kind} LIKE ${source}.${kind}`);
  } finally {
    await conn.end();
  }
  return `${ceilingDb}.${kind}`;
}

async function runInsertCeiling(kind: Kind, n: number, table: string, batchRows: number, concurrency: number) {
  const cols = kind === 'conversions' ? CEILING_CONVERSION_COLUMNS : CEILING_CLICK_COLUMNS;
  const conns = await Promise.all(Array.from({ length: concurrency }, () => rawConnection()));
  let next = 0;
  let generateMs = 0;
  const t0 = performance.now();
  await Promise.all(
    conns.map(async (conn) => {
      while (next < n) {
        const from = next;
        const to = Math.min(n, from + batchRows);
        next = to;
        const tuples: string[] = [];
        for (let i = from; i < to; i++) {
          const g0 = performance.now();
          const values = rowValues(kind, i, n);
          generateMs += performance.now() - g0;
          tuples.push(`(${values.map((v) => mysql.escape(v)).join(',')})`);
        }
        // autocommit: each multi-row statement is its own transaction.
        await conn.query(`INSERT INTO ${table} (${cols.join(',')}) VALUES ${tuples.join(',')}`);
      }
    }),
  );
  const wallMs = performance.now() - t0;
  await Promise.all(conns.map((c) => c.end()));
  return { wallMs, generateMs };
}

/** LOAD DATA's default text format: tab-separated, `\N` for NULL, backslash escapes. */
function tsvField(v: string | number | null): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  return /[\t\n\\]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n') : v;
}

async function runLoadDataCeiling(kind: Kind, n: number, table: string, rowsPerStatement: number) {
  const cols = kind === 'conversions' ? CEILING_CONVERSION_COLUMNS : CEILING_CLICK_COLUMNS;
  const conn = await rawConnection();
  let generateMs = 0;
  const t0 = performance.now();
  try {
    for (let from = 0; from < n; from += rowsPerStatement) {
      const to = Math.min(n, from + rowsPerStatement);
      function* lines(): Generator<Buffer> {
        let buf: string[] = [];
        for (let i = from; i < to; i++) {
          const g0 = performance.now();
          const values = rowValues(kind, i, n);
          generateMs += performance.now() - g0;
          buf.push(values.map(tsvField).join('\t'));
          if (buf.length === 1_000) {
            yield Buffer.from(`${buf.join('\n')}\n`, 'utf8');
            buf = [];
          }
        }
        if (buf.length) yield Buffer.from(`${buf.join('\n')}\n`, 'utf8');
      }
      await conn.query({
        sql: `LOAD DATA LOCAL INFILE 'rows.tsv' INTO TABLE ${table} CHARACTER SET utf8mb4 (${cols.join(',')})`,
        infileStreamFactory: () => Readable.from(lines()),
      } as never);
    }
  } finally {
    await conn.end();
  }
  return { wallMs: performance.now() - t0, generateMs };
}

/** Tries to make LOAD DATA LOCAL possible: reports what it found or did. */
async function ensureLocalInfile(): Promise<string> {
  const conn = await rawConnection();
  try {
    const [rows] = await conn.query(`SHOW GLOBAL VARIABLES LIKE 'local_infile'`);
    const value = (rows as { Value: string }[])[0]?.Value;
    if (value === 'ON' || value === '1') return 'local_infile was already ON on the server (not changed)';
    try {
      await conn.query('SET GLOBAL local_infile = 1');
      return 'local_infile was OFF; the bench ran SET GLOBAL local_infile = 1';
    } catch (e) {
      return `local_infile is OFF and SET GLOBAL failed: ${(e as Error).message}`;
    }
  } finally {
    await conn.end();
  }
}

const rate = (rows: number, ms: number) => (ms > 0 ? (rows / ms) * 1000 : 0);

export async function runIngestBench(sizes: { conversions: number; clicks: number }): Promise<IngestResult> {
  const localInfile = await ensureLocalInfile();
  const bdb = await freshBenchDatabase(['everflow', 'hitpath', 'cake']);
  const config = benchConfig(bdb.names.prefix, { startDate: '2026-10-01', cutoverDate: '2026-10-20' });
  const deps = localPipelineDeps({
    config,
    db: bdb.db,
    names: bdb.names,
    env: HASH_KEY_ENV,
    clock: systemClock,
    logger: silentLogger,
  });
  const ceilingDb = `${bdb.names.prefix}_ceiling`;
  const streams: StreamResult[] = [];
  try {
    for (const kind of ['conversions', 'clicks'] as const) {
      const n = sizes[kind];
      if (n <= 0) {
        log(`${kind}: skipped (size 0)`);
        continue;
      }
      const batchRows = kind === 'conversions' ? 2_000 : 5_000;
      const source = bdb.names.platform('everflow');

      log(
        `${kind}: ceiling 1/2, multi-row INSERT of ${n.toLocaleString('en-US')} rows (${batchRows} rows a statement, ${NORMALIZE_CONCURRENCY} connections)`,
      );
      let table = await ceilingTable(kind, ceilingDb, source);
      const ins = await runInsertCeiling(kind, n, table, batchRows, NORMALIZE_CONCURRENCY);
      log(`  ${rate(n, ins.wallMs).toFixed(0)} rows/s`);

      log(`${kind}: ceiling 2/2, LOAD DATA LOCAL INFILE`);
      table = await ceilingTable(kind, ceilingDb, source);
      let ld: StreamResult['loadData'];
      try {
        const r = await runLoadDataCeiling(kind, n, table, 100_000);
        ld = {
          ...r,
          rowsPerSec: rate(n, r.wallMs),
          rowsPerSecExGen: rate(n, r.wallMs - r.generateMs),
          rowsPerStatement: 100_000,
        };
        log(`  ${ld.rowsPerSec.toFixed(0)} rows/s`);
      } catch (e) {
        ld = { error: (e as Error).message };
        log(`  LOAD DATA failed: ${ld.error}`);
      }
      await (async () => {
        const conn = await rawConnection();
        await conn.query(`DROP TABLE IF EXISTS ${ceilingDb}.${kind}`);
        await conn.end();
      })();

      log(`${kind}: pipeline (normalizeBatch, ${NORMALIZE_CONCURRENCY} lanes × ${BATCH_MESSAGES} messages)`);
      const p = await runPipeline(bdb, deps, kind, n);
      const checks: string[] = [];
      if (p.failed.length) checks.push(`FAILED messages: ${p.failed.slice(0, 3).join(' | ')}`);
      const [cnt] = await bdb.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${source}.${kind}`);
      checks.push(
        `${kind} rows in the table: ${Number(cnt.n).toLocaleString('en-US')} (expected ${n.toLocaleString('en-US')})`,
      );
      const slices = await bdb.db.query<{ status: string; k: number; loaded: string }>(
        `SELECT status, COUNT(*) AS k, SUM(rows_loaded) AS loaded FROM ${bdb.names.core}.fetch_slices WHERE stream = :s GROUP BY status`,
        { s: kind },
      );
      checks.push(
        `ledger slices: ${slices.map((s) => `${s.k} ${s.status} (${Number(s.loaded).toLocaleString('en-US')} rows)`).join(', ')}`,
      );
      const [roll] = await bdb.db.query<{ total: string }>(
        `SELECT SUM(${kind === 'clicks' ? 'clicks' : 'conversions + events'}) AS total FROM ${source}.hourly_rollups`,
      );
      checks.push(
        `hourly_rollups ${kind === 'clicks' ? 'clicks' : 'conversions + events'}: ${Number(roll.total ?? 0).toLocaleString('en-US')}${kind === 'conversions' ? ' (rejected/invalid are not counted)' : ''}`,
      );
      const insRate = rate(n, ins.wallMs - ins.generateMs);
      const pipeRate = rate(n, p.wallMs - p.generateMs);
      log(`  ${rate(n, p.wallMs).toFixed(0)} rows/s wall, ${pipeRate.toFixed(0)} excluding generation`);
      streams.push({
        stream: kind,
        rows: n,
        messages: p.messages,
        avgRecordsPerMessage: n / p.messages,
        avgMessageBytes: p.bytes / p.messages,
        pipeline: {
          wallMs: p.wallMs,
          generateMs: p.generateMs,
          rowsPerSec: rate(n, p.wallMs),
          rowsPerSecExGen: pipeRate,
        },
        insert: {
          ...ins,
          rowsPerSec: rate(n, ins.wallMs),
          rowsPerSecExGen: insRate,
          batchRows,
          concurrency: NORMALIZE_CONCURRENCY,
        },
        loadData: ld,
        ratioToInsert: pipeRate / insRate,
        retries: p.retries,
        errorKinds: p.errorKinds,
        breakdownMs: {
          ...p.dbMs,
          'JS (parse, validate, map, build SQL, hash)':
            p.normalizeMs - Object.values(p.dbMs).reduce((a, b) => a + b, 0),
        },
        dbCalls: p.dbCalls,
        cpu: cpuProfile(kind, deps, Math.min(n, 20_000)),
        checks,
      });
    }
  } finally {
    const conn = await rawConnection();
    await conn.query(`DROP DATABASE IF EXISTS ${ceilingDb}`);
    await conn.end();
    if (!process.env.BENCH_KEEP_DB) await bdb.drop();
    else await bdb.db.close();
  }
  return { streams, localInfile, prefix: bdb.names.prefix };
}

export interface CpuProfile {
  records: number;
  /** Microseconds per record for each step, single thread, no database. */
  usPerRecord: Record<string, number>;
  /** Records/s one core could normalize if the database cost nothing. */
  cpuOnlyRowsPerSec: number;
}

/**
 * The JS side of normalizeBatch, step by step on one core, no database: JSON.parse of the message,
 * the record's zod schema alone, the connector's whole normalize (zod + mapping + hashing +
 * redaction), and building the upsert statements (upsertConversions/upsertClicks against a Db that
 * only records the SQL text).
 */
export function cpuProfile(kind: Kind, deps: Omit<PipelineDeps, 'queue'>, n: number): CpuProfile {
  const connector = deps.connectors.everflow;
  const records: string[] = [];
  for (let i = 0; i < n; i++)
    records.push(
      kind === 'conversions'
        ? conversionJson(conversionFields(i, n, START_SEC, DAYS))
        : clickJson(clickFields(i, n, START_SEC, DAYS)),
    );
  const per = (ms: number) => (ms * 1000) / n;
  const body = `{"kind":"normalize","records":[${records.join(',')}]}`;
  let t = performance.now();
  const parsed = (JSON.parse(body) as { records: unknown[] }).records;
  const parseMs = performance.now() - t;
  const schema = kind === 'conversions' ? conversionRecordSchema : clickRecordSchema;
  t = performance.now();
  for (const r of parsed) schema.safeParse(r);
  const zodMs = performance.now() - t;
  t = performance.now();
  const rows: unknown[] = [];
  for (const r of parsed) {
    const out = connector.normalize(kind, r, deps.normalizeContext);
    if (out.ok) rows.push(out.row);
  }
  const normalizeMs = performance.now() - t;
  const sink: Db = {
    dialect: 'mysql',
    query: async () => [],
    execute: async () => ({ affectedRows: 0 }),
    batch: async () => undefined,
    transaction: async (fn) => fn(sink),
    close: async () => undefined,
  };
  t = performance.now();
  if (kind === 'conversions') void upsertConversions(sink, 'x', rows as ConversionRow[], new Date().toISOString());
  else void upsertClicks(sink, 'x', rows as ClickRow[]);
  const sqlMs = performance.now() - t;
  t = performance.now();
  touchedGroups(
    rows as { affiliate_id: string; offer_id: string; converted_at?: string; clicked_at?: string }[],
    (r: { converted_at?: string; clicked_at?: string }) => (r.converted_at ?? r.clicked_at)!,
  );
  const groupsMs = performance.now() - t;
  const total = parseMs + normalizeMs + sqlMs + groupsMs;
  return {
    records: n,
    usPerRecord: {
      'JSON.parse': per(parseMs),
      'zod record schema (inside normalize)': per(zodMs),
      'mapping, hashing, redaction (normalize − zod)': per(normalizeMs - zodMs),
      'build upsert SQL + params (+ row_hash MD5)': per(sqlMs),
      'touched rollup groups': per(groupsMs),
      total: per(total),
    },
    cpuOnlyRowsPerSec: (n / total) * 1000,
  };
}
