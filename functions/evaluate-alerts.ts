import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import { runEvaluation } from '#shared/alerts/run.js';
import { createSnsNotifier } from '#shared/alerts/notify/sns.js';
import { alertRunFromEnv } from './commons/alert-run.js';
import { snsClient } from './commons/clients.js';
import { domainLogger, logger, metrics } from './commons/powertools.js';

/**
 * Scheduled (EventBridge Scheduler, every `alerts.evaluateEveryMinutes`): evaluate every rule at
 * now (or at `{"at": "…Z"}` when invoked by hand for a past time), update alert state, publish at
 * most one grouped message per severity to ALERTS_TOPIC_ARN.
 *
 * Environment: ALERTS_TOPIC_ARN, DB_CLUSTER_ARN, DB_SECRET_ARN, DT_DB_PREFIX, and
 * DUALTRACK_CONFIG_JSON (the validated config file as JSON; it holds no secrets — thresholds,
 * platforms, migration dates).
 */

export async function evaluateAlerts(
  event: unknown,
  env: NodeJS.ProcessEnv = process.env,
  now: () => Date = () => new Date(),
) {
  const { at, config, db, names, topicArn } = alertRunFromEnv(event, env, now);
  const result = await runEvaluation({
    db,
    names,
    config,
    at,
    notifier: createSnsNotifier(snsClient, topicArn),
    logger: domainLogger,
  });
  metrics.addMetric('alertsFiring', MetricUnit.Count, result.firing.length);
  metrics.addMetric(
    'alertsOpened',
    MetricUnit.Count,
    result.notifications.filter((n) => n.kind === 'opened' || n.kind === 'reopened').length,
  );
  metrics.addMetric('alertsResolved', MetricUnit.Count, result.resolved.length);
  return {
    at: at.toISOString(),
    firing: result.firing.length,
    notifications: result.notifications.length,
    messages: result.messages.length,
  };
}

export const handler = middy()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler((event: unknown) => evaluateAlerts(event));
