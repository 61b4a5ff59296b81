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
 * come back as batch item failures (retried, then dead-lettered). A failure on the last delivery
 * (MAX_RECEIVE_COUNT, the queue's maxReceiveCount) is counted in its slice's ledger first, so the
 * slice completes and its books balance although the DLQ tells no one.
 */
export async function normalizeWorkerHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const maxReceiveCount = Number(process.env.MAX_RECEIVE_COUNT);
  const result = await normalizeBatch(
    event.Records.map((r) => ({
      messageId: r.messageId,
      body: r.body,
      receiveCount: Number(r.attributes.ApproximateReceiveCount),
    })),
    await pipelineDepsFromEnv(),
    { maxReceiveCount: Number.isInteger(maxReceiveCount) && maxReceiveCount > 0 ? maxReceiveCount : undefined },
  );
  return { batchItemFailures: result.failedIds.map((id) => ({ itemIdentifier: id })) };
}

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler(normalizeWorkerHandler);
