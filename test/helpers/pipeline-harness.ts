import { parseConfig } from '#shared/config/load.js';
import type { Config } from '#shared/config/schema.js';
import { generateScenario, smallScenarioOptions } from '../../dev/simulators/scenario/generate.js';
import type { Scenario } from '../../dev/simulators/scenario/types.js';
import { simulatedConfig, startSimulatedNetwork, type SimulatedNetwork } from '../../dev/simulators/network.js';
import { LocalRunner, type LocalRunnerOptions } from '#shared/pipeline/local-runner.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { ManualClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import { freshDatabase, type TestDatabase } from './db.js';

let cached: Scenario | null = null;
/** The small test scenario, generated once per worker. */
export function smallScenario(): Scenario {
  return (cached ??= generateScenario(smallScenarioOptions()));
}

// Short backoffs; a generous per-call timeout so a loaded CI machine does not time out healthy calls.
export const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 15_000, maxAttempts: 4 };

export interface Harness {
  scenario: Scenario;
  network: SimulatedNetwork;
  clock: ManualClock;
  config: Config;
  t: TestDatabase;
  runner(
    options?: LocalRunnerOptions & {
      maxMessageBytes?: number;
      maxRecordsPerMessage?: number;
      retry?: Partial<typeof FAST_RETRY>;
    },
  ): LocalRunner;
  close(): Promise<void>;
}

/** Simulators for the scenario's platforms + a fresh database + a config pointing at both; the clock stands at the scenario's end. */
export async function startHarness(scenario = smallScenario(), platforms?: string[]): Promise<Harness> {
  const end = Date.parse(`${scenario.options.startDate}T00:00:00Z`) + scenario.options.days * 86_400_000;
  const clock = new ManualClock(new Date(end));
  // A fixed HMAC key, so two installs hash user agents alike and their tables compare equal.
  const network = await startSimulatedNetwork(scenario, { now: () => clock.now().getTime(), hashKey: 'test-hash-key' });
  const keys = platforms ?? Object.keys(scenario.options.platforms);
  const t = await freshDatabase(Object.keys(scenario.options.platforms));
  const raw = simulatedConfig(scenario, network, t.names.prefix);
  // Every platform is configured (the databases exist for all); `platforms` only limits which connectors the runner drives.
  const config = parseConfig(raw);
  return {
    scenario,
    network,
    clock,
    config,
    t,
    runner(options = {}) {
      const { maxMessageBytes, maxRecordsPerMessage, retry, ...queueOptions } = options;
      const deps = localPipelineDeps({
        config,
        db: t.db,
        names: t.names,
        env: network.env,
        clock,
        logger: silentLogger,
        retry: { ...FAST_RETRY, ...retry },
      });
      const all = deps.connectors;
      deps.connectors = Object.fromEntries(Object.entries(all).filter(([k]) => keys.includes(k)));
      return new LocalRunner(
        { ...deps, maxMessageBytes, maxRecordsPerMessage },
        { maxReceiveCount: 3, ...queueOptions },
      );
    },
    async close() {
      await network.stop();
      await t.drop();
    },
  };
}

/** The scenario's records of a platform in [from, to) by event time. */
export function truthCounts(
  s: Scenario,
  platform: string,
  from: number,
  to: number,
): { clicks: number; conversions: number } {
  return {
    clicks: s.clicks[platform].filter((c) => c.clickedAt >= from && c.clickedAt < to).length,
    conversions: s.conversions[platform].filter((c) => c.convertedAt >= from && c.convertedAt < to).length,
  };
}

/** A seeded Fisher–Yates shuffle (deterministic test runs). */
export function seededShuffle(seed: number) {
  let x = seed >>> 0 || 1;
  const rnd = () => (x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  return <T>(items: T[]): T[] => {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };
}
