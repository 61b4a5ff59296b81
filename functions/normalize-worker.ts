import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { normalizeBatch } from '#shared/pipeline/normalize-worker.js';
import { pipelineDepsFromEnv } from './commons/pipeline.js';
import { logger, metrics } from './commons/powertools.js';

/**
 * SQS (normalize queue, batched, ReportBatchItemFailures): validate, map and upsert each message
 * in one transaction; poison messages are quarantined inside normalizeBatch, transient failures
 * come back as batch item failures (retried, then dead-lettered).
 */
export async function normalizeWorkerHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const result = await normalizeBatch(
    event.Records.map((r) => ({ messageId: r.messageId, body: r.body })),
    await pipelineDepsFromEnv(),
  );
  return { batchItemFailures: result.failedIds.map((id) => ({ itemIdentifier: id })) };
}

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler(normalizeWorkerHandler);
