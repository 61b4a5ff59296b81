import { parseArgs, instantFlag } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';
import { ackAlert, AlertNotFoundError, listAlerts, muteAlert } from '#shared/alerts/store.js';
import { alertJsonOf } from '#shared/alerts/store.js';
import { toAlertJson } from '#shared/alerts/types.js';
import { formatAlertLine } from './evaluate.js';

const USAGE = `usage: dualtrack alerts list [--state open|resolved|all] [--json]
       dualtrack alerts mute FINGERPRINT (--until T | --for DURATION) [--note TEXT]
       dualtrack alerts ack FINGERPRINT [--by NAME] [--note TEXT]

  list   alerts by state (default open), most severe first; --json prints one alert per line
         (docs/design.md §7)
  mute   no notifications about the alert until T (or for DURATION: 30m, 24h, 7d); its state and
         history are still kept, and it notifies once the mute ends if it changed meanwhile
  ack    acknowledge: no repeat notifications; escalation and resolution still notify
FINGERPRINT may be a unique prefix of at least 8 characters.`;

export const command: CliCommand = {
  name: 'alerts',
  summary: 'list, mute or acknowledge alerts',
  usage: USAGE,
  async run(argv, ctx) {
    const [sub, ...rest] = argv;
    try {
      switch (sub) {
        case 'list': {
          const args = parseArgs(rest, { state: 'string', json: 'boolean' });
          if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
          const state = (args.flags.state as string | undefined) ?? 'open';
          if (!['open', 'resolved', 'all'].includes(state))
            throw new UsageError(`--state: expected open, resolved or all (got "${state}")`);
          const alerts = await listAlerts(ctx.db(), ctx.names(), state as 'open' | 'resolved' | 'all');
          for (const a of alerts) {
            if (args.flags.json) ctx.stdout.write(`${JSON.stringify(toAlertJson(alertJsonOf(a)))}\n`);
            else {
              const flags = [
                a.muted_until && Date.parse(a.muted_until) > ctx.clock.now().getTime()
                  ? ` muted until ${a.muted_until}`
                  : '',
                a.acked_at ? ` acked${a.acked_by ? ` by ${a.acked_by}` : ''}` : '',
              ].join('');
              ctx.stdout.write(formatAlertLine(alertJsonOf(a), flags));
            }
          }
          if (!args.flags.json && alerts.length === 0)
            ctx.stdout.write(`no ${state === 'all' ? '' : `${state} `}alerts\n`);
          return 0;
        }
        case 'mute': {
          const args = parseArgs(rest, { until: 'string', for: 'string', note: 'string' });
          const fp = onePositional(args.positionals, 'mute');
          const now = ctx.clock.now();
          let until = instantFlag(args, 'until');
          if (args.flags.for !== undefined) {
            if (until) throw new UsageError('give --until or --for, not both');
            until = new Date(now.getTime() + parseDuration(String(args.flags.for)));
          }
          if (!until) throw new UsageError('mute needs --until T or --for DURATION (e.g. --for 24h)');
          const a = await muteAlert(ctx.db(), ctx.names(), {
            fingerprint: fp,
            until,
            note: args.flags.note as string | undefined,
            at: now,
          });
          ctx.stdout.write(`muted ${a.fingerprint.slice(0, 12)} (${a.rule}) until ${until.toISOString()}\n`);
          return 0;
        }
        case 'ack': {
          const args = parseArgs(rest, { by: 'string', note: 'string' });
          const fp = onePositional(args.positionals, 'ack');
          const by = (args.flags.by as string | undefined) ?? ctx.env.USER ?? undefined;
          const a = await ackAlert(ctx.db(), ctx.names(), {
            fingerprint: fp,
            by,
            note: args.flags.note as string | undefined,
            at: ctx.clock.now(),
          });
          ctx.stdout.write(`acknowledged ${a.fingerprint.slice(0, 12)} (${a.rule})${by ? ` by ${by}` : ''}\n`);
          return 0;
        }
        case undefined:
          throw new UsageError('expected a subcommand: list, mute or ack');
        default:
          throw new UsageError(`unknown subcommand "${sub}" (expected list, mute or ack)`);
      }
    } catch (e) {
      if (e instanceof AlertNotFoundError) {
        ctx.stderr.write(`dualtrack alerts: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};

function onePositional(p: string[], sub: string): string {
  if (p.length === 0) throw new UsageError(`${sub} needs a FINGERPRINT`);
  if (p.length > 1) throw new UsageError(`unexpected argument "${p[1]}"`);
  return p[0];
}

/** `30m`, `24h`, `7d`, `1h30m` → milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/.exec(s.trim());
  if (!m || s.trim() === '' || (!m[1] && !m[2] && !m[3]))
    throw new UsageError(`--for: expected a duration like 30m, 24h or 7d (got "${s}")`);
  const ms = ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 60_000;
  if (ms <= 0) throw new UsageError('--for: must be longer than zero');
  return ms;
}
