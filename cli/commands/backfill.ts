import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { parseArgs, instantFlag } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';
import { ProgressBar, fmt } from '../progress.js';
import { printJsonSummary, printSummary } from './ingest.js';
import { LocalRunner } from '#shared/pipeline/local-runner.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { backfillProgress } from '#shared/pipeline/schedule.js';
import { STREAMS, type Stream } from '#shared/model/canonical.js';
import { sleep } from '#shared/platforms/rate-limit.js';

export const command: CliCommand = {
  name: 'backfill',
  summary: 'plan and run a backfill locally, or invoke the deployed backfill Lambda (--aws)',
  usage: `usage: dualtrack backfill --platform P --from T --to T [--stream S]... [--fresh] [--json] [--aws [--function NAME] [--no-follow]]

Plans the slices of [from, to) for one platform (refused, planning nothing, when the window is
beyond the platform's horizon, e.g. 45 days for HitPath), then:
  locally   runs them through the local queue with a progress bar and a closing summary;
  --aws     invokes the deployed backfill Lambda (name from --function or DUALTRACK_BACKFILL_FUNCTION)
            with {"platform","from","to","streams"} and follows its progress in the database
            (DATABASE_URL must reach it, e.g. through a tunnel), or prints the backfill id to follow.
Asking for the same backfill again resumes it; --fresh fetches finished slices again. --json prints
the closing summary (backfill ids, totals per platform) as one JSON object.`,
  async run(argv, ctx) {
    const args = parseArgs(argv, {
      platform: 'string',
      from: 'string',
      to: 'string',
      stream: 'multi',
      fresh: 'boolean',
      aws: 'boolean',
      function: 'string',
      'no-follow': 'boolean',
      json: 'boolean',
    });
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const platform = args.flags.platform as string | undefined;
    if (!platform) throw new UsageError('--platform is required');
    const from = instantFlag(args, 'from', true);
    const to = instantFlag(args, 'to', true);
    const streams = args.flags.stream as string[] | undefined;
    for (const s of streams ?? [])
      if (!(STREAMS as readonly string[]).includes(s))
        throw new UsageError(`--stream ${s}: expected one of ${STREAMS.join(', ')}`);
    const request = {
      platform,
      from: from.toISOString(),
      to: to.toISOString(),
      streams: streams as Stream[] | undefined,
      fresh: args.flags.fresh === true || undefined,
    };

    if (args.flags.aws) {
      const fn = (args.flags.function as string | undefined) ?? ctx.env.DUALTRACK_BACKFILL_FUNCTION;
      if (!fn)
        throw new UsageError(
          '--aws needs the backfill function name: --function NAME or DUALTRACK_BACKFILL_FUNCTION (the stack output BackfillFunctionName)',
        );
      const lambda = new LambdaClient({});
      const out = await lambda.send(
        new InvokeCommand({ FunctionName: fn, Payload: Buffer.from(JSON.stringify(request)) }),
      );
      const payload = JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8') || '{}') as {
        backfillId?: string;
        slices?: number;
        errorMessage?: string;
      };
      if (out.FunctionError || !payload.backfillId) {
        ctx.stderr.write(
          `dualtrack backfill: the backfill Lambda refused the request: ${payload.errorMessage ?? out.FunctionError ?? 'no backfill id returned'}\n`,
        );
        return 1;
      }
      if (!args.flags.json) ctx.stdout.write(`backfill ${payload.backfillId} planned: ${payload.slices} slices\n`);
      if (args.flags['no-follow']) {
        if (args.flags.json)
          ctx.stdout.write(`${JSON.stringify({ backfill_ids: [payload.backfillId], slices: payload.slices })}\n`);
        return 0;
      }
      const bar = new ProgressBar(ctx.stderr, 'backfill');
      for (;;) {
        const p = await backfillProgress(payload.backfillId, { db: ctx.db(), names: ctx.names(), clock: ctx.clock });
        if (!p) throw new Error(`backfill ${payload.backfillId} is not in the database at DATABASE_URL`);
        bar.update(
          p.done + p.failed,
          p.slices,
          `slices · ${fmt(p.loaded)} rows loaded · ${fmt(p.quarantined)} quarantined`,
        );
        if (p.status !== 'running') {
          bar.done();
          if (args.flags.json)
            printJsonSummary(ctx.stdout, p, 0, { backfill_ids: [payload.backfillId], status: p.status });
          else printSummary(ctx.stdout, p, 0);
          return p.status === 'done' ? 0 : 1;
        }
        await sleep(5_000);
      }
    }

    const config = ctx.config();
    if (!config.platforms[platform])
      throw new UsageError(
        `--platform ${platform}: not in the config (configured: ${Object.keys(config.platforms).join(', ')})`,
      );
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
    const bar = new ProgressBar(ctx.stderr, `backfill ${platform}`);
    const started = Date.now();
    const { totals, backfillIds } = await runner.ingest(
      { ...request, platforms: [platform], fresh: request.fresh },
      (p) =>
        bar.update(p.totals.done + p.totals.failed, p.totals.slices, `slices · ${fmt(p.totals.loaded)} rows loaded`),
    );
    bar.done();
    const seconds = (Date.now() - started) / 1000;
    if (args.flags.json) printJsonSummary(ctx.stdout, totals, seconds, { backfill_ids: backfillIds });
    else {
      ctx.stdout.write(`backfill ${backfillIds.join(', ')}\n`);
      printSummary(ctx.stdout, totals, seconds);
    }
    return totals.failed > 0 || totals.dlq > 0 ? 1 : 0;
  },
};
