import { createHmac } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import type { Connector, NormalizeContext } from '../platforms/types.js';
import type { RateLimiter } from '../platforms/rate-limit.js';
import type { RetryPolicy } from '../platforms/http.js';
import type { QueueSender } from '../queue/port.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';

/** Everything the pipeline stages take as arguments: the same code runs in Lambda, locally and in tests. */
export interface PipelineDeps {
  config: Config;
  db: Db;
  names: DbNames;
  /** By platform key. */
  connectors: Record<string, Connector>;
  queue: QueueSender;
  rateLimiter: RateLimiter;
  clock: Clock;
  logger: Logger;
  fetch: typeof fetch;
  /** The platform's credentials (env var locally, Secrets Manager in AWS). Never logged. */
  secret(platform: string): Promise<string> | string;
  /** Keyed hash for user agents, end-user emails and device ids (and IPs when privacy.hashIps). */
  normalizeContext: NormalizeContext;
  /** Largest normalize message body in bytes (SQS allows 1 MiB; leave headroom for the envelope). */
  maxMessageBytes?: number;
  /** Most records in one normalize message (bounds one load transaction). */
  maxRecordsPerMessage?: number;
  retry?: Partial<RetryPolicy>;
  /** Counters the CLI prints and Lambdas emit as metrics. */
  metrics?: PipelineMetrics;
  /** Milliseconds left in this invocation (Lambda's getRemainingTimeInMillis); absent locally. */
  remainingMs?: () => number;
}

export interface PipelineMetrics {
  add(
    name: 'rowsLoaded' | 'rowsQuarantined' | 'recordsFetched' | 'fetchErrors' | 'messagesSent' | 'poisonMessages',
    platform: string,
    value: number,
  ): void;
}

/** HMAC-SHA256 (hex) with the install's key: equal inputs hash equally across platforms, nothing is reversible. */
export function hmacContext(key: string): NormalizeContext {
  if (!key) throw new Error('the hash key is empty');
  return { hash: (value: string) => createHmac('sha256', key).update(value).digest('hex') };
}

/** Counters kept in memory, by metric and platform. */
export class MemoryMetrics implements PipelineMetrics {
  readonly values = new Map<string, number>();
  add(name: string, platform: string, value: number): void {
    const k = `${name}:${platform}`;
    this.values.set(k, (this.values.get(k) ?? 0) + value);
  }
  get(name: string, platform: string): number {
    return this.values.get(`${name}:${platform}`) ?? 0;
  }
}
