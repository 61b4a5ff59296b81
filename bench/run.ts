/**
 * `npm run bench` — the benchmarks of the "Ingestion pipeline" and "Rules engine" issues; writes
 * bench/RESULTS.md (and bench/results.json). Speed is measured here, never asserted in tests.
 *
 *   npm run bench                 full sizes: 1M conversions + 5M clicks; rules at 1M, 4M, 16M clicks
 *   npm run bench -- --quick      10× smaller (100k + 500k; rules at 100k, 400k, 1.6M)
 *   npm run bench -- --only=ingest,rss,fetch-rss,bundles,rules,calls
 *
 * Env knobs: BENCH_CONVERSIONS, BENCH_CLICKS (ingestion sizes), BENCH_RULE_CLICKS (comma list),
 * BENCH_FETCH_CLICKS (clicks in the one HitPath reply of fetch-rss, default 2M), BENCH_CALLS_CLICKS (clicks a day of the requests-vs-minimum network), DATABASE_URL (default mysql://root@127.0.0.1:3306), BENCH_KEEP_DB=1 (keep the databases).
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { measureBundles, type BundleResult } from './bundles.js';
import { freshBenchDatabase, log, rawConnection } from './common.js';
import { runIngestBench, type IngestResult } from './ingest.js';
import { runCallsBench, type CallsResult } from './calls.js';
import { runRulesSize, type RuleSizeResult } from './rules.js';
import { renderResults } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',') ?? ['ingest', 'rss', 'fetch-rss', 'bundles', 'rules', 'calls'];
const div = quick ? 10 : 1;
const envInt = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);

export interface RssResult {
  stream: string;
  messages: number;
  recordsPerMessage: number[];
  messageBytes: number[];
  baselineKb: number;
  beforeKb: number;
  peakKb: number;
  loaded: number;
  failed: number;
}

export interface BenchReport {
  command: string;
  date: string;
  finishedAt: string;
  machine: {
    cores: number;
    cpuModel: string;
    ramGb: number;
    mariadb: string;
    node: string;
    bufferPoolMb: number;
    flushAtCommit: string;
    loadAvgStart: number[];
    loadAvgEnd: number[];
  };
  quick: boolean;
  ingest?: IngestResult;
  rss?: RssResult[];
  bundles?: BundleResult[];
  rules?: RuleSizeResult[];
  calls?: CallsResult;
  fetchRss?: FetchRssResult;
  fetchRssXml?: FetchRssResult;
  notes: string[];
  /** Every invocation that contributed a section (with --only, earlier sections are kept). */
  runs?: { command: string; date: string; sections: string[] }[];
}

async function machine(): Promise<BenchReport['machine']> {
  const conn = await rawConnection();
  const [v] = (await conn.query(
    'SELECT VERSION() AS v, @@innodb_buffer_pool_size AS bp, @@innodb_flush_log_at_trx_commit AS f',
  )) as unknown as [{ v: string; bp: string; f: string }[]];
  await conn.end();
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    ramGb: Math.round(totalmem() / 2 ** 30),
    mariadb: v[0].v,
    node: process.version,
    bufferPoolMb: Number(v[0].bp) / 2 ** 20,
    flushAtCommit: String(v[0].f),
    loadAvgStart: loadavg(),
    loadAvgEnd: [],
  };
}

async function runRss(): Promise<RssResult[]> {
  const bdb = await freshBenchDatabase(['everflow', 'hitpath', 'cake'], 2);
  const out: RssResult[] = [];
  try {
    for (const [stream, messages] of [
      ['conversions', 1],
      ['clicks', 1],
      ['conversions', 10],
      ['clicks', 10],
    ] as const) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', join(here, 'normalize-rss.ts')],
        {
          cwd: root,
          env: {
            ...process.env,
            BENCH_PREFIX: bdb.names.prefix,
            BENCH_STREAM: stream,
            BENCH_MESSAGES: String(messages),
          },
          maxBuffer: 10_000_000,
        },
      );
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as RssResult;
      log(
        `rss ${stream} × ${messages}: peak ${(r.peakKb / 1024).toFixed(0)} MB (baseline ${(r.baselineKb / 1024).toFixed(0)} MB)`,
      );
      out.push(r);
    }
  } finally {
    await bdb.drop();
  }
  return out;
}

const COLUMNS = ['hitid', 'date', 'campaignid', 'affiliateid', 'c1', 'c2', 'c3', 'ip'];

export interface FetchRssResult {
  clicks: number;
  format?: 'csv' | 'xml';
  replyMb: number;
  records: number;
  messages: number;
  maxMessageBytes: number;
  seconds: number;
  baselineKb: number;
  peakKb: number;
}

