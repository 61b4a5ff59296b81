import { readFileSync } from 'node:fs';
import { parseArgs } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';
import { CsvFileError } from '../../migration/csv-file.js';
import { importFxRates, parseFxCsv } from '../../migration/fx.js';

const USAGE = `usage: dualtrack fx import FILE.csv

  import   load monthly FX rates from a CSV with the header currency,month,rate: the rate is units of
           the base currency (config baseCurrency) per unit of the currency, for the month YYYY-MM.
           Every line is checked first and each problem is reported with its line number; nothing is
           loaded unless the whole file is valid. The reporting views convert amounts with them.`;

export const command: CliCommand = {
  name: 'fx',
  summary: 'import monthly FX rates to the base currency (CSV)',
  usage: USAGE,
  async run(argv, ctx) {
    const [sub, ...rest] = argv;
    if (sub === undefined) throw new UsageError('expected a subcommand: import');
    if (sub !== 'import') throw new UsageError(`unknown subcommand "${sub}" (expected import)`);
    const args = parseArgs(rest, {});
    if (args.positionals.length !== 1) throw new UsageError(args.positionals.length ? `unexpected argument "${args.positionals[1]}"` : 'import needs FILE.csv');
    const file = args.positionals[0];
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      ctx.stderr.write(`dualtrack fx: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      return 1;
    }
    try {
      const entries = parseFxCsv(text, ctx.config(), file);
      const r = await importFxRates(ctx.db(), ctx.names(), entries, ctx.clock.now());
      ctx.stdout.write(`${file}: ${entries.length} rates: ${r.inserted} added, ${r.updated} changed, ${r.unchanged} unchanged\n`);
      return 0;
    } catch (e) {
      if (e instanceof CsvFileError) {
        ctx.stderr.write(`dualtrack fx: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};
