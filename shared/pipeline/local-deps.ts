import type { Config } from '../config/schema.js';
import { ConfigError, platformSecret } from '../config/load.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import { DbRateLimiter } from '../platforms/rate-limit.js';
import { createConnectors, rateLimitSpecs } from '../platforms/registry.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { hmacContext, MemoryMetrics, type PipelineDeps } from './deps.js';
import type { RetryPolicy } from '../platforms/http.js';

/**
 * Pipeline dependencies for local runs (CLI, demo, tests): connectors from the config, the shared
 * rate-limit buckets in `<prefix>_core`, secrets from the environment variables the config names,
 * and the HMAC key from `privacy.hashKeyEnv`.
 */
export function localPipelineDeps(args: {
  config: Config;
  db: Db;
  names: DbNames;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  logger: Logger;
  fetch?: typeof fetch;
  retry?: Partial<RetryPolicy>;
}): Omit<PipelineDeps, 'queue'> & { metrics: MemoryMetrics } {
  const { config, env } = args;
  const hashKey = env[config.privacy.hashKeyEnv];
  if (!hashKey) {
    throw new ConfigError('privacy.hashKeyEnv', [
      `environment variable ${config.privacy.hashKeyEnv} is not set: it holds the HMAC key for user agents and personal data (any long random string; keep it stable, or hashes stop matching)`,
    ]);
  }
  const connectors = createConnectors(config);
  return {
    config,
    db: args.db,
    names: args.names,
    connectors,
    rateLimiter: new DbRateLimiter(args.db, args.names, rateLimitSpecs(config, connectors)),
    clock: args.clock,
    logger: args.logger,
    fetch: args.fetch ?? fetch,
    secret: (platform) => platformSecret(platform, config.platforms[platform], env),
    normalizeContext: hmacContext(hashKey),
    retry: args.retry,
    metrics: new MemoryMetrics(),
  };
}