/** Peak RSS of the fetch worker on one HitPath CSV reply of `clicks` rows, served as it is generated. */
async function runFetchRss(clicks: number, format: 'csv' | 'xml'): Promise<FetchRssResult> {
  log(`fetch-rss: one HitPath ${format} reply of ${clicks.toLocaleString('en-US')} clicks`);
  const bdb = await freshBenchDatabase(['everflow', 'hitpath']);
  const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000;
  let bytes = 0;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/csv' });
    let i = 0;
    const pump = () => {
      while (i < clicks) {
        const lines: string[] = [];
        for (let j = 0; j < 1000 && i < clicks; j++, i++) {
          const at = new Date(day + Math.floor((i * 86_400_000) / clicks)).toISOString().slice(0, 19).replace('T', ' ');
          const cells = [
            100_000_000 + i,
            at,
            i % 40,
            i % 300,
            `sub-${i % 977}-campaign-spring`,
            i % 13,
            '',
            `10.${i % 250}.${i % 200}.${i % 7}`,
          ];
          lines.push(
            format === 'csv'
              ? cells.join(',')
              : `<row>${COLUMNS.map((c, k) => `<${c}>${cells[k]}</${c}>`).join('')}</row>`,
          );
        }
        const chunk = `${lines.join('\n')}\n`;
        bytes += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end(format === 'csv' ? '' : '</report>\n');
    };
    res.write(format === 'csv' ? `${COLUMNS.join(',')}\n` : '<?xml version="1.0"?>\n<report type="clicks">\n');
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(here, 'fetch-rss.ts')], {
      cwd: root,
      env: {
        ...process.env,
        BENCH_PREFIX: bdb.names.prefix,
        BENCH_FORMAT: format,
        BENCH_URL: `http://127.0.0.1:${port}/api.php`,
        BENCH_FROM: new Date(day).toISOString(),
        BENCH_TO: new Date(day + 86_400_000).toISOString(),
      },
      maxBuffer: 10_000_000,
    });
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as Omit<FetchRssResult, 'clicks' | 'replyMb' | 'format'>;
    const result = { clicks, format, replyMb: bytes / 1e6, ...r };
    log(
      `fetch-rss: ${result.records} records, ${result.messages} messages (largest ${result.maxMessageBytes} B), reply ${result.replyMb.toFixed(0)} MB, peak RSS ${(result.peakKb / 1024).toFixed(0)} MB, ${result.seconds.toFixed(1)} s`,
    );
    return result;
  } finally {
    server.close();
    await bdb.drop();
  }
}

// With --only, the sections not re-run are kept from the previous bench/results.json (their own dates stay in it).
const previous: Partial<BenchReport> =
  args.some((a) => a.startsWith('--only=')) && existsSync(join(here, 'results.json'))
    ? JSON.parse(readFileSync(join(here, 'results.json'), 'utf8'))
    : {};
const report: BenchReport = {
  ...previous,
  command: `${Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH_'))
    .map(([k, v]) => `${k}=${v} `)
    .join('')}npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
  date: new Date().toISOString(),
  finishedAt: '',
  machine: await machine(),
  quick,
  notes: [],
  runs: [
    ...(previous.runs ??
      (previous.command
        ? [{ command: previous.command, date: previous.date!, sections: ['bundles', 'rss', 'ingest', 'rules'] }]
        : [])),
    { command: '', date: new Date().toISOString(), sections: only },
  ],
};
report.runs![report.runs!.length - 1].command = report.command;

const write = () => {
  report.finishedAt = new Date().toISOString();
  report.machine.loadAvgEnd = loadavg();
  writeFileSync(join(here, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(here, 'RESULTS.md'), renderResults(report));
};

if (only.includes('bundles')) {
  log('bundles');
  report.bundles = await measureBundles(root);
  write();
}
if (only.includes('rss')) {
  report.rss = await runRss();
  write();
}
if (only.includes('ingest')) {
  report.ingest = await runIngestBench({
    conversions: envInt('BENCH_CONVERSIONS', 1_000_000 / div),
    clicks: envInt('BENCH_CLICKS', 5_000_000 / div),
  });
  write();
}
if (only.includes('fetch-rss')) {
  const n = envInt('BENCH_FETCH_CLICKS', 2_000_000 / div);
  report.fetchRss = await runFetchRss(n, 'csv');
  report.fetchRssXml = await runFetchRss(n, 'xml');
  write();
}
if (only.includes('calls')) {
  report.calls = await runCallsBench(envInt('BENCH_CALLS_CLICKS', 6_700));
  write();
}
if (only.includes('rules')) {
  const sizes = process.env.BENCH_RULE_CLICKS
    ? process.env.BENCH_RULE_CLICKS.split(',').map(Number)
    : [1_000_000, 4_000_000, 16_000_000].map((n) => n / div);
  report.rules = [];
  for (const n of sizes) {
    report.rules.push(await runRulesSize(n));
    write();
  }
}
write();
log(`wrote bench/RESULTS.md`);
