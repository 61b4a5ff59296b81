import { parseArgs } from '../args.js';
import { UsageError, type CliCommand } from '../context.js';
import { outputFormat, writeRows } from '../output.js';
import { importCrosswalk, parseCrosswalkCsv } from '#shared/migration/crosswalk-import.js';
import { runCsvImport } from '../csv-import.js';
import { acceptSuggestions, suggestMappings } from '#shared/migration/matching.js';

const USAGE = `usage: dualtrack mappings import FILE.csv
       dualtrack mappings suggest [--min-confidence X] [--accept] [--json|--csv]

  import   load the entity crosswalk from a CSV with the header entity,platform,platform_id,canonical_key
           (entity: affiliate, offer or advertiser; platform: a configured platform key; one row per
           entity per platform). Every line is checked first and each problem is reported with its line
           number; nothing is loaded unless the whole file is valid. Re-importing a file changes nothing.
  suggest  match entities that are not in the crosswalk with the other platforms' entities by
           normalized name (case, accents, punctuation, legal suffixes like LLC/Inc/Ltd) and email
           (exact, then domain), with a confidence (0-1). Only prints, unless --accept: then the
           suggestions at or above --min-confidence (default 0.6) are stored with source "matched".`;

export const command: CliCommand = {
  name: 'mappings',
  summary: 'import the entity crosswalk (CSV) or suggest matches by name/email',
  usage: USAGE,
  async run(argv, ctx) {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'import':
        return runCsvImport(
          'mappings',
          rest,
          ctx,
          'rows',
          (text, file) => parseCrosswalkCsv(text, ctx.config(), file),
          (entries, file) => importCrosswalk(ctx.db(), ctx.names(), entries, ctx.clock.now(), file),
        );
      case 'suggest': {
        const args = parseArgs(rest, {
          'min-confidence': 'string',
          accept: 'boolean',
          json: 'boolean',
          csv: 'boolean',
        });
        if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
        const format = outputFormat(args);
        const raw = args.flags['min-confidence'];
        const min = raw === undefined ? 0.6 : Number(raw);
        if (!Number.isFinite(min) || min < 0 || min > 1)
          throw new UsageError(`--min-confidence: expected a number from 0 to 1 (got "${raw}")`);
        const suggestions = await suggestMappings(ctx.db(), ctx.names(), ctx.config(), { minConfidence: min });
        writeRows(
          ctx.stdout,
          suggestions.map((s) => ({
            entity: s.entity,
            platform: s.platform,
            platform_id: s.platform_id,
            name: s.name,
            canonical_key: s.canonical_key,
            new_key: s.new_key,
            matched: s.matched,
            confidence: s.confidence,
            reason: s.reason,
            ambiguous: s.ambiguous,
          })),
          format,
          { empty: 'no suggestions' },
        );
        if (args.flags.accept) {
          const n = await acceptSuggestions(ctx.db(), ctx.names(), suggestions, ctx.clock.now());
          (format === 'table' ? ctx.stdout : ctx.stderr).write(`stored ${n} crosswalk rows (source "matched")\n`);
        } else if (format === 'table' && suggestions.length)
          ctx.stdout.write('nothing stored: review, then run again with --accept (or import a corrected CSV)\n');
        return 0;
      }
      case undefined:
        throw new UsageError('expected a subcommand: import or suggest');
      default:
        throw new UsageError(`unknown subcommand "${sub}" (expected import or suggest)`);
    }
  },
};
