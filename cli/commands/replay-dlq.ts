import { SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { parseArgs } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';
import { LocalRunner } from '#shared/pipeline/local-runner.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';

export const command: CliCommand = {
  name: 'replay-dlq',
  summary: 'move dead-lettered messages back to their queues and process them',
  usage: `usage: dualtrack replay-dlq
       dualtrack replay-dlq --aws --dlq-arn ARN [--dlq-arn ARN]...

Locally: dead letters are kept in <prefix>_core.local_dlq; this moves them back to their queues
and processes them (a fetch job fetches its slice again; a normalize message loads its records).
--aws: starts an SQS redrive (StartMessageMoveTask) from each dead-letter queue back to the queue
it came from; the deployed workers then process the messages. The DLQ ARNs are stack outputs
(NormalizeDlqArn, Fetch<Platform>DlqArn).`,
  async run(argv, ctx) {
    const args = parseArgs(argv, { aws: 'boolean', 'dlq-arn': 'multi' });
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const arns = (args.flags['dlq-arn'] as string[] | undefined) ?? [];
    if (args.flags.aws) {
      if (arns.length === 0)
        throw new UsageError(
          '--aws needs at least one --dlq-arn (stack outputs NormalizeDlqArn, Fetch<Platform>DlqArn)',
        );
      for (const a of arns)
        if (!/^arn:aws[\w-]*:sqs:[\w-]+:\d{12}:[\w-]+$/.test(a))
          throw new UsageError(`--dlq-arn ${a}: not an SQS queue ARN`);
      return redrive(arns, replayClients.sqs(), ctx.stdout);
    }
    if (arns.length) throw new UsageError('--dlq-arn only goes with --aws');
    const runner = new LocalRunner(
      localPipelineDeps({
        config: ctx.config(),
        db: ctx.db(),
        names: ctx.names(),
        env: ctx.env,
        clock: ctx.clock,
        logger: ctx.logger,
      }),
    );
    const r = await runner.replayDlq();
    ctx.stdout.write(
      r.replayed === 0
        ? 'the dead-letter store is empty\n'
        : `replayed ${r.replayed} messages; ${r.deadAgain} failed again and are back in the dead-letter store\n`,
    );
    return r.deadAgain > 0 ? 1 : 0;
  },
};

/** Overridable in tests (aws-sdk-client-mock intercepts the real client either way). */
export const replayClients = { sqs: () => new SQSClient({}) };

/** One move task per DLQ, back to its source queue (no DestinationArn), at SQS's default rate. */
export async function redrive(arns: readonly string[], sqs: SQSClient, out: NodeJS.WritableStream): Promise<number> {
  let failed = 0;
  for (const arn of arns) {
    try {
      const r = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn }));
      out.write(`redrive started from ${arn} (task ${r.TaskHandle})\n`);
    } catch (e) {
      failed++;
      out.write(`redrive from ${arn} failed: ${(e as Error).name}: ${(e as Error).message}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}
