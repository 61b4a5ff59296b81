import { parseConfig } from '#shared/config/load.js';
import type { Config } from '#shared/config/schema.js';
import { createMysqlDb } from '#shared/db/mysql.js';
import { dropInstall, migrate } from '#shared/db/migrate.js';
import { dbNames, type DbNames } from '#shared/db/names.js';
import type { Db } from '#shared/db/port.js';
import { runEvaluation } from '#shared/alerts/run.js';
import type { AlertMessage } from '#shared/alerts/notify/message.js';
import { createLocalNotifier } from '#shared/alerts/notify/local.js';
import { listAlerts } from '#shared/alerts/store.js';
import { buildDailyDigest } from '#shared/migration/digest.js';
import { dashboardData, renderDashboard } from '#shared/migration/dashboard.js';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LocalRunner } from '#shared/pipeline/local-runner.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { generateScenario, demoScenarioOptions, smallScenarioOptions } from '../../dev/simulators/scenario/generate.js';
import type { Scenario } from '../../dev/simulators/scenario/types.js';
import { simulatedConfig, startSimulatedNetwork } from '../../dev/simulators/network.js';
import { ManualClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import { toSqlDateTime, DAY_MS } from '#shared/util/time.js';
import { ProgressBar, fmt } from '../progress.js';
import { fromMicros, sumMoney } from '#shared/rules/money.js';
import { migrationReport } from '#shared/migration/reports.js';
import { toTable } from '../output.js';

/**
 * `npm run demo`: the whole system on local MySQL/MariaDB with simulated platforms. A network moves
 * from HitPath (and CAKE) to Everflow over ~60 days; the demo starts the platform simulators,
 * creates a fresh set of databases under its own prefix, runs the migrations, loads the entity
 * crosswalk, and then lives through the scenario a week at a time: it runs the scheduled fetch for
 * every platform through the real pipeline (local queue, 72 h lookback), then evaluates the rules
 * for each day of that week as the evaluate schedule would, printing rows loaded per platform,
 * alerts as they open and resolve with money at risk, and the migration progress per wave. The
 * databases stay for querying.
 */

export interface DemoOptions {
  databaseUrl: string;
  prefix: string;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** `small`: the 40-day test network (the test runs a shortened demo); default the ~60-day demo network. */
  size?: 'demo' | 'small';
  clicksPerDay?: number;
  /** Where the Slack webhook variable is read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where the closing dashboard is written (default: dualtrack-demo-dashboard.html in the current folder). */
  dashboardOut?: string;
}

export interface DemoResult {
  exitCode: number;
  rowsLoaded: number;
  alertsOpened: number;
  alertsResolved: number;
  openAtEnd: Record<string, number>;
  moneyAtRisk: string;
  seconds: number;
  /** The dashboard the demo ends by writing (absent when the demo stopped early). */
  dashboardFile?: string;
}

const DEMO_HASH_KEY = 'dualtrack-demo-hash-key';
const DEMO_CLICKS_PER_DAY = 6_000;
/** Hours (UTC) at which the demo evaluates each day; the deployed schedule is hourly. */
const EVALUATION_HOURS = [18];

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const { out } = options;
  const db = createMysqlDb(options.databaseUrl, { connectionLimit: 6 });
  try {
    await db.query('SELECT 1');
  } catch (e) {
    const code =
      (e as { code?: string; cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code ?? 'error';
    options.err.write(
      `dualtrack demo: no database at ${redactUrl(options.databaseUrl)} (${code}). Start MySQL 8 or MariaDB (e.g. \`sudo apt-get install mariadb-server\`) or set DATABASE_URL=mysql://user:pass@host:3306\n`,
    );
    await db.close().catch(() => undefined);
    return {
      exitCode: 1,
      rowsLoaded: 0,
      alertsOpened: 0,
      alertsResolved: 0,
      openAtEnd: {},
      moneyAtRisk: '0.00',
      seconds: 0,
    };
  }
  // ~60 days at DEMO_CLICKS_PER_DAY keeps the demo under 2 minutes on a 2-core machine; every
  // incident of the scenario is still there (the generator refuses sizes too small for them).
  const scenario = generateScenario(
    options.size === 'small'
      ? smallScenarioOptions(options.clicksPerDay ? { clicksPerDay: options.clicksPerDay } : {})
      : demoScenarioOptions({ clicksPerDay: options.clicksPerDay ?? DEMO_CLICKS_PER_DAY }),
  );
  const start = Date.parse(`${scenario.options.startDate}T00:00:00Z`);
  const clock = new ManualClock(new Date(start + DAY_MS));
  const network = await startSimulatedNetwork(scenario, {
    now: () => clock.now().getTime(),
    hashKey: DEMO_HASH_KEY,
    requestsPerSecond: 2000,
  });
  try {
    const names = dbNames(options.prefix);
    const platforms = Object.keys(scenario.options.platforms);
    // Slices sized by the planner, as in a deployment (docs/design.md §3).
    const config = parseConfig(simulatedConfig(scenario, network, options.prefix));
    out.write(header(scenario, names, platforms));
    await dropInstall(db, names, platforms);
    const m = await migrate(db, names, platforms);
    out.write(`databases: ${m.created.join(', ')} (${m.applied.length} migrations, ${m.views} reporting views)\n`);
    const mapped = await loadCrosswalk(db, names, scenario);
    out.write(
      `crosswalk: ${mapped} entity mappings loaded (affiliates, offers, advertisers across ${platforms.length} platforms)\n\n`,
    );

    const deps = localPipelineDeps({
      config,
      db,
      names,
      env: network.env,
      clock,
      logger: silentLogger,
      retry: { baseDelayMs: 5, maxDelayMs: 50 },
    });
    const runner = new LocalRunner(deps, { fetchConcurrency: 2, normalizeConcurrency: 3, batchSize: 5 });
    const bar = new ProgressBar(options.err, 'demo');
    let rowsLoaded = 0;
    let opened = 0;
    let resolved = 0;
    let evaluations = 0;
    let evaluationMs = 0;
    const days = scenario.options.days;
    const migrationStart = Date.parse(`${config.migration.startDate}T00:00:00Z`);
    // Fetch a week at a time through the scheduled path (watermark − 72 h lookback → now), then
    // evaluate each day of that week at its own `at`, as the evaluate schedule would have: rules
    // see only events before `at`, and a fetch made after `at` counts as fresh (stale-source).
    for (let w = 0; w * 7 < days; w++) {
      const weekEnd = Math.min(days, (w + 1) * 7);
      clock.set(new Date(start + weekEnd * DAY_MS));
      const progress = (p: { totals: { done: number; failed: number; slices: number } }) =>
        bar.update(p.totals.done + p.totals.failed, p.totals.slices, `slices · week ${w + 1}`);
      // Week 1 is the backfill an operator runs at install; from then on the schedule picks up where it ended.
      const totals =
        w === 0
          ? (await runner.ingest({ from: new Date(start).toISOString(), to: clock.now().toISOString() }, progress))
              .totals
          : await runner.scheduleRun(undefined, progress);
      bar.done();
      rowsLoaded += totals.loaded;
      const perPlatform = Object.entries(totals.byPlatform)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([p, c]) => `${p} ${fmt(c.loaded)}`)
        .join(' · ');
      out.write(
        `\nweek ${w + 1}: fetched ${fmt(totals.loaded)} rows (${perPlatform}) in ${fmt(totals.slices)} slices${totals.quarantined ? `, ${fmt(totals.quarantined)} quarantined` : ''}\n`,
      );
      for (let d = w * 7 + 1; d <= weekEnd; d++) {
        // Once a day at 18:00 UTC (the deployed schedule is hourly): late enough in the day to
        // catch a postback outage of half a day while it lasts, once a day keeps the demo short.
        const changes: { at: Date; n: AlertMessage['notifications'][number] }[] = [];
        let firing = 0;
        // The last day also closes with an evaluation at its end, so what resolved that evening shows.
        for (const hour of d === days ? [...EVALUATION_HOURS, 24] : EVALUATION_HOURS) {
          const at = new Date(start + (d - 1) * DAY_MS + hour * 3_600_000);
          const messages: AlertMessage[] = [];
          const t0 = Date.now();
          const result = await runEvaluation({
            db,
            names,
            config,
            at,
            notifier: { notify: async (ms) => void messages.push(...ms) },
          });
          evaluationMs += Date.now() - t0;
          evaluations++;
          firing = result.firing.length;
          for (const n of messages.flatMap((mm) => mm.notifications))
            if (n.kind !== 'repeated') changes.push({ at, n });
        }
        out.write(
          `${toSqlDateTime(start + d * DAY_MS - 1).slice(0, 10)}  ${String(firing).padStart(2)} alerts firing\n`,
        );
        for (const { at, n } of changes) {
          if (n.kind === 'opened' || n.kind === 'reopened') opened++;
          if (n.kind === 'resolved') resolved++;
          const risk = n.alert.money_at_risk ? `  money at risk ${n.alert.money_at_risk} ${config.baseCurrency}` : '';
          out.write(
            `     ${at.toISOString().slice(11, 16)}  ${n.kind.toUpperCase().padEnd(9)} [${n.alert.severity}] ${n.alert.rule}: ${n.alert.summary}${risk}\n`,
          );
        }
      }
      if (start + weekEnd * DAY_MS > migrationStart)
        out.write(`\n${await progressTable(db, names, config, new Date(start + weekEnd * DAY_MS))}`);
    }
    bar.done();
    const open = await db.query<{ rule: string; n: number; risk: string | null }>(
      `SELECT rule, COUNT(*) AS n, SUM(money_at_risk) AS risk FROM ${names.core}.alerts WHERE state = 'open' GROUP BY rule ORDER BY rule`,
    );
    const moneyAtRisk = fromMicros(sumMoney(open.map((r) => r.risk)));
    // The daily digest of the last day, through the same notifier as the CLI's alerts (printed;
    // posted to Slack too when the webhook variable is set).
    const end = new Date(start + days * DAY_MS);
    out.write('\nthe daily digest, as email and Slack receive it:\n');
    const openAlerts = await listAlerts(db, names, 'open');
    await createLocalNotifier({ out, config, env: options.env ?? process.env, logger: silentLogger }).digest(
      await buildDailyDigest(db, names, config, end, openAlerts),
    );
    const dashboardFile = resolve(options.dashboardOut ?? 'dualtrack-demo-dashboard.html');
    writeFileSync(dashboardFile, renderDashboard(await dashboardData(db, names, config, end, openAlerts)));
    const seconds = (Date.now() - started) / 1000;
    out.write(
      `\nopen alerts at the end:\n${open.map((r) => `  ${r.rule.padEnd(30)} ${String(r.n).padStart(3)}${r.risk ? `   money at risk ${fromMicros(sumMoney([r.risk]))}` : ''}`).join('\n')}\n`,
    );
    out.write(
      `\n${fmt(rowsLoaded)} rows loaded over ${days} simulated days in ${seconds.toFixed(0)} s (${evaluations} rule evaluations, ${Math.round(evaluationMs / Math.max(1, evaluations))} ms each); ${opened} alerts opened, ${resolved} resolved; money at risk ${moneyAtRisk} ${config.baseCurrency}.\n`,
    );
    out.write(
      `\nThe migration dashboard: ${dashboardFile} (open it in a browser; \`dualtrack dashboard --serve\` serves it live).\n\nThe databases stay in place. Try:\n  mariadb -h127.0.0.1 -uroot -e "SELECT platform, DATE(converted_at) AS day, COUNT(*) AS conversions, SUM(revenue) AS revenue FROM ${names.reporting}.conversions GROUP BY platform, day ORDER BY day DESC, platform LIMIT 12"\n`,
    );
    return {
      exitCode: 0,
      rowsLoaded,
      alertsOpened: opened,
      alertsResolved: resolved,
      openAtEnd: Object.fromEntries(open.map((r) => [r.rule, Number(r.n)])),
      moneyAtRisk,
      seconds,
      dashboardFile,
    };
  } finally {
    await network.stop();
    await db.close();
  }
}

/** Migration progress per wave at `at` (what `dualtrack report migration` shows per affiliate). */
async function progressTable(db: Db, names: DbNames, config: Config, at: Date): Promise<string> {
  const report = await migrationReport(db, names, config, at, at);
  const byWave = new Map<string, Record<string, number | string>>();
  for (const r of report.rows) {
    const wave = r.tier === null ? 'no tier' : `wave ${r.tier} (due ${r.due_date})`;
    const row = byWave.get(wave) ?? {
      wave,
      affiliates: 0,
      'legacy-only': 0,
      dual: 0,
      migrated: 0,
      retired: 0,
      overdue: 0,
    };
    row.affiliates = Number(row.affiliates) + 1;
    row[r.state] = Number(row[r.state]) + 1;
    if (r.overdue) row.overdue = Number(row.overdue) + 1;
    byWave.set(wave, row);
  }
  const rows = [...byWave.values()].sort((a, b) => String(a.wave).localeCompare(String(b.wave)));
  return `migration progress at ${at.toISOString().slice(0, 10)}:\n${toTable(rows)}`;
}

function header(s: Scenario, names: DbNames, platforms: string[]): string {
  return `dualtrack demo — a network moving from ${s.options.legacy.join(' and ')} to ${s.options.target}
${s.options.days} simulated days from ${s.options.startDate} (migration starts ${s.options.migrationStart}, cutover ${s.options.cutoverDate}),
${s.options.affiliates} affiliates, ${s.options.offers} offers, ~${fmt(s.options.clicksPerDay)} clicks a day; simulators for ${platforms.join(', ')} on 127.0.0.1.
databases: ${names.prefix}_* (dropped and recreated)

`;
}

/** The scenario's crosswalk, as an operator would import it with `dualtrack mappings import`. */
async function loadCrosswalk(db: Db, names: DbNames, s: Scenario): Promise<number> {
  const rows = s.crosswalk;
  for (let i = 0; i < rows.length; i += 200) {
    const params: Record<string, string> = { now: toSqlDateTime(new Date(0)) };
    const tuples = rows.slice(i, i + 200).map((r, j) => {
      Object.assign(params, {
        [`e${j}`]: r.entity,
        [`p${j}`]: r.platform,
        [`i${j}`]: r.platform_id,
        [`k${j}`]: r.canonical_key,
      });
      return `(:e${j}, :p${j}, :i${j}, :k${j}, 'imported', 1, :now)`;
    });
    await db.execute(
      `INSERT INTO ${names.core}.entity_map (entity_type, platform, platform_id, canonical_key, source, confidence, updated_at) VALUES ${tuples.join(', ')}
       ON DUPLICATE KEY UPDATE canonical_key = VALUES(canonical_key)`,
      params,
    );
  }
  return rows.length;
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'DATABASE_URL';
  }
}
