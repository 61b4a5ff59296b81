import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '#shared/config/load.js';
import { requestWithRetry } from '#shared/platforms/http.js';
import { MemoryRateLimiter } from '#shared/platforms/rate-limit.js';
import { PlatformApiError, type FetchContext } from '#shared/platforms/types.js';
import { systemClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import { baseConfig } from '../rules/helpers.js';

/** The API key travels with every request: only https (http for loopback), never a redirect, never a reserved key. */

const withPlatform = (key: string, p: Record<string, unknown>) => {
  const raw = baseConfig('dttransport');
  (raw.platforms as Record<string, unknown>)[key] = p;
  return raw;
};
const problems = (raw: unknown) => {
  try {
    parseConfig(raw, 'test config');
    return '';
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.message;
  }
};

describe('config: where keys may go', () => {
  const everflow = { kind: 'everflow', apiKeyEnv: 'EVERFLOW_API_KEY' };
  it('refuses plain http and other schemes, naming the platform; allows http to a loopback host', () => {
    for (const url of ['http://api.eflow.team', 'javascript:alert(1)', 'ftp://api.eflow.team'])
      expect(problems(withPlatform('everflow', { ...everflow, baseUrl: url }))).toMatch(
        /platforms\.everflow\.baseUrl: expected an https:\/\/ address/,
      );
    for (const url of ['https://api.eflow.team', 'http://127.0.0.1:8080', 'http://localhost:9', 'http://[::1]:9'])
      expect(problems(withPlatform('everflow', { ...everflow, baseUrl: url }))).toBe('');
  });

  it('refuses platform keys that name the install\u2019s own databases', () => {
    for (const key of ['core', 'reporting'])
      expect(problems(withPlatform(key, { ...everflow, baseUrl: 'https://api.eflow.team' }))).toContain(
        `"${key}" is reserved`,
      );
  });
});

describe('http: redirects are not followed', () => {
  let server: Server;
  let origin = '';
  const seen: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.url} ${req.headers['x-eflow-api-key'] ?? ''}`);
      if (req.url === '/moved') res.writeHead(302, { location: 'https://elsewhere.example/steal' }).end();
      else res.writeHead(200).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('a redirect is a clear, non-retried error naming where it points; the key goes nowhere else', async () => {
    const ctx = {
      fetch: globalThis.fetch,
      rateLimiter: new MemoryRateLimiter({ everflow: { requests: 100, perSeconds: 1 } }),
      clock: systemClock,
      logger: silentLogger,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 5_000 },
    } as unknown as FetchContext;
    const err = await requestWithRetry(
      { platform: 'everflow', endpoint: '/moved', url: `${origin}/moved`, headers: { 'X-Eflow-API-Key': 'k-123' } },
      ctx,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect((err as PlatformApiError).retryable).toBe(false);
    expect((err as Error).message).toContain('redirects to https://elsewhere.example; redirects are not followed');
    expect((err as Error).message).not.toContain('k-123');
    expect(seen).toEqual(['/moved k-123']);
  });
});

describe('http: a reply read whole is bounded', () => {
  let server: Server;
  let origin = '';
  const seen: string[] = [];
  /** Whether each chunked reply was written to its end, as its connection closes. */
  const finished: Promise<boolean>[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      const chunk = `${'x'.repeat(64 * 1024 - 1)}\n`;
      if (req.url === '/declared') {
        res.writeHead(200, { 'content-length': String(4 * 1024 * 1024) });
        res.write(chunk);
        return; // never ends unless the client goes away
      }
      // Chunked, no length: 64 chunks of 64 KiB (4 MiB), each written when the socket takes it.
      res.writeHead(200, { 'content-type': 'application/json' });
      let sent = 0;
      const more = () => {
        while (sent < 64) {
          sent++;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      finished.push(new Promise((r) => res.on('close', () => r(res.writableFinished))));
      more();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  const ctx = () =>
    ({
      fetch: globalThis.fetch,
      rateLimiter: new MemoryRateLimiter({ cake: { requests: 100, perSeconds: 1 } }),
      clock: systemClock,
      logger: silentLogger,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 5_000 },
    }) as unknown as FetchContext;
  const call = (path: string, maxReplyBytes: number) =>
    requestWithRetry({ platform: 'cake', endpoint: path, url: `${origin}${path}`, maxReplyBytes }, ctx());

  it('stops reading past the bound and fails once, naming the bound; a body under it reads whole', async () => {
    seen.length = 0;
    const err = await call('/chunked', 1024 * 1024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformApiError);
    expect((err as PlatformApiError).retryable).toBe(false);
    expect((err as Error).message).toContain(
      'cake /chunked: reply of more than 1,048,576 bytes is over the 1,048,576-byte bound for a reply read whole (HTTP 200)',
    );
    expect((err as Error).message).toContain('ignored the page size or window');
    expect(seen).toEqual(['/chunked']); // not retried
    const ok = await call('/chunked', 8 * 1024 * 1024);
    expect(ok.text.length).toBe(4 * 1024 * 1024);
    // The first reply was cut off by the client (the rest never downloaded), the second sent whole.
    expect(await Promise.all(finished)).toEqual([false, true]);
  });

  it('refuses a declared Content-Length over the bound before reading it', async () => {
    const err = await call('/declared', 1024 * 1024).catch((e: unknown) => e);
    expect((err as Error).message).toContain('reply of 4,194,304 bytes is over the 1,048,576-byte bound');
    expect((err as PlatformApiError).retryable).toBe(false);
  });
});
