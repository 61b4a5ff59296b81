import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { assertNoProblems } from './props-error.js';

/** SQS's current maximum message size (1 MiB; 256 KiB was the old limit, docs/aws-limits.md §13). */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

export interface QueueConsumerProps {
  /** The worker that consumes the queue (a `DualtrackFunction`). Its timeout sets the visibility timeout. */
  readonly consumer: LambdaFunction;
  /**
   * Records per invocation (1–10,000; above 10 needs `maxBatchingWindow`).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * How long the event source gathers records before invoking (0–300 s).
   * @default - no batching window
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Concurrent invocations the event source may run (2–1,000). Caps the pressure on the database
   * and on the platforms' rate limits, without reserving account concurrency.
   * @default 2
   */
  readonly maxConcurrency?: number;
  /**
   * Deliveries before a message moves to the dead-letter queue (1–1,000).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * How long an undelivered message stays on the main queue (1 min–14 days).
   * @default Duration.days(4)
   */
  readonly retentionPeriod?: Duration;
  /**
   * Encryption of both queues: SQS-managed keys (free, works with every AWS producer) or a KMS key
   * you pass (producers then need `kms:GenerateDataKey` on it; `grantSendMessages` adds that).
   * @default - SQS-managed server-side encryption (SSE-SQS)
   */
  readonly encryptionKey?: IKey;
  /**
   * Removal policy of both queues.
   * @default RemovalPolicy.DESTROY (messages are transient; the ledger in MySQL is the record)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Queue + dead-letter queue + worker (docs/style.md, the Solutions Constructs `aws-sqs-lambda` shape):
 * both queues encrypted and SSL-only with a 1 MiB message limit; visibility timeout = 6 × the
 * worker's timeout (AWS's guidance for Lambda event sources, so a slow batch plus retries is not
 * redelivered while still running); the event source reports partial batch failures, so one bad
 * record is retried alone; after `maxReceiveCount` deliveries a message lands in the DLQ, from
 * which `dualtrack replay-dlq` recovers it (docs/design.md §5). Producers call `queue.grantSendMessages`.
 */
export class QueueConsumer extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly eventSource: SqsEventSource;
  readonly consumer: LambdaFunction;

  constructor(scope: Construct, id: string, props: QueueConsumerProps) {
    super(scope, id);
    const batchSize = props.batchSize ?? 10;
    const maxConcurrency = props.maxConcurrency ?? 2;
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    const retentionPeriod = props.retentionPeriod ?? Duration.days(4);
    const timeout = props.consumer.timeout ?? Duration.seconds(3);
    validateProps(id, props, { batchSize, maxConcurrency, maxReceiveCount, retentionPeriod, timeout });

    const encryption = props.encryptionKey
      ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
      : { encryption: QueueEncryption.SQS_MANAGED };
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    this.deadLetterQueue = new Queue(this, 'Dlq', {
      ...encryption,
      enforceSSL: true,
      maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
      // The maximum, so an operator back from a long weekend still finds the failures.
      retentionPeriod: Duration.days(14),
      removalPolicy,
    });
    this.queue = new Queue(this, 'Queue', {
      ...encryption,
      enforceSSL: true,
      maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
      retentionPeriod,
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
      removalPolicy,
    });
    this.eventSource = new SqsEventSource(this.queue, {
      batchSize,
      maxBatchingWindow: props.maxBatchingWindow,
      maxConcurrency,
      reportBatchItemFailures: true,
    });
    props.consumer.addEventSource(this.eventSource);
    // The consumer knows which delivery is the last before the DLQ (normalize-worker counts it).
    props.consumer.addEnvironment('MAX_RECEIVE_COUNT', String(maxReceiveCount));
    this.consumer = props.consumer;
  }
}

function validateProps(
  id: string,
  props: QueueConsumerProps,
  v: {
    batchSize: number;
    maxConcurrency: number;
    maxReceiveCount: number;
    retentionPeriod: Duration;
    timeout: Duration;
  },
): void {
  const problems: string[] = [];
  if (!Number.isInteger(v.batchSize) || v.batchSize < 1 || v.batchSize > 10_000)
    problems.push(`batchSize must be an integer 1–10,000 (got ${v.batchSize})`);
  else if (v.batchSize > 10 && !props.maxBatchingWindow)
    problems.push(`batchSize ${v.batchSize} > 10 needs maxBatchingWindow (an SQS event source rule)`);
  if (props.maxBatchingWindow && props.maxBatchingWindow.toSeconds() > 300)
    problems.push(`maxBatchingWindow must be ≤ 300 s (got ${props.maxBatchingWindow.toSeconds()} s)`);
  if (!Number.isInteger(v.maxConcurrency) || v.maxConcurrency < 2 || v.maxConcurrency > 1000)
    problems.push(`maxConcurrency must be an integer 2–1,000 (got ${v.maxConcurrency})`);
  if (!Number.isInteger(v.maxReceiveCount) || v.maxReceiveCount < 1 || v.maxReceiveCount > 1000)
    problems.push(`maxReceiveCount must be an integer 1–1,000 (got ${v.maxReceiveCount})`);
  const r = v.retentionPeriod.toSeconds();
  if (r < 60 || r > 1_209_600) problems.push(`retentionPeriod must be 1 min–14 days (got ${r} s)`);
  // SQS's visibility timeout maximum is 12 h; 6 × a 15-minute Lambda is 90 minutes, so only a
  // function without a sane timeout can trip this.
  if (v.timeout.toSeconds() * 6 > 43_200)
    problems.push(`consumer timeout × 6 exceeds SQS's 12 h visibility timeout (timeout ${v.timeout.toSeconds()} s)`);
  assertNoProblems('QueueConsumer', id, problems);
}
