import { parseArgs } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';
import { LocalRunner } from '../../pipeline/local-runner.js';
import { localPipelineDeps } from '../../pipeline/local-deps.js';

export const command: CliCommand = {
  name: 'replay-dlq',
  summary: 'move dead-lettered messages back to their queues and process them',
  usage: `usage: dualtrack replay-dlq

Local runs keep dead letters in <prefix>_core.local_dlq; this moves them back to their queues and
processes them (a fetch job fetches its slice again; a normalize message loads its records).
In AWS, redrive each DLQ to its source queue (SQS console "Start DLQ redrive", or
aws sqs start-message-move-task --source-arn <dlq-arn>); the workers then process them.`,
  async run(argv, ctx) {
    const args = parseArgs(argv, {});
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const runner = new LocalRunner(localPipelineDeps({ config: ctx.config(), db: ctx.db(), names: ctx.names(), env: ctx.env, clock: ctx.clock, logger: ctx.logger }));
    const r = await runner.replayDlq();
    ctx.stdout.write(r.replayed === 0 ? 'the dead-letter store is empty\n' : `replayed ${r.replayed} messages; ${r.deadAgain} failed again and are back in the dead-letter store\n`);
    return r.deadAgain > 0 ? 1 : 0;
  },
};
