import { sleep as realSleep } from '../../platforms/rate-limit.js';

/**
 * Posts a payload to a Slack incoming webhook. Slack allows about one message per second and answers
 * HTTP 429 with `Retry-After` (seconds) when over it (docs/aws-limits.md §6): the poster waits exactly
 * that long (capped) and tries again. 5xx and network errors are retried with a short backoff; any
 * other non-2xx (400 invalid_payload, 403, 404 no_service …) fails at once. The webhook URL is a
 * secret: it is never logged and never part of an error message.
 */

export class SlackWebhookError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SlackWebhookError';
  }
}

export interface PostOptions {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  maxAttempts?: number;
  /** Longest Retry-After honoured; beyond it the post fails (a Lambda must not sleep for minutes). */
  maxRetryAfterSeconds?: number;
  timeoutMs?: number;
}

export async function postSlackWebhook(
  url: string,
  payload: unknown,
  options: PostOptions = {},
): Promise<{ attempts: number; waitedMs: number }> {
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? realSleep;
  const maxAttempts = options.maxAttempts ?? 5;
  const maxRetryAfter = options.maxRetryAfterSeconds ?? 60;
  const body = JSON.stringify(payload);
  let waitedMs = 0;
  for (let attempt = 1; ; attempt++) {
    let status: number;
    let retryAfter: string | null = null;
    let text = '';
    try {
      const res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await res.text().catch(() => '');
    } catch (e) {
      if (attempt >= maxAttempts)
        throw new SlackWebhookError(`Slack webhook unreachable after ${attempt} attempts: ${(e as Error).name}`);
      const ms = 500 * 2 ** (attempt - 1);
      await sleep(ms);
      waitedMs += ms;
      continue;
    }
    if (status >= 200 && status < 300) return { attempts: attempt, waitedMs };
    if (status === 429 || status >= 500) {
      if (attempt >= maxAttempts)
        throw new SlackWebhookError(`Slack webhook answered ${status} ${attempt} times; giving up`, status);
      let ms: number;
      if (status === 429) {
        const secs = retryAfter !== null && /^\d+(\.\d+)?$/.test(retryAfter.trim()) ? Number(retryAfter) : 1;
        if (secs > maxRetryAfter)
          throw new SlackWebhookError(
            `Slack webhook asked to retry after ${secs}s (more than ${maxRetryAfter}s)`,
            status,
          );
        ms = Math.ceil(secs * 1000);
      } else ms = 500 * 2 ** (attempt - 1);
      await sleep(ms);
      waitedMs += ms;
      continue;
    }
    // Slack's error bodies are short codes (invalid_payload, no_text, channel_not_found …); safe to show.
    throw new SlackWebhookError(
      `Slack webhook rejected the message: HTTP ${status} ${text.slice(0, 80).replace(/\s+/g, ' ')}`.trim(),
      status,
    );
  }
}
