import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import * as z from 'zod';
import { backfillProgress, planBackfill } from '#shared/pipeline/schedule.js';
import { pipelineDepsFromEnv } from './commons/pipeline.js';
import { logger, metrics } from './commons/powertools.js';

/**
 * On-demand invoke. `{"platform","from","to","streams"?,"fresh"?}` plans a backfill (refused with
 * the reason when the window is bad or beyond the platform's horizon) and returns its id;
 * `{"backfillId": "…"}` returns its progress (slices done/failed, rows), read from the database.
 */
const progressRequest = z.strictObject({ backfillId: z.string().min(1) });

export async function backfillHandler(event: unknown) {
  const deps = await pipelineDepsFromEnv();
  const progress = progressRequest.safeParse(event);
  if (progress.success) {
    const p = await backfillProgress(progress.data.backfillId, deps);
    if (!p) throw new Error(`backfill ${progress.data.backfillId} not found`);
    return p;
  }
  return planBackfill(event, deps);
}

export const handler = middy().use(injectLambdaContext(logger)).use(logMetrics(metrics)).handler(backfillHandler);
