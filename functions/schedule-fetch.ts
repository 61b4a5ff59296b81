import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import * as z from 'zod';
import { scheduleFetch } from '#shared/pipeline/schedule.js';
import { pipelineDepsFromEnv } from './commons/pipeline.js';
import { logger, metrics } from './commons/powertools.js';

/**
 * EventBridge Scheduler, one schedule per platform (`{"platform": "<key>"}`): plan slices from the
 * watermarks and enqueue fetch jobs. The stack's ScheduledJob also sends `scheduledTime` (the
 * schedule's nominal time); planning keys on the watermarks and the clock, so it is accepted and unused.
 */
const eventSchema = z.strictObject({ platform: z.string().min(1), scheduledTime: z.string().optional() });

export async function scheduleFetchHandler(event: unknown) {
  const { platform } = eventSchema.parse(event);
  const slices = await scheduleFetch(platform, await pipelineDepsFromEnv());
  return { platform, slices: slices.length };
}

export const handler = middy().use(injectLambdaContext(logger)).use(logMetrics(metrics)).handler(scheduleFetchHandler);
