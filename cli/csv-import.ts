import { readFileSync } from 'node:fs';
import { parseArgs } from './args.js';
import { UsageError, type CliContext } from './context.js';
import { CsvFileError } from '#shared/migration/csv-file.js';

/**
 * `dualtrack <command> import FILE.csv`: reads the file, validates every line (`parse` throws a
 * CsvFileError naming each bad line), then loads it all or nothing (`load`), and prints what changed.
 * An unreadable file or a bad line is reported in one message and exits 1; nothing is loaded.
 */
export async function runCsvImport<T>(
  command: string,
  argv: string[],
  ctx: CliContext,
  what: string,
  parse: (text: string, file: string) => T[],
  load: (entries: T[], file: string) => Promise<{ inserted: number; updated: number; unchanged: number }>,
): Promise<number> {
  const args = parseArgs(argv, {});
  if (args.positionals.length !== 1)
    throw new UsageError(
      args.positionals.length ? `unexpected argument "${args.positionals[1]}"` : 'import needs FILE.csv',
    );
  const file = args.positionals[0];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    ctx.stderr.write(
      `dualtrack ${command}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`,
    );
    return 1;
  }
  try {
    const entries = parse(text, file);
    const r = await load(entries, file);
    ctx.stdout.write(
      `${file}: ${entries.length} ${what}: ${r.inserted} added, ${r.updated} changed, ${r.unchanged} unchanged\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof CsvFileError) {
      ctx.stderr.write(`dualtrack ${command}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
