import { parseArgs } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';
import { runDemo } from '../demo/run-demo.js';

export const command: CliCommand = {
  name: 'demo',
  summary: 'the whole system on local MySQL/MariaDB with simulated platforms (~60 days in under 2 minutes)',
  usage: `usage: dualtrack demo [--quick] [--prefix P]

Starts simulators for HitPath, CAKE and Everflow, creates fresh databases <P>_* (default prefix
dtdemo; dropped first), runs the migrations, and lives through a network's migration day by day:
scheduled fetches through the real pipeline, rule evaluation, alerts as they open and resolve,
money at risk, and the weekly migration progress. The databases stay for querying afterwards.
--quick runs a smaller 40-day network (what the test runs).
Needs MySQL 8 or MariaDB at DATABASE_URL (default mysql://root@127.0.0.1:3306); no config file.`,
  async run(argv, ctx) {
    const args = parseArgs(argv, { quick: 'boolean', prefix: 'string' });
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const prefix = (args.flags.prefix as string | undefined) ?? 'dtdemo';
    const r = await runDemo({
      databaseUrl: ctx.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306',
      prefix,
      out: ctx.stdout,
      err: ctx.stderr,
      size: args.flags.quick ? 'small' : 'demo',
    });
    return r.exitCode;
  },
};
