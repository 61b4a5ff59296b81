import { parseArgs, instantFlag } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';
import { runEvaluation } from '#shared/alerts/run.js';
import { createLocalNotifier } from '#shared/alerts/notify/local.js';
import { toAlertJson, type AlertJson } from '#shared/alerts/types.js';

export const command: CliCommand = {
  name: 'evaluate',
  summary: 'run every rule, update alert state, notify, print alerts',
  usage: `usage: dualtrack evaluate [--at T] [--json]

Evaluates every enabled rule as of T (default: now; rules see only events before T), opens,
updates and resolves alerts, and notifies: new, escalated, repeated, reopened and resolved alerts
are printed as one grouped message per severity and, when the environment variable named by
alerts.slackWebhookEnv (default SLACK_WEBHOOK_URL) is set, posted to that Slack webhook.
Then prints the alerts firing at T and those this run resolved.

  --at T    ISO-8601 with a zone (2026-10-12T00:00:00Z), e.g. to replay a past day
  --json    one alert per line as JSON (docs/design.md §7); notifications go to stderr`,
  async run(argv, ctx) {
    const args = parseArgs(argv, { at: 'string', json: 'boolean' });
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const at = instantFlag(args, 'at') ?? ctx.clock.now();
    const json = args.flags.json === true;
    const config = ctx.config();
    const result = await runEvaluation({
      db: ctx.db(),
      names: ctx.names(),
      config,
      at,
      notifier: createLocalNotifier({ out: json ? ctx.stderr : ctx.stdout, config, env: ctx.env, logger: ctx.logger }),
      logger: ctx.logger,
    });
    const alerts: AlertJson[] = [...result.firing, ...result.resolved];
    if (json) {
      for (const a of alerts) ctx.stdout.write(`${JSON.stringify(toAlertJson(a))}\n`);
    } else {
      ctx.stdout.write(
        `${result.firing.length} alert(s) firing at ${at.toISOString()}${result.resolved.length ? `, ${result.resolved.length} resolved` : ''}\n`,
      );
      for (const a of alerts) ctx.stdout.write(formatAlertLine(a));
    }
    return 0;
  },
};

export function formatAlertLine(a: AlertJson, extra = ''): string {
  const money = a.money_at_risk !== null ? ` [${a.money_at_risk} at risk]` : '';
  return `${a.severity.toUpperCase().padEnd(8)} ${a.state.padEnd(8)} ${a.fingerprint.slice(0, 12)}  ${a.rule}${money}${extra}\n    ${a.summary}\n`;
}
