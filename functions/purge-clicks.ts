import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { dbNames } from '#shared/db/names.js';
import { purgeOldClicks } from '#shared/pipeline/retention.js';
import { configFromEnv } from './commons/config.js';
import { dataApiDbFromEnv, dbPrefixFromEnv } from './commons/database.js';
import { domainLogger, logger } from './commons/powertools.js';

/** Scheduled daily: delete raw clicks older than privacy.clickRetentionDays (rollups stay). */
export async function purgeClicksHandler() {
  const config = configFromEnv();
  const purged = await purgeOldClicks(
    dataApiDbFromEnv(),
    dbNames(dbPrefixFromEnv()),
    Object.keys(config.platforms),
    config.privacy.clickRetentionDays,
    new Date(),
    { logger: domainLogger },
  );
  return { purged };
}

export const handler = middy().use(injectLambdaContext(logger)).handler(purgeClicksHandler);
