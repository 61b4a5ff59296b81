import { randomBytes } from 'node:crypto';
import type { PlatformKind } from '#shared/model/canonical.js';
import type { Scenario } from './scenario/types.js';
import type { PlatformSimulator } from './server.js';
import { createEverflowSimulator } from './everflow.js';
import { createHitpathSimulator } from './hitpath.js';
import { createCakeSimulator } from './cake.js';
import { createPartnerizeSimulator } from './partnerize.js';

/**
 * A whole simulated network: one simulator per platform of a scenario, with fresh random
 * credentials, and the config entries and environment that point dualtrack at them. Used by the
 * demo, the pipeline tests and the benchmarks. The instance time zones are the simulated
 * networks' own settings (passed to dualtrack through config, as a real deployment would).
 */

export const SIMULATED_ZONES: Partial<Record<PlatformKind, string>> = {
  hitpath: 'America/New_York',
  cake: 'America/Chicago',
  partnerize: 'Europe/London',
};

export interface SimulatedNetwork {
  simulators: Record<string, PlatformSimulator>;
  /** `platforms` section of a config (rate limits lifted: simulators are not the real APIs). */
  platforms: Record<string, Record<string, unknown>>;
  /** Environment variables holding the credentials (and the HMAC key). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startSimulatedNetwork(
  scenario: Scenario,
  options: { now: () => number; requestsPerSecond?: number; hashKey?: string },
): Promise<SimulatedNetwork> {
  const simulators: Record<string, PlatformSimulator> = {};
  const platforms: SimulatedNetwork['platforms'] = {};
  const env: Record<string, string> = { DUALTRACK_HASH_KEY: options.hashKey ?? randomBytes(16).toString('hex') };
  const rateLimit = { requests: options.requestsPerSecond ?? 500, perSeconds: 1 };
  try {
    for (const [key, kind] of Object.entries(scenario.options.platforms)) {
      const envName = `${key.toUpperCase()}_API_KEY`;
      const secret = randomBytes(12).toString('hex');
      const zone = SIMULATED_ZONES[kind] ?? 'UTC';
      let sim: PlatformSimulator;
      switch (kind) {
        case 'everflow':
          sim = createEverflowSimulator(scenario, { platform: key, secret, now: options.now });
          env[envName] = secret;
          platforms[key] = { kind, baseUrl: '', apiKeyEnv: envName, rateLimit };
          break;
        case 'hitpath':
          sim = createHitpathSimulator(scenario, { platform: key, secret, now: options.now, timezone: zone });
          env[envName] = secret;
          platforms[key] = { kind, baseUrl: '', apiKeyEnv: envName, timezone: zone, rateLimit };
          break;
        case 'cake':
          sim = createCakeSimulator(scenario, { platform: key, secret, now: options.now, timezone: zone });
          env[envName] = secret;
          platforms[key] = { kind, baseUrl: '', apiKeyEnv: envName, timezone: zone, rateLimit };
          break;
        case 'partnerize': {
          const appEnv = `${key.toUpperCase()}_APP_KEY`;
          const app = randomBytes(8).toString('hex');
          sim = createPartnerizeSimulator(scenario, {
            platform: key,
            secret: `${app}:${secret}`,
            now: options.now,
            timezone: zone,
          });
          env[envName] = secret;
          env[appEnv] = app;
          platforms[key] = {
            kind,
            baseUrl: '',
            apiKeyEnv: envName,
            applicationKeyEnv: appEnv,
            networkId: '1l1007',
            timezone: zone,
            rateLimit,
          };
          break;
        }
      }
      const baseUrl = await sim.start();
      simulators[key] = sim;
      platforms[key].baseUrl = kind === 'hitpath' ? `${baseUrl}/api.php` : baseUrl;
    }
  } catch (e) {
    await Promise.all(Object.values(simulators).map((s) => s.stop()));
    throw e;
  }
  return {
    simulators,
    platforms,
    env,
    stop: async () => {
      await Promise.all(Object.values(simulators).map((s) => s.stop()));
    },
  };
}

/** A full config object for a scenario's network (validate it with parseConfig). */
export function simulatedConfig(
  scenario: Scenario,
  network: SimulatedNetwork,
  prefix: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    databases: { prefix },
    migration: {
      legacy: scenario.options.legacy,
      target: scenario.options.target,
      startDate: scenario.options.migrationStart,
      cutoverDate: scenario.options.cutoverDate,
    },
    platforms: network.platforms,
    ...extra,
  };
}
