import { instantFlag, parseArgs } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';
import { outputFormat, writeRows } from '../output.js';
import {
  migrationReport,
  reconcileReport,
  revenueReport,
  stateCounts,
  transitionsByDay,
  unmappedReport,
} from '#shared/migration/reports.js';
import { DAY_MS } from '#shared/util/time.js';

const USAGE = `usage: dualtrack report migration [--at T] [--by-day] [--json|--csv]
       dualtrack report reconcile [--at T] [--days N] [--json|--csv]
       dualtrack report revenue [--from T] [--to T] [--json|--csv]
       dualtrack report unmapped [--at T] [--days N] [--json|--csv]

  migration  one line per affiliate (crosswalk or seen in the data): tier and wave due date (by
             legacy revenue before migration.startDate, highest first), state at T (legacy-only,
             dual, migrated, retired; from new clicks over the 7 days before T), overdue, first
             target / last legacy click, legacy revenue before the start, revenue of the last 7 days
             per platform. --by-day instead prints, per UTC day since the start and per wave, the
             state counts at the end of the day and the transitions that day.
  reconcile  parallel-run reconciliation per mapped offer and offer x affiliate over the N days
             before T (default: the conversion-rate-discrepancy window): clicks, conversions,
             revenue, conversion rate per platform, differences, p-value and a verdict
             (discrepancy, not-significant, within-tolerance, ok, low-volume) with the rule's thresholds.
  revenue    per UTC day and platform: clicks, conversions, events, revenue, payout, revenue in the
             base currency (FX), active affiliates — the cutover curve. Default: the 30 days before --to
             (default: now).
  unmapped   affiliates with traffic in the N days (default 30) before T that are not in the
             crosswalk, highest revenue first.
T is ISO-8601 with a zone (default: now). --json prints one object per line; --csv a CSV with a header.`;

export const command: CliCommand = {
  name: 'report',
  summary: 'migration, reconciliation, revenue and unmapped-affiliate reports',
  usage: USAGE,
  async run(argv, ctx) {
    const [sub, ...rest] = argv;
    const db = () => ctx.db();
    switch (sub) {
      case 'migration': {
        const args = parseArgs(rest, { at: 'string', 'by-day': 'boolean', json: 'boolean', csv: 'boolean' });
        noPositionals(args.positionals);
        const format = outputFormat(args);
        const at = instantFlag(args, 'at') ?? ctx.clock.now();
        const report = await migrationReport(db(), ctx.names(), ctx.config(), at, ctx.clock.now());
        if (args.flags['by-day']) {
          writeRows(
            ctx.stdout,
            transitionsByDay(report, ctx.config()) as unknown as Record<string, unknown>[],
            format,
            { empty: 'no days since the migration start' },
          );
          return 0;
        }
        writeRows(ctx.stdout, report.rows as unknown as Record<string, unknown>[], format, {
          empty: 'no affiliates in the crosswalk or the data',
        });
        if (format === 'table') {
          const c = stateCounts(report);
          const overdue = report.rows.filter((r) => r.overdue).length;
          ctx.stdout.write(
            `\n${report.rows.length} affiliates at ${at.toISOString()}: ${c['legacy-only']} legacy-only, ${c.dual} dual, ${c.migrated} migrated, ${c.retired} retired; ${overdue} overdue\n`,
          );
        }
        return 0;
      }
      case 'reconcile': {
        const args = parseArgs(rest, { at: 'string', days: 'string', json: 'boolean', csv: 'boolean' });
        noPositionals(args.positionals);
        const format = outputFormat(args);
        const at = instantFlag(args, 'at') ?? ctx.clock.now();
        const days = args.flags.days === undefined ? undefined : positiveInt(String(args.flags.days), '--days', 90);
        const r = await reconcileReport(db(), ctx.names(), ctx.config(), at, days);
        writeRows(ctx.stdout, r.rows as unknown as Record<string, unknown>[], format, {
          empty: 'no mapped offer has volume on two platforms in the window',
        });
        if (format === 'table') {
          const flagged = r.rows.filter((x) => x.verdict === 'discrepancy').length;
          ctx.stdout.write(
            `\n${r.from.toISOString()} – ${r.to.toISOString()}: ${r.rows.length} comparisons, ${r.comparisons} with enough volume, ${flagged} discrepancies\n`,
          );
        }
        return 0;
      }
      case 'revenue': {
        const args = parseArgs(rest, { from: 'string', to: 'string', json: 'boolean', csv: 'boolean' });
        noPositionals(args.positionals);
        const format = outputFormat(args);
        const to = instantFlag(args, 'to') ?? new Date(Math.ceil(ctx.clock.now().getTime() / DAY_MS) * DAY_MS);
        const from = instantFlag(args, 'from') ?? new Date(to.getTime() - 30 * DAY_MS);
        if (from.getTime() >= to.getTime()) throw new UsageError('--from must be before --to');
        const rows = await revenueReport(db(), ctx.names(), ctx.config(), from, to);
        writeRows(ctx.stdout, rows as unknown as Record<string, unknown>[], format, { empty: 'no days in the range' });
        return 0;
      }
      case 'unmapped': {
        const args = parseArgs(rest, { at: 'string', days: 'string', json: 'boolean', csv: 'boolean' });
        noPositionals(args.positionals);
        const format = outputFormat(args);
        const at = instantFlag(args, 'at') ?? ctx.clock.now();
        const days = args.flags.days === undefined ? 30 : positiveInt(String(args.flags.days), '--days', 365);
        const rows = await unmappedReport(db(), ctx.names(), ctx.config(), at, days);
        writeRows(ctx.stdout, rows as unknown as Record<string, unknown>[], format, {
          empty: 'every affiliate with traffic is in the crosswalk',
        });
        return 0;
      }
      case undefined:
        throw new UsageError('expected a report: migration, reconcile, revenue or unmapped');
      default:
        throw new UsageError(`unknown report "${sub}" (expected migration, reconcile, revenue or unmapped)`);
    }
  },
};

function noPositionals(p: string[]): void {
  if (p.length) throw new UsageError(`unexpected argument "${p[0]}"`);
}

function positiveInt(s: string, flag: string, max: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`${flag}: expected a whole number from 1 to ${max} (got "${s}")`);
  return n;
}
