import type { Config } from '#shared/config/schema.js';
import type { Db } from '#shared/db/port.js';
import type { DbNames } from '#shared/db/names.js';
import type { Clock } from '#shared/util/clock.js';
import type { Logger } from '#shared/util/logger.js';

/**
 * What every CLI command receives. Commands live in `cli/commands/<name>.ts` and export
 * `command: CliCommand`; `cli/main.ts` parses global flags (`--config`), loads the config,
 * opens the database from DATABASE_URL and dispatches. A command returns its exit code.
 */
export interface CliContext {
  /** Loaded lazily: `db migrate --help` must not need a database. */
  config(): Config;
  db(): Db;
  names(): DbNames;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  logger: Logger;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface CliCommand {
  /** `evaluate`, `alerts`, `db`, `report` … (the first word on the command line). */
  name: string;
  /** One line for `dualtrack --help`. */
  summary: string;
  /** Full usage text for `dualtrack <name> --help`. */
  usage: string;
  run(argv: string[], ctx: CliContext): Promise<number>;
}

/** A wrong flag, a missing value, a bad time: printed as `dualtrack <cmd>: <message>` with the usage, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
