import { UsageError, type CliCommand } from '../context.js';
import { runCsvImport } from '../csv-import.js';
import { importFxRates, parseFxCsv } from '#shared/migration/fx.js';

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
    return runCsvImport(
      'fx',
      rest,
      ctx,
      'rates',
      (text, file) => parseFxCsv(text, ctx.config(), file),
      (entries) => importFxRates(ctx.db(), ctx.names(), entries, ctx.clock.now()),
    );
  },
};
