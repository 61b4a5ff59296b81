import { describe, expect, it, beforeEach } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SqsQueueSender } from '#shared/queue/sqs.js';
import { batchBodies, SQS_MAX_MESSAGE_BYTES } from '#shared/queue/port.js';

const sqs = mockClient(SQSClient);
beforeEach(() => sqs.reset());
const URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/dualtrack-normalize';

describe('batchBodies', () => {
  it('cuts at 10 entries and at the byte limit, keeping order', () => {
    const small = Array.from({ length: 23 }, (_, i) => `m${i}`);
    expect(batchBodies(small).map((b) => b.length)).toEqual([10, 10, 3]);
    const big = Array.from({ length: 5 }, (_, i) => `${i}`.padEnd(400_000, 'x'));
    const batches = batchBodies(big);
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
    for (const b of batches)
      expect(b.reduce((s, x) => s + Buffer.byteLength(x), 0)).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
    expect(batches.flat()).toEqual(big);
  });

  it('refuses a single message over the limit, naming its size', () => {
    expect(() => batchBodies(['é'.repeat(600_000)])).toThrow(
      /message of 1200000 bytes exceeds the queue limit of 1048576 bytes/,
    );
  });
});

describe('SqsQueueSender', () => {
  it('sends exactly the documented SendMessageBatch requests and re-sends Failed[] entries', async () => {
    let call = 0;
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => {
      call++;
      // The first request: entry "3" fails transiently (SenderFault false).
      if (call === 1)
        return {
          Successful: input.Entries.filter((e) => e.Id !== '3').map((e) => ({
            Id: e.Id,
            MessageId: `id${e.Id}`,
            MD5OfMessageBody: 'x',
          })),
          Failed: [{ Id: '3', Code: 'InternalError', SenderFault: false }],
        };
      return {
        Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `id${e.Id}`, MD5OfMessageBody: 'x' })),
        Failed: [],
      };
    });
    const waits: number[] = [];
    const sender = new SqsQueueSender(
      new SQSClient({ region: 'eu-west-1' }),
      { normalize: URL },
      { sleep: async (ms) => void waits.push(ms) },
    );
    const bodies = Array.from({ length: 12 }, (_, i) => JSON.stringify({ n: i }));
    await sender.send('normalize', bodies);
    const inputs = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);
    expect(inputs).toEqual([
      { QueueUrl: URL, Entries: bodies.slice(0, 10).map((b, i) => ({ Id: String(i), MessageBody: b })) },
      { QueueUrl: URL, Entries: [{ Id: '3', MessageBody: bodies[3] }] },
      { QueueUrl: URL, Entries: bodies.slice(10).map((b, i) => ({ Id: String(i), MessageBody: b })) },
    ]);
    expect(waits).toEqual([200]);
  });

  it('fails loudly on a sender fault, or when entries keep failing', async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: '0', Code: 'InvalidMessageContents', SenderFault: true, Message: 'bad chars' }],
    });
    const sender = new SqsQueueSender(
      new SQSClient({ region: 'eu-west-1' }),
      { normalize: URL },
      { sleep: async () => {} },
    );
    await expect(sender.send('normalize', ['x'])).rejects.toThrow(
      'SQS rejected a message for normalize: InvalidMessageContents bad chars',
    );
    sqs.reset();
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [], Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });
    await expect(sender.send('normalize', ['x'])).rejects.toThrow(
      'SQS did not accept 1 of 1 messages for normalize after 5 attempts',
    );
    await expect(sender.send('fetch-hitpath', ['x'])).rejects.toThrow('no queue URL configured for "fetch-hitpath"');
  });
});
