import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';

/**
 * A request budget shared by every concurrent worker of a platform (docs/design.md §3): ten fetch
 * workers in ten Lambdas together still never exceed the platform's documented limit.
 * `acquire` resolves when one request may be sent now.
 */
export interface RateLimiter {
  acquire(platform: string, signal?: AbortSignal): Promise<void>;
  /** After a 429: nobody sends for `ms` (the platform told us its budget is spent). */
  pause(platform: string, ms: number): Promise<void>;
}

export interface RateLimitSpec {
  /** Requests allowed per window (also the burst size). */
  requests: number;
  perSeconds: number;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const t = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** No limit at all (unit tests of mappers; never in a pipeline). */
export const unlimited: RateLimiter = { acquire: async () => {}, pause: async () => {} };

/** A token bucket in this process only (single-process tools; tests of the connectors' pacing). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number; pausedUntil: number }>();
  constructor(
    private readonly specs: Record<string, RateLimitSpec>,
    private readonly now: () => number = () => Date.now(),
  ) {}

  async acquire(platform: string, signal?: AbortSignal): Promise<void> {
    const spec = this.specs[platform];
    if (!spec) return;
    const rate = spec.requests / spec.perSeconds / 1000;
    for (;;) {
      const t = this.now();
      const b = this.buckets.get(platform) ?? { tokens: spec.requests, at: t, pausedUntil: 0 };
      b.tokens = Math.min(spec.requests, b.tokens + (t - b.at) * rate);
      b.at = t;
      this.buckets.set(platform, b);
      const wait = Math.max(b.pausedUntil - t, b.tokens >= 1 ? 0 : (1 - b.tokens) / rate);
      if (wait <= 0) {
        b.tokens -= 1;
        return;
      }
      await sleep(wait, signal);
    }
  }

  async pause(platform: string, ms: number): Promise<void> {
    const b = this.buckets.get(platform);
    const until = this.now() + ms;
    if (b) b.pausedUntil = Math.max(b.pausedUntil, until);
    else this.buckets.set(platform, { tokens: 0, at: this.now(), pausedUntil: until });
  }
}

/**
 * The token bucket as one row per platform in `<prefix>_core.rate_limits`, taken under
 * `SELECT … FOR UPDATE` with the database's clock, so it holds across Lambdas and machines.
 * One short transaction per request: fine at platform limits of ≤ 20 req/s.
 */
export class DbRateLimiter implements RateLimiter {
  constructor(
    private readonly db: Db,
    private readonly names: DbNames,
    private readonly specs: Record<string, RateLimitSpec>,
  ) {}

  async acquire(platform: string, signal?: AbortSignal): Promise<void> {
    const spec = this.specs[platform];
    if (!spec) return;
    const t = `${this.names.core}.rate_limits`;
    for (;;) {
      const waitMs = await this.db.transaction(async (tx) => {
        await tx.execute(
          `INSERT INTO ${t} (bucket, tokens, capacity, per_seconds, refilled_at, paused_until)
           VALUES (:b, :cap, :cap, :per, NOW(3), NOW(3))
           ON DUPLICATE KEY UPDATE capacity = VALUES(capacity), per_seconds = VALUES(per_seconds)`,
          { b: platform, cap: spec.requests, per: spec.perSeconds },
        );
        const [row] = await tx.query<{ tokens: string; elapsed_ms: string; paused_ms: string }>(
          `SELECT tokens,
                  TIMESTAMPDIFF(MICROSECOND, refilled_at, NOW(3)) / 1000 AS elapsed_ms,
                  GREATEST(0, TIMESTAMPDIFF(MICROSECOND, NOW(3), paused_until) / 1000) AS paused_ms
             FROM ${t} WHERE bucket = :b FOR UPDATE`,
          { b: platform },
        );
        const rate = spec.requests / spec.perSeconds / 1000;
        const tokens = Math.min(spec.requests, Number(row.tokens) + Math.max(0, Number(row.elapsed_ms)) * rate);
        const paused = Number(row.paused_ms);
        if (paused > 0) return paused;
        if (tokens >= 1) {
          await tx.execute(`UPDATE ${t} SET tokens = :tokens, refilled_at = NOW(3) WHERE bucket = :b`, {
            b: platform,
            tokens: (tokens - 1).toFixed(6),
          });
          return 0;
        }
        await tx.execute(`UPDATE ${t} SET tokens = :tokens, refilled_at = NOW(3) WHERE bucket = :b`, {
          b: platform,
          tokens: tokens.toFixed(6),
        });
        return (1 - tokens) / rate;
      });
      if (waitMs <= 0) return;
      await sleep(Math.ceil(waitMs), signal);
    }
  }

  async pause(platform: string, ms: number): Promise<void> {
    await this.db.execute(
      `UPDATE ${this.names.core}.rate_limits
          SET paused_until = GREATEST(paused_until, NOW(3) + INTERVAL :ms * 1000 MICROSECOND), tokens = 0, refilled_at = NOW(3)
        WHERE bucket = :b`,
      { b: platform, ms: Math.ceil(ms) },
    );
  }
}
