/**
 * The queue port: what the pipeline needs of SQS. Two adapters side by side:
 * - `queue/sqs.ts`   — SendMessageBatch (≤ 10 entries and ≤ 1 MiB a call, `Failed[]` retried);
 * - `queue/local.ts` — in-process, same contract: at-least-once, unordered redelivery of failed
 *                      messages up to maxReceiveCount, then a dead-letter store.
 * Messages are JSON strings; their schemas live in `pipeline/messages.ts`.
 */
export interface QueueSender {
  /** Sends every body to the named queue; resolves only when all were accepted. */
  send(queue: string, bodies: readonly string[]): Promise<void>;
}

/** SQS's limits (docs/aws-limits.md §3.1): a message and a whole batch ≤ 1 MiB, ≤ 10 entries a batch. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;
export const SQS_MAX_BATCH_ENTRIES = 10;

/** Groups bodies into batches of ≤ 10 entries and ≤ maxBatchBytes; a single body over the limit is an error. */
export function batchBodies(bodies: readonly string[], maxBatchBytes = SQS_MAX_MESSAGE_BYTES): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const b of bodies) {
    const size = Buffer.byteLength(b, 'utf8');
    if (size > maxBatchBytes)
      throw new Error(`message of ${size} bytes exceeds the queue limit of ${maxBatchBytes} bytes`);
    if (current.length === SQS_MAX_BATCH_ENTRIES || bytes + size > maxBatchBytes) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(b);
    bytes += size;
  }
  if (current.length) batches.push(current);
  return batches;
}
