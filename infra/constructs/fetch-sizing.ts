import { Duration } from 'aws-cdk-lib';
import type { PlatformConfig } from '#shared/config/schema.js';

/**
 * How each platform's fetch worker is sized: concurrent invocations of its SQS event source
 * (`maxConcurrency`, 2–1,000: 2 is the floor the Lambda API accepts) and the function timeout
 * (the queue's visibility timeout is 6 × that, set by QueueConsumer).
 *
 * The config's `platforms.<key>.concurrency` overrides maxConcurrency (raised to 2, Lambda's floor);
 * the stack prop `fetchConcurrency` overrides both. Keep these in step with
 * DEFAULT_FETCH_CONCURRENCY (shared/platforms/registry.ts, what the local runner uses).
 *
 * Concurrency bounds how many slices are fetched at once; the request RATE is enforced separately
 * by the shared DbRateLimiter bucket (docs/design.md §3), so a worker above what a platform allows only
 * waits on the bucket while holding a Lambda. Each worker issues one API call at a time.
 */
export interface FetchSizing {
  readonly maxConcurrency: number;
  readonly timeout: Duration;
  /** Why these numbers (shown in the stack's doc and the report). */
  readonly why: string;
}

export const FETCH_SIZING: Record<PlatformConfig['kind'], FetchSizing> = {
  everflow: {
    // ≤ 10 concurrent requests to /v1/networks/reporting/* per NETWORK, shared with every other
    // key and integration the network runs (docs/platform-apis.md "Rate limits"): take half.
    maxConcurrency: 5,
    // 20 req/s; a slice's pages (and a clicks window split until under 10k rows) fit in minutes.
    timeout: Duration.minutes(10),
    why: 'Everflow allows ≤ 10 concurrent reporting calls per network, shared with its other integrations: 5 workers leave half for them',
  },
  hitpath: {
    // "Data can be accessed up to twice every 5 minutes": more workers could not fetch more.
    maxConcurrency: 2,
    // A slice may wait up to one 5-minute budget window per call before it may call at all.
    timeout: Duration.minutes(15),
    why: 'HitPath allows 2 calls per 5 minutes: 2 workers (the minimum) already use the whole budget; 15 min covers a call waiting out a budget window',
  },
  cake: {
    // No published limit; calls are slow (wide reports "may time out", docs/platform-apis.md), so
    // several at once, all drawing on the one shared rate budget (1 request/s unless configured).
    maxConcurrency: 4,
    timeout: Duration.minutes(15),
    why: 'CAKE publishes no rate limit and its reports are slow: 4 workers at once, sharing the rate budget, long timeout for slow paged reports',
  },
  partnerize: {
    // "rate limit based on usage", no number published; the bucket default is 1 req/s.
    maxConcurrency: 3,
    timeout: Duration.minutes(10),
    why: 'Partnerize publishes no number (429 with X-RateLimit-* headers): 3 workers over a 1 req/s shared bucket',
  },
};
