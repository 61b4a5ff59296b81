import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { dbNames } from '#shared/db/names.js';
import { purgeOldClicks, purgeOldQuarantine } from '#shared/pipeline/retention.js';
import { configFromEnv } from './commons/config.js';
import { dataApiDbFromEnv, dbPrefixFromEnv } from './commons/database.js';
import { domainLogger, logger } from './commons/powertools.js';

/** Scheduled daily: delete raw clicks and quarantined records older than privacy.clickRetentionDays (rollups stay). */
export async function purgeClicksHandler() {
  const config = configFromEnv();
  const db = dataApiDbFromEnv();
  const names = dbNames(dbPrefixFromEnv());
  const now = new Date();
  const days = config.privacy.clickRetentionDays;
  const purged = await purgeOldClicks(db, names, Object.keys(config.platforms), days, now, { logger: domainLogger });
  const quarantined = await purgeOldQuarantine(db, names, days, now, { logger: domainLogger });
  return { purged, quarantined };
}

export const handler = middy().use(injectLambdaContext(logger)).handler(purgeClicksHandler);
