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
