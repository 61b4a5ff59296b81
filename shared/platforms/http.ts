import { PlatformApiError, type FetchContext } from './types.js';
import { sleep } from './rate-limit.js';
import { readJson } from './kit/json.js';

/**
 * One HTTP call to a platform with the shared budget, timeouts and retries every connector needs:
 * - takes a token from ctx.rateLimiter before every attempt (the budget is shared across workers);
 * - 429: waits `Retry-After` (seconds or HTTP date), `X-RateLimit-Retry-After` or `X-RateLimit-Reset`,
 *   else backs off, and
 *   pauses the shared bucket so other workers hold off too;
 * - 5xx, network errors, timeouts and bodies cut short: exponential backoff with full jitter;
 * - other 4xx: a non-retryable PlatformApiError carrying the status and the start of the body;
 * - a reply read whole (not streamed through `consume`) may be at most `maxReplyBytes` (64 MiB):
 *   every such endpoint is paged or capped well under that, so a bigger reply means the platform
 *   ignored the page size or window, and holding it would exhaust the function's memory. It fails
 *   the call with that reason (not retried) instead.
 * The secret travels only in the request; error messages carry the endpoint label, never the URL
 * (HitPath puts its key in the query string).
 */

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000, timeoutMs: 60_000 };

export interface HttpRequest {
  platform: string;
  /** A label for errors and logs, without secrets (`/v1/networks/reporting/conversions`). */
  endpoint: string;
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Largest reply read whole; default MAX_REPLY_BYTES. */
  maxReplyBytes?: number;
}

/**
 * 64 MiB: several times the largest page any connector asks for (Everflow's 10,000 clicks are about
 * 13 MB at the documented record's 1.3 KB, more with long URLs and referers), and small enough
 * that the text and its parse fit the fetch function's memory.
 */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export interface HttpReply<T = string> {
  status: number;
  headers: Headers;
  text: string;
  /** What `parse` returned (the text itself when no parser was given). */
  value: T;
  attempts: number;
}

export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}

/** Milliseconds the server asked us to wait, from Retry-After, X-RateLimit-Retry-After or X-RateLimit-Reset, or null. */
export function serverRetryDelay(headers: Headers, nowMs: number): number | null {
  const ra = headers.get('retry-after');
  if (ra !== null && ra.trim() !== '') {
    const secs = Number(ra);
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
    const at = Date.parse(ra);
    if (!Number.isNaN(at)) return Math.max(0, at - nowMs);
  }
  // Partnerize sends its own `X-RateLimit-Retry-After` (integer seconds), not Retry-After.
  const xra = headers.get('x-ratelimit-retry-after');
  if (xra !== null && xra.trim() !== '' && Number.isFinite(Number(xra))) return Math.max(0, Number(xra) * 1000);
  const reset = headers.get('x-ratelimit-reset');
  if (reset !== null && reset.trim() !== '') {
    const n = Number(reset);
    if (Number.isFinite(n)) {
      // Either seconds-until-reset or an epoch timestamp (seconds); tell them apart by size.
      return n > 1e9 ? Math.max(0, n * 1000 - nowMs) : Math.max(0, n * 1000);
    }
  }
  return null;
}

/**
 * `parse` turns a 2xx body into a value; when it throws a retryable PlatformApiError (a body cut
 * short or malformed, Everflow's `incomplete_results`… whatever the connector decides), the call
 * is retried like a 5xx. A non-retryable error from `parse` is thrown at once.
 */
