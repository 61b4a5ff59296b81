import { parseArgs, instantFlag } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';
import { ProgressBar, fmt } from '../progress.js';
import { LocalRunner } from '#shared/pipeline/local-runner.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { STREAMS, type Stream } from '#shared/model/canonical.js';
import type { SliceTotals } from '#shared/pipeline/ledger.js';

export const command: CliCommand = {
  name: 'ingest',
  summary: 'fetch + normalize a time window synchronously through the local queue',
  usage: `usage: dualtrack ingest --from T --to T [--platform P]... [--stream S]... [--fresh]

Loads every record whose event time is in [from, to): conversions (base and post-conversion
events, every status) by conversion time, clicks by click time, and the entity lists. Runs the
same fetch and normalize code as the Lambdas over an in-process queue with SQS semantics
(retries, dead letters kept for \`dualtrack replay-dlq\`). Re-running the same command resumes:
finished slices are skipped; --fresh fetches everything again.

  --from T, --to T   ISO-8601 with a zone (2026-10-12T00:00:00Z)
  --platform P       a platform key from the config (repeatable; default: all)
  --stream S         ${STREAMS.join(', ')} (repeatable; default: all the platform offers)
  --fresh            re-fetch slices an earlier identical run already loaded
  --json             print the totals as one JSON object instead of the table`,
  async run(argv, ctx) {
    const args = parseArgs(argv, {
      from: 'string',
      to: 'string',
      platform: 'multi',
      stream: 'multi',
      fresh: 'boolean',
      json: 'boolean',
    });
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const from = instantFlag(args, 'from', true);
    const to = instantFlag(args, 'to', true);
    const config = ctx.config();
    const platforms = (args.flags.platform as string[] | undefined) ?? Object.keys(config.platforms);
    for (const p of platforms)
      if (!config.platforms[p])
        throw new UsageError(
          `--platform ${p}: not in the config (configured: ${Object.keys(config.platforms).join(', ')})`,
        );
    const streams = args.flags.stream as string[] | undefined;
    for (const s of streams ?? [])
      if (!(STREAMS as readonly string[]).includes(s))
        throw new UsageError(`--stream ${s}: expected one of ${STREAMS.join(', ')}`);
    const runner = new LocalRunner(
      localPipelineDeps({
        config,
        db: ctx.db(),
        names: ctx.names(),
        env: ctx.env,
        clock: ctx.clock,
        logger: ctx.logger,
      }),
    );
    const bar = new ProgressBar(ctx.stderr, 'ingest');
    const started = Date.now();
    const { totals } = await runner.ingest(
      {
        from: from.toISOString(),
        to: to.toISOString(),
        platforms,
        streams: streams as Stream[] | undefined,
        fresh: args.flags.fresh === true,
      },
      (p) =>
        bar.update(
          p.totals.done + p.totals.failed,
          p.totals.slices,
          `slices · ${fmt(p.totals.loaded)} rows loaded · ${fmt(p.totals.quarantined)} quarantined`,
        ),
    );
    bar.done();
    const seconds = (Date.now() - started) / 1000;
    if (args.flags.json) printJsonSummary(ctx.stdout, totals, seconds);
    else printSummary(ctx.stdout, totals, seconds);
    return totals.failed > 0 || totals.dlq > 0 ? 1 : 0;
  },
};

/** The totals as one JSON line (`--json`): every count in all and per platform, and the wall time. */
export function printJsonSummary(
  out: NodeJS.WritableStream,
  totals: SliceTotals,
  seconds: number,
  extra: Record<string, unknown> = {},
): void {
  const { byPlatform, ...all } = totals;
  out.write(
    `${JSON.stringify({ ...extra, totals: all, by_platform: byPlatform, seconds: Math.round(seconds * 10) / 10 })}\n`,
  );
}

export function printSummary(out: NodeJS.WritableStream, totals: SliceTotals, seconds: number): void {
  const rows = Object.entries(totals.byPlatform).sort(([a], [b]) => a.localeCompare(b));
  const header = ['platform', 'slices', 'done', 'failed', 'fetched', 'loaded', 'quarantined', 'dlq'];
  const table = [
    header,
    ...rows.map(([p, c]) =>
      [p, c.slices, c.done, c.failed, c.fetched, c.loaded, c.quarantined, c.dlq].map((v) =>
        typeof v === 'number' ? fmt(v) : v,
      ),
    ),
  ];
  table.push(
    [
      'total',
      totals.slices,
      totals.done,
      totals.failed,
      totals.fetched,
      totals.loaded,
      totals.quarantined,
      totals.dlq,
    ].map((v) => (typeof v === 'number' ? fmt(v) : v)),
  );
  const widths = header.map((_, i) => Math.max(...table.map((r) => String(r[i]).length)));
  for (const r of table)
    out.write(
      `${r.map((v, i) => (i === 0 ? String(v).padEnd(widths[i]) : String(v).padStart(widths[i]))).join('  ')}\n`,
    );
  out.write(
    `${fmt(totals.loaded)} rows loaded in ${seconds.toFixed(1)} s${totals.failed ? `; ${totals.failed} slices failed (see the fetch ledger; re-run to retry)` : ''}${totals.dlq ? `; ${fmt(totals.dlq)} records dead-lettered (dualtrack replay-dlq)` : ''}\n`,
  );
}
