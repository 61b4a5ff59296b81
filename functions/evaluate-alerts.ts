import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import * as z from 'zod';
import { dbNames } from '../shared/db/names.js';
import { runEvaluation } from '../shared/alerts/run.js';
import { createSnsNotifier } from '../shared/alerts/notify/sns.js';
import { parseInstant } from '../shared/util/time.js';
import { snsClient } from './commons/clients.js';
import { dataApiDbFromEnv, MissingEnvironmentError } from './commons/database.js';
import { configFromEnv } from './commons/config.js';
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

const eventSchema = z.looseObject({ at: z.string().optional() });

export async function evaluateAlerts(event: unknown, env: NodeJS.ProcessEnv = process.env, now: () => Date = () => new Date()) {
  const parsed = eventSchema.parse(event ?? {});
  const missing = ['ALERTS_TOPIC_ARN', 'DT_DB_PREFIX'].filter((k) => !env[k]);
  if (missing.length) throw new MissingEnvironmentError(missing);
  const config = configFromEnv(env);
  const at = parsed.at ? parseInstant(parsed.at, 'event.at') : now();
  const db = dataApiDbFromEnv({}, env);
  const result = await runEvaluation({
    db,
    names: dbNames(env.DT_DB_PREFIX as string),
    config,
    at,
    notifier: createSnsNotifier(snsClient, env.ALERTS_TOPIC_ARN as string),
    logger: domainLogger,
  });
  metrics.addMetric('alertsFiring', MetricUnit.Count, result.firing.length);
  metrics.addMetric('alertsOpened', MetricUnit.Count, result.notifications.filter((n) => n.kind === 'opened' || n.kind === 'reopened').length);
  metrics.addMetric('alertsResolved', MetricUnit.Count, result.resolved.length);
  return { at: at.toISOString(), firing: result.firing.length, notifications: result.notifications.length, messages: result.messages.length };
}

export const handler = middy()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler((event: unknown) => evaluateAlerts(event));