export async function requestWithRetry<T = string>(
  req: HttpRequest,
  ctx: FetchContext,
  parse?: (text: string, headers: Headers) => T,
  /**
   * Instead of `parse`: reads a 2xx body as a stream (`text` is then ''), for replies too large
   * to hold. It throws a retryable PlatformApiError only while it has delivered nothing; once it
   * has, its errors must be non-retryable (the caller retries the whole slice, a new attempt).
   */
  consume?: (res: Response) => Promise<T>,
): Promise<HttpReply<T>> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...ctx.retry };
  let lastError: PlatformApiError | null = null;
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    await ctx.rateLimiter.acquire(req.platform, ctx.signal);
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    try {
      // Never follow a redirect: the API key (a header, or HitPath's query string) would travel to
      // wherever it points. A redirect is answered below as a configuration error.
      res = await ctx.fetch(req.url, {
        method: req.method ?? 'GET',
        headers: req.headers,
        body: req.body,
        signal,
        redirect: 'manual',
      });
      text = consume && res.status >= 200 && res.status < 300 ? '' : await readBounded(res, req);
    } catch (e) {
      if (ctx.signal?.aborted || (e instanceof PlatformApiError && !e.retryable)) throw e;
      const what = timeout.aborted
        ? `timed out after ${policy.timeoutMs} ms`
        : `network error: ${(e as Error).message}`;
      lastError = new PlatformApiError(req.platform, req.endpoint, what, { retryable: true, cause: e });
      ctx.logger.warn('platform call failed, retrying', {
        platform: req.platform,
        endpoint: req.endpoint,
        attempt,
        error: what,
      });
      if (attempt < policy.maxAttempts) await sleep(backoffDelay(attempt, policy), ctx.signal);
      continue;
    }
    if (res.status === 429) {
      const wait = serverRetryDelay(res.headers, ctx.clock.now().getTime()) ?? backoffDelay(attempt, policy);
      const waitMs = Math.min(wait, policy.maxDelayMs);
      lastError = new PlatformApiError(
        req.platform,
        req.endpoint,
        `429 Too Many Requests (after ${attempt} attempts)`,
        { status: 429, retryable: true },
      );
      ctx.logger.warn('platform rate limit hit', { platform: req.platform, endpoint: req.endpoint, attempt, waitMs });
      await ctx.rateLimiter.pause(req.platform, waitMs);
      continue;
    }
    if (res.status >= 500) {
      lastError = new PlatformApiError(req.platform, req.endpoint, `HTTP ${res.status}: ${snippet(text)}`, {
        status: res.status,
        retryable: true,
      });
      ctx.logger.warn('platform server error, retrying', {
        platform: req.platform,
        endpoint: req.endpoint,
        attempt,
        status: res.status,
      });
      if (attempt < policy.maxAttempts) await sleep(backoffDelay(attempt, policy), ctx.signal);
      continue;
    }
    if (res.status >= 300 && res.status < 400) {
      const to = res.headers.get('location');
      let where = 'elsewhere';
      try {
        if (to) where = new URL(to, req.url).origin;
      } catch {
        where = 'an unreadable location';
      }
      throw new PlatformApiError(
        req.platform,
        req.endpoint,
        `HTTP ${res.status}: the API redirects to ${where}; redirects are not followed (the credentials would go with them): set the platform's baseUrl to the address it redirects to`,
        { status: res.status, retryable: false },
      );
    }
    if (res.status >= 400) {
      throw new PlatformApiError(req.platform, req.endpoint, `HTTP ${res.status}: ${snippet(text)}`, {
        status: res.status,
        retryable: false,
      });
    }
    if (!parse && !consume)
      return { status: res.status, headers: res.headers, text, value: text as T, attempts: attempt };
    try {
      const value = consume ? await consume(res) : (parse as (text: string, headers: Headers) => T)(text, res.headers);
      return { status: res.status, headers: res.headers, text, value, attempts: attempt };
    } catch (e) {
      if (!(e instanceof PlatformApiError) || !e.retryable) throw e;
      lastError = e;
      ctx.logger.warn('platform reply unusable, retrying', {
        platform: req.platform,
        endpoint: req.endpoint,
        attempt,
        error: e.message,
      });
      if (attempt < policy.maxAttempts) await sleep(backoffDelay(attempt, policy), ctx.signal);
    }
  }
  throw lastError ?? new PlatformApiError(req.platform, req.endpoint, 'no attempts made', { retryable: true });
}

/** The body as text, failing (not retryable) once it passes the request's byte bound. */
async function readBounded(res: Response, req: HttpRequest): Promise<string> {
  const limit = req.maxReplyBytes ?? MAX_REPLY_BYTES;
  const tooLarge = (bytes: string) =>
    new PlatformApiError(
      req.platform,
      req.endpoint,
      `reply of ${bytes} bytes is over the ${limit.toLocaleString('en-US')}-byte bound for a reply read whole (HTTP ${res.status}): the endpoint is paged or capped far below that, so the platform ignored the page size or window; not read further`,
      { status: res.status, retryable: false },
    );
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel();
    throw tooLarge(declared.toLocaleString('en-US'));
  }
  if (!res.body) return '';
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    // Leaving the loop cancels the stream: the rest is never downloaded.
    if (size > limit) throw tooLarge(`more than ${limit.toLocaleString('en-US')}`);
    parts.push(decoder.decode(chunk, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join('');
}

function snippet(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 197)}...` : t || '(empty body)';
}

/**
 * Parses a JSON body losslessly (shared/platforms/kit/json.ts: every number, or the values of
 * `keys`, kept as their literal text); a body that does not parse (cut short, malformed) is a
 * retryable error, since a truncated reply usually succeeds when asked again.
 */
export function parseJsonBody(platform: string, endpoint: string, text: string, keys?: ReadonlySet<string>): unknown {
  try {
    return readJson(text, keys);
  } catch (e) {
    throw new PlatformApiError(
      platform,
      endpoint,
      `reply is not valid JSON (${(e as Error).message}); starts with ${JSON.stringify(text.slice(0, 60))}`,
      { retryable: true, cause: e },
    );
  }
}
