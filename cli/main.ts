import { loadConfig, ConfigError } from '#shared/config/load.js';
import { createMysqlDb } from '#shared/db/mysql.js';
import { dbNames } from '#shared/db/names.js';
import type { Db } from '#shared/db/port.js';
import type { Config } from '#shared/config/schema.js';
import { systemClock } from '#shared/util/clock.js';
import { jsonLogger } from '#shared/util/logger.js';
import { UsageError, type CliCommand, type CliContext } from './context.js';
import { COMMANDS } from './commands/index.js';
import { closest } from './args.js';
import { readFileSync } from 'node:fs';

/**
 * `dualtrack <command>` (docs/design.md §8). Global flags, before or after the command:
 *   --config FILE   config file (else DUALTRACK_CONFIG, else ./dualtrack.config.json)
 *   --verbose       debug logs on stderr
 * The database comes from DATABASE_URL (default mysql://root@127.0.0.1:3306).
 */

/** The version in package.json. */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

const GLOBAL_USAGE = (cmds: CliCommand[]) => `usage: dualtrack <command> [flags] [--config FILE]
       dualtrack help <command>
       dualtrack --version

commands:
${cmds.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n')}

Run \`dualtrack help <command>\` (or \`dualtrack <command> --help\`) for a command's flags. The database is DATABASE_URL
(default mysql://root@127.0.0.1:3306); times are ISO-8601 with a zone (2026-10-12T00:00:00Z).
`;

export async function main(
  argv: string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv } = process,
): Promise<number> {
  const rest: string[] = [];
  let configPath: string | undefined;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--config') {
      configPath = argv[++i];
      if (!configPath) return usageFail(io.stderr, 'dualtrack', '--config needs a file');
    } else if (a.startsWith('--config=')) configPath = a.slice('--config='.length);
    else if (a === '--verbose') verbose = true;
    else rest.push(a);
  }
  const [name, ...args] = rest;
  if (name === '--version' || name === '-V' || name === 'version') {
    io.stdout.write(`dualtrack ${version()}\n`);
    return 0;
  }
  const unknown = (n: string) => {
    const near = closest(
      n,
      COMMANDS.map((c) => c.name),
    );
    return usageFail(
      io.stderr,
      'dualtrack',
      `unknown command "${n}"${near ? ` (did you mean "${near}"?)` : ''}\n\n${GLOBAL_USAGE(COMMANDS)}`,
    );
  };
  if (name === 'help' && args.length > 0) {
    const target = COMMANDS.find((c) => c.name === args[0]);
    if (!target) return unknown(args[0]);
    io.stdout.write(target.usage.endsWith('\n') ? target.usage : `${target.usage}\n`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(GLOBAL_USAGE(COMMANDS));
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return unknown(name);
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`);
    return 0;
  }

  let config: Config | undefined;
  let db: Db | undefined;
  const ctx: CliContext = {
    config: () => (config ??= loadConfig(configPath, io.env)),
    db: () => (db ??= createMysqlDb(io.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306')),
    names: () => dbNames(ctx.config().databases.prefix),
    env: io.env,
    clock: systemClock,
    logger: jsonLogger(verbose ? 'debug' : 'warn', io.stderr),
    stdout: io.stdout,
    stderr: io.stderr,
  };
  try {
    return await command.run(args, ctx);
  } catch (e) {
    if (e instanceof UsageError) return usageFail(io.stderr, `dualtrack ${name}`, `${e.message}\n\n${command.usage}`);
    if (e instanceof ConfigError) {
      io.stderr.write(`dualtrack ${name}: ${e.message}\n`);
      return 2;
    }
    const err = e as Error & { code?: string; cause?: { code?: string } };
    const code = err.code ?? err.cause?.code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ER_ACCESS_DENIED_ERROR') {
      io.stderr.write(
        `dualtrack ${name}: cannot reach the database at DATABASE_URL (${code}). Start MySQL 8 or MariaDB, or set DATABASE_URL=mysql://user:pass@host:3306\n`,
      );
      return 1;
    }
    io.stderr.write(`dualtrack ${name}: ${err.message}\n`);
    if (verbose && err.stack) io.stderr.write(`${err.stack}\n`);
    return 1;
  } finally {
    await db?.close().catch(() => undefined);
  }
}

function usageFail(stderr: NodeJS.WritableStream, who: string, message: string): number {
  stderr.write(`${who}: ${message}\n`);
  return 2;
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`dualtrack: ${(e as Error).stack}\n`);
      process.exitCode = 1;
    },
  );
}
