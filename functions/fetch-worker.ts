import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { fetchSlice } from '#shared/pipeline/fetch-worker.js';
import { describeZodError, fetchJobSchema } from '#shared/pipeline/messages.js';
import { pipelineDepsFromEnv } from './commons/pipeline.js';
import { logger, metrics } from './commons/powertools.js';

/**
 * SQS (one fetch queue per platform; batch size 1 — a slice can take minutes under HitPath's
 * limit): fetch one slice and fan its records out to the normalize queue. A failed fetch is
 * reported as a batch item failure, so SQS retries it and, after maxReceiveCount, dead-letters it.
 */
export async function fetchWorkerHandler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  const base = await pipelineDepsFromEnv();
  // The invocation's deadline: a long slice hands its rest on, or fails with the reason, before Lambda kills it.
  const deps = context ? { ...base, remainingMs: () => context.getRemainingTimeInMillis() } : base;
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      body = undefined;
    }
    const job = fetchJobSchema.safeParse(body);
    if (!job.success) {
      // Dropped on purpose: a malformed job can never succeed and nothing was fetched for it, so
      // no data is lost; retrying would only park it in the DLQ after maxReceiveCount tries.
      logger.error('malformed fetch job dropped', {
        messageId: record.messageId,
        reason: job.success ? '' : describeZodError(job.error),
      });
      continue;
    }
    try {
      await fetchSlice(job.data, deps);
    } catch {
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler(fetchWorkerHandler);
