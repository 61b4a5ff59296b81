import * as z from 'zod';
import type { Config } from '#shared/config/schema.js';
import { dbNames, type DbNames } from '#shared/db/names.js';
import type { Db } from '#shared/db/port.js';
import { parseInstant } from '#shared/util/time.js';
import { configFromEnv } from './config.js';
import { dataApiDbFromEnv, MissingEnvironmentError } from './database.js';

const eventSchema = z.looseObject({ at: z.string().optional() });

export interface AlertRun {
  /** `{"at": "…Z"}` when invoked by hand for a past time, else now. */
  at: Date;
  config: Config;
  db: Db;
  names: DbNames;
  topicArn: string;
}

/**
 * The start of the functions that publish to the alerts topic on a schedule (evaluate-alerts,
 * daily-digest): the event, then ALERTS_TOPIC_ARN and DT_DB_PREFIX (both named when missing), the
 * config, the evaluation time and the Data API database.
 */
export function alertRunFromEnv(event: unknown, env: NodeJS.ProcessEnv, now: () => Date): AlertRun {
  const parsed = eventSchema.parse(event ?? {});
  const missing = ['ALERTS_TOPIC_ARN', 'DT_DB_PREFIX'].filter((k) => !env[k]);
  if (missing.length) throw new MissingEnvironmentError(missing);
  const config = configFromEnv(env);
  const at = parsed.at ? parseInstant(parsed.at, 'event.at') : now();
  const db = dataApiDbFromEnv({}, env);
  return { at, config, db, names: dbNames(env.DT_DB_PREFIX as string), topicArn: env.ALERTS_TOPIC_ARN as string };
}
