/**
 * Renders bench/RESULTS.md from a BenchReport. `npx tsx bench/report.ts` re-renders it from
 * bench/results.json (e.g. after editing bench/notes.md, the hand-written findings appended at the end).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './run.js';

const here = dirname(fileURLToPath(import.meta.url));
const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
const s2 = (x: number) => x.toFixed(2);
const mb = (kb: number) => (kb / 1024).toFixed(0);

export function renderResults(r: BenchReport): string {
  const L: string[] = [];
  const m = r.machine;
  L.push('# Benchmark results', '');
  L.push(
    `Produced by bench/run.ts (\`npm run bench\`), last run \`${r.command}\`, ${r.date} → ${r.finishedAt}.${r.quick ? " **Quick mode: 10× smaller than the issues' sizes.**" : ''}`,
    '',
  );
  if (r.runs && r.runs.length > 1)
    for (const x of r.runs) L.push(`- \`${x.command}\` at ${x.date}: ${x.sections.join(', ')}`);
  L.push('');
  L.push('## Machine', '');
  L.push(`- ${m.cores} cores (${m.cpuModel}), ${m.ramGb} GB RAM`);
  L.push(
    `- ${m.mariadb.includes('MariaDB') ? '' : 'MySQL '}${m.mariadb} at 127.0.0.1:3306, innodb_buffer_pool_size ${m.bufferPoolMb} MB, innodb_flush_log_at_trx_commit ${m.flushAtCommit} (server defaults, not changed)`,
  );
  L.push(`- Node ${m.node}`);
  L.push(
    `- Load average (1/5/15 min) at start ${m.loadAvgStart.map((x) => x.toFixed(1)).join(' / ')}, at end ${m.loadAvgEnd.map((x) => x.toFixed(1)).join(' / ')} (the bench's own load counts: its normalize lanes and MariaDB share these ${m.cores} cores; the notes below say whether anything else ran). Figures on a shared machine move by ±30% between runs; the ratios measured side by side in one run are the steadier part.`,
  );
  L.push('');

  if (r.ingest) {
    L.push('## A. Ingestion: normalize + load throughput', '');
    L.push(
      'Synthetic Everflow raw records (shape of test/fixtures/everflow), 30 days, through `normalizeBatch` (2 lanes × batches of 10 messages, as the local runner; messages cut like the fetch worker: ≤ 900,000 − 1,024 bytes, ≤ 5,000 records; slices 24 h for conversions, 1 h for clicks, recorded in the fetch ledger; failed messages redelivered as the queue would).',
      '',
    );
    L.push(
      'Ceilings, same rows and columns into an empty copy of the same table (`CREATE TABLE … LIKE`, same indexes): plain multi-row `INSERT` (no ON DUPLICATE KEY, no rollups, no ledger), 2 connections, autocommit = one transaction per statement; `LOAD DATA LOCAL INFILE` via mysql2 `infileStreamFactory`, 100,000 rows a statement, 1 connection. ' +
        r.ingest.localInfile +
        '.',
      '',
    );
    L.push(
      '"ex. gen" = wall time minus the time spent generating the synthetic records/messages in the same process (the fetch worker\'s share). Ratio = pipeline ÷ INSERT, both ex. gen. Target: ≥ 50%.',
      '',
    );
    L.push(
      '| stream | rows | messages (avg records, avg KB) | pipeline rows/s (ex. gen) | INSERT rows/s (ex. gen), batch | LOAD DATA rows/s (ex. gen) | pipeline ÷ INSERT | target ≥ 50% |',
    );
    L.push('|---|---:|---|---:|---:|---:|---:|---|');
    for (const s of r.ingest.streams) {
      const ld =
        'error' in s.loadData
          ? `failed: ${s.loadData.error}`
          : `${n0(s.loadData.rowsPerSec)} (${n0(s.loadData.rowsPerSecExGen)})`;
      L.push(
        `| ${s.stream} | ${n0(s.rows)} | ${n0(s.messages)} (${n0(s.avgRecordsPerMessage)}, ${n0(s.avgMessageBytes / 1024)}) | ${n0(s.pipeline.rowsPerSec)} (${n0(s.pipeline.rowsPerSecExGen)}) | ${n0(s.insert.rowsPerSec)} (${n0(s.insert.rowsPerSecExGen)}), ${n0(s.insert.batchRows)} rows | ${ld} | ${(s.ratioToInsert * 100).toFixed(0)}% | ${s.ratioToInsert >= 0.5 ? 'met' : '**not met**'} |`,
      );
    }
    L.push('');
    L.push("### Where the pipeline's time goes", '');
    L.push(
      "Lane-seconds inside `normalizeBatch` (2 lanes, so they add up to about twice the wall time), by kind of statement (a Db wrapper times every call; a statement's time includes mysql2's client-side formatting of its named parameters), and the rest of normalizeBatch in JS:",
      '',
    );
    for (const s of r.ingest.streams) {
      const total = Object.values(s.breakdownMs).reduce((a, b) => a + b, 0);
      L.push(
        `- **${s.stream}**: ` +
          Object.entries(s.breakdownMs)
            .sort((a, b) => b[1] - a[1])
            .map(
              ([k, v]) =>
                `${k} ${s2(v / 1000)} s (${((v / total) * 100).toFixed(0)}%${s.dbCalls[k] ? `, ${n0(s.dbCalls[k])} calls` : ''})`,
            )
            .join('; ') +
          `. Redelivered messages: ${s.retries}${
            Object.keys(s.errorKinds).length
              ? ` (${Object.entries(s.errorKinds)
                  .map(([k, v]) => `${v}× "${k}"`)
                  .join(', ')})`
              : ''
          }.`,
      );
    }
    L.push('', 'JS cost per record on one core, no database (bench/ingest.ts `cpuProfile`, first 20,000 records):', '');
    L.push(`| stream | ${Object.keys(r.ingest.streams[0].cpu.usPerRecord).join(' | ')} | CPU-only ceiling rows/s |`);
    L.push(
      '|---|' +
        Object.keys(r.ingest.streams[0].cpu.usPerRecord)
          .map(() => '---:')
          .join('|') +
        '|---:|',
    );
    for (const s of r.ingest.streams)
      L.push(
        `| ${s.stream} | ${Object.values(s.cpu.usPerRecord)
          .map((v) => `${v.toFixed(1)} µs`)
          .join(' | ')} | ${n0(s.cpu.cpuOnlyRowsPerSec)} |`,
      );
    L.push('', 'Checks after each pipeline run:', '');
    for (const s of r.ingest.streams) for (const c of s.checks) L.push(`- ${s.stream}: ${c}`);
    L.push('');
  }

  if (r.rss) {
    L.push('## A. Peak RSS of the normalize worker (target < 512 MB)', '');
    L.push(
      'Child process (bench/normalize-rss.ts, `node --import tsx`) building messages at the fetch worker\'s limits and running `normalizeBatch` on them against MariaDB; peak = `process.resourceUsage().maxRSS` (VmHWM). "10 messages" is one full SQS/LocalQueue batch, what one normalize invocation receives.',
      '',
    );
    L.push(
      '| stream | messages | records per message | message size | RSS after imports | peak RSS | target < 512 MB |',
    );
    L.push('|---|---:|---|---|---:|---:|---|');
    for (const x of r.rss)
      L.push(
        `| ${x.stream} | ${x.messages} | ${[...new Set(x.recordsPerMessage)].join(', ')} | ${n0(Math.max(...x.messageBytes) / 1024)} KB | ${mb(x.baselineKb)} MB | ${mb(x.peakKb)} MB | ${x.peakKb / 1024 < 512 ? 'met' : '**not met**'} |`,
      );
    L.push('');
  }

  if (r.bundles) {
    L.push('## A. Lambda bundle sizes (target < 1 MB)', '');
    L.push(
      "esbuild with DualtrackFunction's DEFAULT_BUNDLING (infra/constructs/dualtrack-function.ts): ESM, node22, minified, AWS SDK bundled, keepNames, mainFields module/main, createRequire banner. The external source map is listed apart (not loaded at cold start).",
      '',
    );
    L.push('| entry | bundle | gzip | source map | target < 1 MB |');
    L.push('|---|---:|---:|---:|---|');
    for (const b of r.bundles)
      L.push(
        b.error
          ? `| ${b.entry} | build failed: ${b.error} | | | |`
          : `| ${b.entry} | ${n0(b.bytes / 1024)} KB | ${n0(b.gzipBytes / 1024)} KB | ${n0(b.mapBytes / 1024)} KB | ${b.bytes < 1_048_576 ? 'met' : '**not met**'} |`,
      );
    L.push('');
  }

  if (r.rules?.length) {
    L.push('## B. Rules: `evaluateRules` over 30 days', '');
    L.push(
      'Data generated straight into hourly_rollups and conversions of 3 platforms (bench/rules.ts; no rule reads raw clicks), 200 affiliates × 5 of 50 offers, crosswalk in core.entity_map. Seconds per whole evaluation (first run, second run), then each rule alone. Target: < 5 s at 16M clicks, growth no worse than linear.',
      '',
    );
    L.push(
      '| clicks | rollup rows | conversions | evaluation 1 (s) | evaluation 2 (s) | growth vs previous size (time ÷ clicks factor) | load avg | target < 5 s |',
    );
    L.push('|---:|---:|---:|---:|---:|---|---:|---|');
    r.rules.forEach((x, i) => {
      const prev = r.rules![i - 1];
      const best = Math.min(...x.evaluations);
      const growth = prev
        ? `${(best / Math.min(...prev.evaluations)).toFixed(2)}× time for ${(x.clicks / prev.clicks).toFixed(2)}× clicks`
        : '—';
      L.push(
        `| ${n0(x.clicks)} | ${n0(x.rollupRows)} | ${n0(x.conversionRows)} | ${s2(x.evaluations[0])} | ${s2(x.evaluations[1])} | ${growth} | ${x.loadAvg.toFixed(1)} | ${best < 5 ? 'met' : '**not met**'} |`,
      );
    });
    L.push('', 'Per rule (seconds, one run each with `only: [rule]`, which also loads the crosswalk):', '');
    const ids = Object.keys(r.rules[0].perRule);
    L.push(`| rule | ${r.rules.map((x) => `${n0(x.clicks)} clicks`).join(' | ')} | findings at the largest size |`);
    L.push(`|---|${r.rules.map(() => '---:').join('|')}|---:|`);
    for (const id of ids)
      L.push(
        `| ${id} | ${r.rules.map((x) => s2(x.perRule[id])).join(' | ')} | ${r.rules[r.rules.length - 1].findings[id] ?? 0} |`,
      );
    L.push('');
  }

  if (r.fetchRss) {
    L.push('## C. Fetch worker memory on one large HitPath reply', '');
    L.push(
      'bench/fetch-rss.ts: one HitPath `type=clicks` reply, served as it is generated, through the real fetch worker (streamed CSV or XML, ≤ 900 KB normalize messages, the ledger in MariaDB; the queue counts and drops the messages), in a child process. Target: peak RSS < 512 MB.',
      '',
    );
    L.push('| format | clicks | reply | records | messages (largest) | time | peak RSS (after imports) |');
    L.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const f of [r.fetchRss, r.fetchRssXml].filter((x): x is NonNullable<typeof x> => x !== undefined))
      L.push(
        `| ${f.format ?? 'csv'} | ${f.clicks.toLocaleString('en-US')} | ${f.replyMb.toFixed(0)} MB | ${f.records.toLocaleString('en-US')} | ${f.messages.toLocaleString('en-US')} (${f.maxMessageBytes.toLocaleString('en-US')} B) | ${f.seconds.toFixed(1)} s | **${(f.peakKb / 1024).toFixed(0)} MB** (${(f.baselineKb / 1024).toFixed(0)} MB) |`,
      );
    L.push('');
  }
  if (r.calls) {
    L.push("## D. API requests vs the minimum the platforms' caps allow", '');
    L.push(
      `bench/calls.ts: the demo network at ${r.calls.clicksPerDay.toLocaleString('en-US')} clicks a day (HitPath and CAKE legacy, Everflow target) through the real connectors, planner and local runner against the simulators; requests counted at each simulator. Minimum: from the simulator's own records in the window and the documented caps (Everflow 2,000 conversions a page, 10,000 clicks and 14 days a clicks/stream call, one timezone lookup, entity tables by 2,000; HitPath one call per report type per 45 days; CAKE row_limit pages: 2,000 conversions, 5,000 clicks, 1,000 entities, plus one changes call and the currency list). A scheduled run needs at least one call per stream. HitPath's wall time is its calls at the real limit (2 per 5 minutes: 150 s a call).`,
      '',
    );
    L.push(
      '| run | platform | requests | minimum | × minimum | rows in the ledger (loaded + quarantined; a scheduled re-read counts again) | HitPath wall time at 150 s/call |',
    );
    L.push('|---|---|---:|---:|---:|---:|---:|');
    for (const c of r.calls.rows)
      L.push(
        `| ${c.run} | ${c.platform} | ${c.requests} | ${c.minimum} | ${c.minimum ? (c.requests / c.minimum).toFixed(2) : '–'} | ${c.rows.toLocaleString('en-US')} | ${c.wallAtLimitS !== undefined ? `${(c.wallAtLimitS / 60).toFixed(1)} min` : ''} |`,
      );
    L.push('');
  }
  const notes = join(here, 'notes.md');
  if (existsSync(notes)) L.push(readFileSync(notes, 'utf8').trim(), '');
  return L.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = JSON.parse(readFileSync(join(here, 'results.json'), 'utf8')) as BenchReport;
  writeFileSync(join(here, 'RESULTS.md'), renderResults(r));
}
