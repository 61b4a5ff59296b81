import { migrate } from '#shared/db/migrate.js';
import { parseArgs } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';

export const command: CliCommand = {
  name: 'db',
  summary: 'db migrate: create or upgrade every database (idempotent, checksums recorded)',
  usage: `usage: dualtrack db migrate [--json] [--config FILE]

Creates <prefix>_core, <prefix>_reporting and one <prefix>_<platform> database per configured
platform, applies sql/core and the sql/platform template, records each file's checksum, refuses
an applied file that was edited, and recreates the reporting views. A second run changes nothing.
--json prints {"created": [...], "applied": [{"file", "database"}], "views": N, "up_to_date": true|false}.`,
  async run(argv, ctx) {
    const { positionals, flags } = parseArgs(argv, { json: 'boolean' });
    if (positionals[0] !== 'migrate' || positionals.length > 1)
      throw new UsageError(
        positionals[0] ? `unknown subcommand "${positionals.join(' ')}"` : 'missing subcommand (migrate)',
      );
    const config = ctx.config();
    const names = ctx.names();
    const platforms = Object.keys(config.platforms);
    const result = await migrate(ctx.db(), names, platforms, {
      logger: ctx.logger,
      baseCurrency: ctx.config().baseCurrency,
    });
    const upToDate = result.applied.length === 0 && result.created.length === 0;
    if (flags.json) {
      const applied = result.applied.map((a) => ({ file: a.file, database: a.database }));
      ctx.stdout.write(
        `${JSON.stringify({ created: result.created, applied, views: result.views, up_to_date: upToDate })}\n`,
      );
      return 0;
    }
    for (const d of result.created) ctx.stdout.write(`created database ${d}\n`);
    for (const a of result.applied) ctx.stdout.write(`applied ${a.file} to ${a.database}\n`);
    ctx.stdout.write(
      result.applied.length === 0 && result.created.length === 0
        ? `up to date: ${names.all(platforms).join(', ')} (${result.views} reporting views refreshed)\n`
        : `done: ${result.created.length} databases created, ${result.applied.length} migrations applied, ${result.views} reporting views\n`,
    );
    return 0;
  },
};
