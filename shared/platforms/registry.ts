import type { Config, PlatformConfig } from '../config/schema.js';
import type { Connector } from './types.js';
import { createCakeConnector } from './cake/index.js';
import { createEverflowConnector } from './everflow/index.js';
import { createHitpathConnector } from './hitpath/index.js';
import { createPartnerizeConnector } from './partnerize/index.js';
import type { RateLimitSpec } from './rate-limit.js';

/**
 * One line per platform kind. Adding a platform (Impact, TUNE…) means a new folder beside the
 * others, a config schema entry, and a line here.
 */
export function createConnector(key: string, p: PlatformConfig): Connector {
  switch (p.kind) {
    case 'everflow':
      return createEverflowConnector(key, p);
    case 'hitpath':
      return createHitpathConnector(key, p);
    case 'cake':
      return createCakeConnector(key, p);
    case 'partnerize':
      return createPartnerizeConnector(key, p);
  }
}

export function createConnectors(config: Config): Record<string, Connector> {
  return Object.fromEntries(Object.entries(config.platforms).map(([k, p]) => [k, createConnector(k, p)]));
}

/** Each platform's request budget: the config's override, else the connector's documented limit. */
export function rateLimitSpecs(config: Config, connectors: Record<string, Connector>): Record<string, RateLimitSpec> {
  return Object.fromEntries(
    Object.entries(connectors).map(([k, c]) => [k, config.platforms[k].rateLimit ?? c.defaultRateLimit]),
  );
}

/**
 * Fetches at once per platform kind when the config's `concurrency` is not set: Everflow 5 (half
 * its 10 concurrent reporting calls per network, shared with the network's other integrations),
 * HitPath 2 (its 2 calls per 5 minutes), CAKE 4 (no published limit; calls share the rate budget),
 * Partnerize 3. In AWS the fetch event source's maxConcurrency, locally the runner's lanes.
 */
export const DEFAULT_FETCH_CONCURRENCY: Record<PlatformConfig['kind'], number> = {
  everflow: 5,
  hitpath: 2,
  cake: 4,
  partnerize: 3,
};

export function fetchConcurrency(p: PlatformConfig): number {
  return p.concurrency ?? DEFAULT_FETCH_CONCURRENCY[p.kind];
}
