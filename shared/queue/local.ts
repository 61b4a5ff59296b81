import { randomUUID } from 'node:crypto';
import type { QueueSender } from './port.js';

/**
 * The in-process queue of local runs (`dualtrack ingest`, the demo, tests) with SQS's delivery
 * semantics: at-least-once, a failed message comes back (up to `maxReceiveCount` receives) and
 * then moves to the dead-letter sink. Consumers take batches and report partial failures, exactly
 * as the Lambda handlers do (`batchItemFailures`).
 */

export interface LocalMessage {
  messageId: string;
  body: string;
  receiveCount: number;
}

/** Returns the ids of the messages that failed (to be redelivered), like a partial batch response. */
export type BatchConsumer = (
  messages: LocalMessage[],
) => Promise<{ failedIds: string[]; errors?: Record<string, string> }>;

export interface DeadLetterSink {
  put(queue: string, message: LocalMessage, error: string | undefined): Promise<void>;
}

export interface LocalQueueOptions {
  maxReceiveCount?: number;
  batchSize?: number;
  /** How many batches of one queue run at once (SQS event source maxConcurrency). */
  concurrency?: Record<string, number>;
  deadLetters?: DeadLetterSink;
  /** Test hook: reorders a queue's pending messages before each poll (SQS does not keep order). */
  shuffle?: <T>(items: T[]) => T[];
  /** Test hook: deliver every message this many times (at-least-once taken literally). */
  duplicate?: number;
}

export class LocalQueue implements QueueSender {
  private readonly pending = new Map<string, LocalMessage[]>();
  private readonly consumers = new Map<string, BatchConsumer>();
  readonly dead: { queue: string; message: LocalMessage; error?: string }[] = [];
  readonly stats = new Map<string, { sent: number; delivered: number; failed: number; dead: number }>();

  constructor(private readonly options: LocalQueueOptions = {}) {}

  consume(queue: string, consumer: BatchConsumer): void {
    this.consumers.set(queue, consumer);
  }

  async send(queue: string, bodies: readonly string[]): Promise<void> {
    const q = this.pending.get(queue) ?? [];
    const copies = this.options.duplicate ?? 1;
    for (const body of bodies)
      for (let i = 0; i < copies; i++) q.push({ messageId: randomUUID(), body, receiveCount: 0 });
    this.pending.set(queue, q);
    this.stat(queue).sent += bodies.length;
  }

  size(queue?: string): number {
    if (queue) return this.pending.get(queue)?.length ?? 0;
    let n = 0;
    for (const q of this.pending.values()) n += q.length;
    return n;
  }

  private stat(queue: string) {
    let s = this.stats.get(queue);
    if (!s) this.stats.set(queue, (s = { sent: 0, delivered: 0, failed: 0, dead: 0 }));
    return s;
  }

  /**
   * Delivers until every queue with a consumer is empty (messages sent by consumers included).
   * Queues are polled concurrently, each with its configured concurrency, like SQS event sources.
   */
  async drain(onTick?: () => void): Promise<void> {
    for (;;) {
      const work: Promise<void>[] = [];
      for (const [queue, consumer] of this.consumers) {
        const q = this.pending.get(queue);
        if (!q || q.length === 0) continue;
        if (this.options.shuffle) this.pending.set(queue, this.options.shuffle(q));
        const batches = this.options.concurrency?.[queue] ?? 1;
        for (let i = 0; i < batches; i++) {
          const batch = this.pending.get(queue)!.splice(0, this.options.batchSize ?? 10);
          if (batch.length === 0) break;
          work.push(this.deliver(queue, consumer, batch));
        }
      }
      if (work.length === 0) return;
      await Promise.all(work);
      onTick?.();
    }
  }

  private async deliver(queue: string, consumer: BatchConsumer, batch: LocalMessage[]): Promise<void> {
    for (const m of batch) m.receiveCount++;
    const s = this.stat(queue);
    s.delivered += batch.length;
    let failedIds: string[];
    let errors: Record<string, string> = {};
    try {
      const r = await consumer(batch);
      failedIds = r.failedIds;
      errors = r.errors ?? {};
    } catch (e) {
      // A thrown handler fails the whole batch, as a Lambda error does.
      failedIds = batch.map((m) => m.messageId);
      for (const m of batch) errors[m.messageId] = (e as Error).message;
    }
    const failed = new Set(failedIds);
    for (const m of batch) {
      if (!failed.has(m.messageId)) continue;
      s.failed++;
      if (m.receiveCount >= (this.options.maxReceiveCount ?? 5)) {
        s.dead++;
        this.dead.push({ queue, message: m, error: errors[m.messageId] });
        await this.options.deadLetters?.put(queue, m, errors[m.messageId]);
      } else {
        this.pending.get(queue)!.push(m);
      }
    }
  }
}
