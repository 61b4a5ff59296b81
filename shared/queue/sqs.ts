import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { batchBodies, type QueueSender } from './port.js';
import { sleep } from '../platforms/rate-limit.js';

/**
 * SQS adapter. `queue` names are resolved to URLs by `queueUrls` (env vars set by the stack).
 * SendMessageBatch can partially fail with HTTP 200: the `Failed[]` entries are re-sent (up to
 * `maxAttempts`), then an error names how many could not be sent.
 */
export class SqsQueueSender implements QueueSender {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrls: Record<string, string>,
    private readonly options: { maxAttempts?: number; sleep?: (ms: number) => Promise<void> } = {},
  ) {}

  async send(queue: string, bodies: readonly string[]): Promise<void> {
    const url = this.queueUrls[queue];
    if (!url) throw new Error(`no queue URL configured for "${queue}"`);
    const maxAttempts = this.options.maxAttempts ?? 5;
    const wait = this.options.sleep ?? sleep;
    for (const batch of batchBodies(bodies)) {
      let entries = batch.map((body, i) => ({ Id: String(i), MessageBody: body }));
      for (let attempt = 1; entries.length > 0; attempt++) {
        const out = await this.client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
        const failed = new Set((out.Failed ?? []).map((f) => f.Id));
        const senderFault = (out.Failed ?? []).find((f) => f.SenderFault);
        if (senderFault)
          throw new Error(
            `SQS rejected a message for ${queue}: ${senderFault.Code} ${senderFault.Message ?? ''}`.trim(),
          );
        entries = entries.filter((e) => failed.has(e.Id));
        if (entries.length === 0) break;
        if (attempt >= maxAttempts)
          throw new Error(
            `SQS did not accept ${entries.length} of ${batch.length} messages for ${queue} after ${attempt} attempts`,
          );
        await wait(100 * 2 ** attempt);
      }
    }
  }
}
