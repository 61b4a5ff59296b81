import type { PlatformKind, Stream, StreamRowTypes } from '../model/canonical.js';
import type { Logger } from '../util/logger.js';
import type { Clock } from '../util/clock.js';
import type { RetryPolicy } from './http.js';
import type { RateLimiter, RateLimitSpec } from './rate-limit.js';

/** One unit of fetch work: a platform, a stream and a half-open UTC window [from, to). */
export interface Slice {
  /** The platform's key in config (`platforms.<key>`), also its database suffix. */
  platform: string;
  stream: Stream;
  /** ISO-8601 UTC, inclusive. Entity streams ignore the window (they pull the whole list). */
  from: string;
  /** ISO-8601 UTC, exclusive. */
  to: string;
}

/** What a connector needs to talk to the platform. Passed in; never global. */
export interface FetchContext {
  /** `fetch`-compatible; tests pass the global fetch pointed at a simulator via baseUrl. */
  fetch: typeof fetch;
  /** Shared budget across every concurrent worker (token bucket in `<prefix>_core`). */
  rateLimiter: RateLimiter;
  clock: Clock;
  logger: Logger;
  /** The API key / credentials, resolved by the caller from env or Secrets Manager. Never logged. */
  secret: string;
  /** Backoff settings for 429/5xx/timeouts (tests shrink the delays; defaults in platforms/http.ts). */
  retry?: Partial<RetryPolicy>;
  /** Called after each page with running totals, for progress bars and the fetch ledger. */
  onProgress?: (p: { pages: number; records: number; calls: number }) => void;
  /** Aborts retries and in-flight requests (Lambda near its timeout, Ctrl-C). */
  signal?: AbortSignal;
  /**
   * True once this invocation has done enough (rows or time): a connector that can stop at a clean
   * boundary between calls returns with `completeUntil`, and the fetch worker hands the rest of the
   * slice to a new one. Connectors that cannot stop cleanly ignore it.
   */
  shouldYield?: () => boolean;
}

/** One page of raw records, as the platform sent them (envelope already validated). */
export interface RawPage {
  /** Which endpoint produced them, for error messages and quarantine (`/v1/networks/reporting/conversions`). */
  endpoint: string;
  records: unknown[];
}

export interface FetchSummary {
  pages: number;
  records: number;
  calls: number;
  /** Replies the connector could not use and asked again over a shorter window (Everflow incomplete_results). */
  splits: number;
  /** Set when the connector yielded (ctx.shouldYield): the slice is complete up to here (ISO), the rest not fetched. */
  completeUntil?: string;
}

/** Context for mapping raw records to canonical rows (pure, no I/O). */
export interface NormalizeContext {
  /** Keyed hash (HMAC-SHA256, hex) for user agents, end-user emails and device ids. */
  hash(value: string): string;
  /** config `privacy.hashIps`: IP addresses in `raw` (and the quarantine) are hashed too. */
  hashIps?: boolean;
}

export type NormalizeResult<S extends Stream> =
  | { ok: true; row: StreamRowTypes[S] }
  /** `reason` names platform, stream, field and what was wrong: `everflow conversions: payout: expected a decimal, got "abc"`. */
  | { ok: false; reason: string };

/**
 * A platform connector: same shape in every `shared/platforms/<kind>/` folder (client.ts fetches,
 * schemas.ts validates, map.ts maps, index.ts builds this object).
 */
export interface Connector {
  readonly kind: PlatformKind;
  /** The streams this platform offers (HitPath has no entity or change streams). */
  readonly streams: readonly Stream[];
  /** How far back the API lets us ask, in days (HitPath: 45), or null for no documented limit. */
  readonly horizonDays: number | null;
  /** The platform's documented request limit (config `platforms.<key>.rateLimit` overrides it). */
  readonly defaultRateLimit: RateLimitSpec;
  /**
   * The longest slice of a stream, in hours: what the API lets one slice carry (HitPath: the whole
   * 45-day horizon in one call; Everflow clicks: 14 days of calls sized under the row cap).
   */
  sliceHours(stream: Stream): number;
  /**
   * The most rows one slice should carry (one fetch invocation's time), or null for no bound. The
   * planner shortens slices to this from the stream's recent density (the ledger's rows per hour).
   */
  sliceRows(stream: Stream): number | null;
  /**
   * Fetches one slice with all its pages, respecting the platform's limits through ctx.rateLimiter,
   * retrying 429/5xx with backoff. Calls `onPage` for each page in order (await it before the next
   * page: back-pressure). Throws `PlatformApiError` on a reply that fails its envelope schema or an
   * error that outlasts the retries.
   */
  fetchSlice(slice: Slice, ctx: FetchContext, onPage: (page: RawPage) => Promise<void>): Promise<FetchSummary>;
  /** Validates one raw record of a stream against its zod schema and maps it to the canonical row. */
  normalize<S extends Stream>(stream: S, record: unknown, ctx: NormalizeContext): NormalizeResult<S>;
  /** A raw record with the platform's personal data replaced by keyed hashes (what `raw` and the quarantine keep). */
  redact(record: unknown, ctx: NormalizeContext): unknown;
}

/** An error from a platform API: what failed, where, and whether retrying later could help. */
export class PlatformApiError extends Error {
  constructor(
    readonly platform: string,
    readonly endpoint: string,
    message: string,
    readonly options: {
      status?: number;
      retryable?: boolean;
      recordIndex?: number;
      field?: string;
      cause?: unknown;
    } = {},
  ) {
    super(`${platform} ${endpoint}: ${message}`, { cause: options.cause });
    this.name = 'PlatformApiError';
  }
  get retryable(): boolean {
    return this.options.retryable ?? false;
  }
}
