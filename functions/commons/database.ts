import { createDataApiDb } from '#shared/db/data-api.js';
import type { Db } from '#shared/db/port.js';
import { rdsDataClient } from './clients.js';

/**
 * The database a handler uses in AWS: the RDS Data API adapter over the container's shared client,
 * configured from the environment `DualtrackFunction.bindDatabase` sets. Every missing variable is
 * named at once, so a mis-wired function fails with one clear message on its first invocation.
 */
export function dataApiDbFromEnv(options: { resumeTimeoutMs?: number } = {}, env: NodeJS.ProcessEnv = process.env): Db {
  const missing = ['DB_CLUSTER_ARN', 'DB_SECRET_ARN'].filter((k) => !env[k]);
  if (missing.length) throw new MissingEnvironmentError(missing);
  return createDataApiDb({
    client: rdsDataClient,
    resourceArn: env.DB_CLUSTER_ARN as string,
    secretArn: env.DB_SECRET_ARN as string,
    resumeTimeoutMs: options.resumeTimeoutMs,
  });
}

/** The database name prefix (`DT_DB_PREFIX`, from the config's `databases.prefix`). */
export function dbPrefixFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  if (!env.DT_DB_PREFIX) throw new MissingEnvironmentError(['DT_DB_PREFIX']);
  return env.DT_DB_PREFIX;
}

export class MissingEnvironmentError extends Error {
  constructor(readonly variables: string[]) {
    super(`environment variable(s) ${variables.join(', ')} not set (DualtrackFunction.bindDatabase sets them)`);
    this.name = 'MissingEnvironmentError';
  }
}
