/**
 * Requests vs the minimum the documented caps allow (`npm run bench -- --only=calls`): a modest
 * network (the demo scenario at BENCH_CALLS_CLICKS clicks a day, default 6,700) through the real
 * connectors, planner and local runner against the simulators, counting every HTTP request each
 * simulator received:
 *   1. a 39-day ingest on a fresh install (the whole window the issue measured);
 *   2. the same ingest again (resume: nothing left to fetch) and with --fresh (a full re-read);
 *   3. a 30-day backfill on a fresh install, then a day of hourly scheduled runs after it.
 * The minimum is computed from the simulator's own records in the window (docs/platform-apis.md):
 * Everflow 2,000 conversions a page, 10,000 clicks and 14 days a clicks/stream call, one timezone
 * lookup, entity tables by 2,000; HitPath one call per report type for ≤ 45 days; CAKE its
 * row_limit pages (conversions and changes 2,000, clicks 5,000, exports 1,000) plus the currency
 * list. HitPath's wall time is the calls at its real limit (2 per 5 minutes: 150 s a call).
 */
import { parseConfig } from '#shared/config/load.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { LocalRunner } from '#shared/pipeline/local-runner.js';
import { ManualClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import { demoScenarioOptions, generateScenario } from '../dev/simulators/scenario/generate.js';
import type { Scenario } from '../dev/simulators/scenario/types.js';
import { simulatedConfig, startSimulatedNetwork, type SimulatedNetwork } from '../dev/simulators/network.js';
import { freshBenchDatabase, log } from './common.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

export interface CallsRow {
  run: string;
  platform: string;
  requests: number;
  minimum: number;
  rows: number;
  /** HitPath only: calls × 150 s. */
  wallAtLimitS?: number;
}

export interface CallsResult {
  clicksPerDay: number;
  rows: CallsRow[];
}

const ceil = (n: number, d: number) => Math.ceil(n / d);

function minimumFor(s: Scenario, platform: string, from: number, to: number): number {
  const kind = s.options.platforms[platform];
  const clicks = s.clicks[platform].filter((c) => c.clickedAt >= from && c.clickedAt < to).length;
  const convs = s.conversions[platform].filter((c) => c.convertedAt >= from && c.convertedAt < to).length;
  const ents = [s.affiliates[platform].length, s.offers[platform].length, s.advertisers[platform].length];
  const span = to - from;
  switch (kind) {
    case 'everflow':
      return (
        1 +
        Math.max(1, ceil(convs, 2000)) +
        Math.max(ceil(span, 14 * DAY), ceil(clicks, 9_999)) +
        ents.reduce((a, n) => a + Math.max(1, ceil(n, 2000)), 0)
      );
    case 'hitpath':
      return 2 * ceil(span, 45 * DAY);
    case 'cake':
      return (
        1 +
        Math.max(1, ceil(convs, 2000)) +
        1 +
        Math.max(1, ceil(clicks, 5000)) +
        ents.reduce((a, n) => a + Math.max(1, ceil(n, 1000)), 0)
      );
    default:
      return 0;
  }
}

/** Per scheduled run, every stream needs at least one call (entities, conversions, changes, clicks). */
function perRunMinimum(s: Scenario, platform: string): number {
  return { everflow: 5, hitpath: 2, cake: 6, partnerize: 6 }[s.options.platforms[platform]] ?? 0;
}

async function install(scenario: Scenario, clock: ManualClock, network: SimulatedNetwork) {
  const t = await freshBenchDatabase(Object.keys(scenario.options.platforms));
  const config = parseConfig(simulatedConfig(scenario, network, t.names.prefix));
  const runner = () =>
    new LocalRunner(
      localPipelineDeps({
        config,
        db: t.db,
        names: t.names,
        env: network.env,
        clock,
        logger: silentLogger,
        retry: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 60_000, maxAttempts: 4 },
      }),
      { maxReceiveCount: 3 },
    );
  return { t, runner };
}

export async function runCallsBench(clicksPerDay: number): Promise<CallsResult> {
  const scenario = generateScenario(demoScenarioOptions({ clicksPerDay }));
  const end = Date.parse(`${scenario.options.startDate}T00:00:00Z`) + scenario.options.days * DAY;
  const clock = new ManualClock(new Date(end));
  const network = await startSimulatedNetwork(scenario, { now: () => clock.now().getTime() });
  const platforms = Object.keys(scenario.options.platforms);
  const rows: CallsRow[] = [];
  const counted = () => Object.fromEntries(platforms.map((p) => [p, network.simulators[p].server.requests.length]));
  const record = (
    run: string,
    before: Record<string, number>,
    minimum: (p: string) => number,
    loaded: Record<string, number>,
  ) => {
    for (const p of platforms) {
      const reqs = network.simulators[p].server.requests.slice(before[p]);
      const row: CallsRow = { run, platform: p, requests: reqs.length, minimum: minimum(p), rows: loaded[p] ?? 0 };
      if (scenario.options.platforms[p] === 'hitpath') row.wallAtLimitS = reqs.length * 150;
      rows.push(row);
      log(`calls ${run} ${p}: ${row.requests} requests (minimum ${row.minimum}), ${row.rows} rows`);
    }
  };
  const loadedBy = (totals: { byPlatform: Record<string, { loaded: number; quarantined: number }> }) =>
    Object.fromEntries(Object.entries(totals.byPlatform).map(([p, c]) => [p, c.loaded + c.quarantined]));
  try {
    // 1 + 2: a 39-day ingest, again (resumes: nothing to fetch), and --fresh.
    {
      const from = end - 39 * DAY;
      const { t, runner } = await install(scenario, clock, network);
      for (const [run, fresh] of [
        ['39-day ingest', false],
        ['same ingest again (resume)', false],
        ['same ingest --fresh', true],
      ] as const) {
        const before = counted();
        const r = await runner().ingest({ from: new Date(from).toISOString(), to: new Date(end).toISOString(), fresh });
        record(
          run,
          before,
          (p) => (run.includes('resume') ? 0 : minimumFor(scenario, p, from, end)),
          loadedBy(r.totals),
        );
      }
      await t.drop();
    }
    // 3: a 30-day backfill a day before the end, then 24 hourly scheduled runs up to the end.
    {
      clock.set(new Date(end - DAY));
      const from = end - 31 * DAY;
      const { t, runner } = await install(scenario, clock, network);
      let before = counted();
      const r = await runner().ingest({ from: new Date(from).toISOString(), to: new Date(end - DAY).toISOString() });
      record('30-day backfill', before, (p) => minimumFor(scenario, p, from, end - DAY), loadedBy(r.totals));
      before = counted();
      const loaded: Record<string, number> = {};
      for (let h = 1; h <= 24; h++) {
        clock.set(new Date(end - DAY + h * HOUR));
        const totals = await runner().scheduleRun();
        for (const [p, n] of Object.entries(loadedBy(totals))) loaded[p] = (loaded[p] ?? 0) + n;
      }
      record('a day of hourly scheduled runs', before, (p) => 24 * perRunMinimum(scenario, p), loaded);
      await t.drop();
    }
  } finally {
    clock.set(new Date(end));
    await network.stop();
  }
  return { clicksPerDay, rows };
}
