import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import { createSnsNotifier } from '#shared/alerts/notify/sns.js';
import { listAlerts } from '#shared/alerts/store.js';
import { buildDailyDigest } from '#shared/migration/digest.js';
import { alertRunFromEnv } from './commons/alert-run.js';
import { snsClient } from './commons/clients.js';
import { domainLogger, logger, metrics } from './commons/powertools.js';

/**
 * Scheduled once a day (EventBridge Scheduler): builds the daily digest (migration progress, 30-day
 * revenue sparklines per platform, open alerts) at now, or at `{"at": "…Z"}` when invoked by hand,
 * and sends it through the SNS notifier to ALERTS_TOPIC_ARN (email gets the text, the Slack
 * subscriber the JSON).
 *
 * Environment: ALERTS_TOPIC_ARN, DB_CLUSTER_ARN, DB_SECRET_ARN, DT_DB_PREFIX, DUALTRACK_CONFIG_JSON.
 */

export async function dailyDigest(
  event: unknown,
  env: NodeJS.ProcessEnv = process.env,
  now: () => Date = () => new Date(),
) {
  const { at, config, db, names, topicArn } = alertRunFromEnv(event, env, now);
  const digest = await buildDailyDigest(db, names, config, at, await listAlerts(db, names, 'open'), now());
  let messageId = '';
  await createSnsNotifier(snsClient, topicArn, (_, ids) => {
    messageId = ids[0] ?? '';
  }).digest(digest);
  domainLogger.info('daily digest published', {
    at: digest.at,
    messageId,
    affiliates: digest.migration.affiliates,
    overdue: digest.migration.overdue.length,
    openAlerts: digest.alerts.open,
  });
  metrics.addMetric('digestOverduePartners', MetricUnit.Count, digest.migration.overdue.length);
  return { at: digest.at, messageId, headline: digest.headline };
}

export const handler = middy()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler((event: unknown) => dailyDigest(event));
