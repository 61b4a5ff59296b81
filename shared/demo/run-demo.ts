import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createMysqlDb } from '../db/mysql.js';
import { migrate } from '../db/migrate.js';
import { dbNames, type DbNames } from '../db/names.js';
import type { Db } from '../db/port.js';
import { runEvaluation } from '../alerts/run.js';
import type { AlertMessage } from '../alerts/notify/message.js';
import { LocalRunner } from '../pipeline/local-runner.js';
import { localPipelineDeps } from '../pipeline/local-deps.js';
import { generateScenario, demoScenarioOptions, smallScenarioOptions } from '../simulators/scenario/generate.js';
import type { Scenario } from '../simulators/scenario/types.js';
import { simulatedConfig, startSimulatedNetwork } from '../simulators/network.js';
import { ManualClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import { toSqlDateTime, DAY_MS } from '../util/time.js';
import { ProgressBar, fmt } from '../cli/progress.js';
import { fromMicros, sumMoney } from '../rules/money.js';

/**
 * `npm run demo`: the whole system on local MySQL/MariaDB with simulated platforms. A network moves
 * from HitPath (and CAKE) to Everflow over ~60 days; the demo starts the platform simulators,
 * creates a fresh set of databases under its own prefix, runs the migrations, loads the entity
 * crosswalk, and then lives through the scenario one day at a time: each simulated day it runs
 * the scheduled fetch for every platform through the real pipeline (local queue), and evaluates the
 * rules as the evaluate schedule would, printing rows loaded, alerts as they open and resolve,
 * money at risk, and a weekly migration progress table. The databases stay for querying.
 */

export interface DemoOptions {
  databaseUrl: string;
  prefix: string;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** `small`: the 40-day test network (the test runs a shortened demo); default the ~60-day demo network. */
  size?: 'demo' | 'small';
  clicksPerDay?: number;
  /** Print the weekly progress table (needs the migration report module). */
  progressTable?: (db: Db, names: DbNames, config: Config, at: Date) => Promise<string>;
}

export interface DemoResult {
  exitCode: number;
  rowsLoaded: number;
  alertsOpened: number;
  alertsResolved: number;
  openAtEnd: Record<string, number>;
  moneyAtRisk: string;
  seconds: number;
}

const DEMO_HASH_KEY = 'dualtrack-demo-hash-key';

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const { out } = options;
  const db = createMysqlDb(options.databaseUrl, { connectionLimit: 6 });
  try {
    await db.query('SELECT 1');
  } catch (e) {
    const code = (e as { code?: string; cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code ?? 'error';
    options.err.write(
      `dualtrack demo: no database at ${redactUrl(options.databaseUrl)} (${code}). Start MySQL 8 or MariaDB (e.g. \`sudo apt-get install mariadb-server\`) or set DATABASE_URL=mysql://user:pass@host:3306\n`,
    );
    await db.close().catch(() => undefined);
    return { exitCode: 1, rowsLoaded: 0, alertsOpened: 0, alertsResolved: 0, openAtEnd: {}, moneyAtRisk: '0.00', seconds: 0 };
  }
  const overrides = options.clicksPerDay ? { clicksPerDay: options.clicksPerDay } : {};
  const scenario = generateScenario(options.size === 'small' ? smallScenarioOptions(overrides) : demoScenarioOptions(overrides));
  const start = Date.parse(`${scenario.options.startDate}T00:00:00Z`);
  const clock = new ManualClock(new Date(start + DAY_MS));
  const network = await startSimulatedNetwork(scenario, { now: () => clock.now().getTime(), hashKey: DEMO_HASH_KEY, requestsPerSecond: 2000 });
  try {
    const names = dbNames(options.prefix);
    const platforms = Object.keys(scenario.options.platforms);
    // Daily schedule with a 48 h lookback: each day re-reads the two before it, catching status changes.
    const raw = simulatedConfig(scenario, network, options.prefix);
    const config = parseConfig({
      ...raw,
      platforms: Object.fromEntries(Object.entries(network.platforms).map(([k, p]) => [k, { ...p, scheduleMinutes: 1440, lookbackHours: 48 }])),
    });
    out.write(header(scenario, names, platforms));
    await dropPrefix(db, names, platforms);
    const m = await migrate(db, names, platforms);
    out.write(`databases: ${m.created.join(', ')} (${m.applied.length} migrations, ${m.views} reporting views)\n`);
    const mapped = await loadCrosswalk(db, names, scenario);
    out.write(`crosswalk: ${mapped} entity mappings loaded (affiliates, offers, advertisers across ${platforms.length} platforms)\n\n`);

    const deps = localPipelineDeps({ config, db, names, env: network.env, clock, logger: silentLogger, retry: { baseDelayMs: 5, maxDelayMs: 50 } });
    const runner = new LocalRunner(deps, { fetchConcurrency: 2, normalizeConcurrency: 3, batchSize: 5 });
    const bar = new ProgressBar(options.err, 'demo');
    let rowsLoaded = 0;
    let opened = 0;
    let resolved = 0;
    const days = scenario.options.days;
    for (let d = 1; d <= days; d++) {
      const at = new Date(start + d * DAY_MS);
      clock.set(at);
      const totals = await runner.scheduleRun();
      rowsLoaded += totals.loaded;
      const messages: AlertMessage[] = [];
      const result = await runEvaluation({ db, names, config, at, notifier: { notify: async (ms) => void messages.push(...ms) } });
      bar.done();
      const day = toSqlDateTime(at.getTime() - 1).slice(0, 10);
      const perPlatform = Object.entries(totals.byPlatform).map(([p, c]) => `${p} ${fmt(c.loaded)}`).join(' · ');
      out.write(`${day}  +${fmt(totals.loaded).padStart(7)} rows (${perPlatform})  ${result.firing.length} alerts firing\n`);
      for (const n of messages.flatMap((mm) => mm.notifications)) {
        if (n.kind === 'opened' || n.kind === 'reopened') opened++;
        if (n.kind === 'resolved') resolved++;
        // Daily reminders of alerts still firing (repeatHours) would drown the changes; the count is on the day line.
        if (n.kind === 'repeated') continue;
        const risk = n.alert.money_at_risk ? `  money at risk ${n.alert.money_at_risk} ${config.baseCurrency}` : '';
        out.write(`            ${n.kind.toUpperCase().padEnd(9)} [${n.alert.severity}] ${n.alert.rule}: ${n.alert.summary}${risk}\n`);
      }
      if (options.progressTable && (d % 7 === 0 || d === days)) out.write(`\n${await options.progressTable(db, names, config, at)}\n`);
      bar.update(d, days, `days · ${fmt(rowsLoaded)} rows`);
    }
    bar.done();
    const open = await db.query<{ rule: string; n: number; risk: string | null }>(
      `SELECT rule, COUNT(*) AS n, SUM(money_at_risk) AS risk FROM ${names.core}.alerts WHERE state = 'open' GROUP BY rule ORDER BY rule`,
    );
    const moneyAtRisk = fromMicros(sumMoney(open.map((r) => r.risk)));
    const seconds = (Date.now() - started) / 1000;
    out.write(`\nopen alerts at the end:\n${open.map((r) => `  ${r.rule.padEnd(30)} ${String(r.n).padStart(3)}${r.risk ? `   money at risk ${fromMicros(sumMoney([r.risk]))}` : ''}`).join('\n')}\n`);
    out.write(`\n${fmt(rowsLoaded)} rows loaded over ${days} simulated days in ${seconds.toFixed(0)} s; ${opened} alerts opened, ${resolved} resolved; money at risk ${moneyAtRisk} ${config.baseCurrency}.\n`);
    out.write(`\nThe databases stay in place. Try:\n  mariadb -h127.0.0.1 -uroot -e "SELECT platform, DATE(converted_at) AS day, COUNT(*) AS conversions, SUM(revenue) AS revenue FROM ${names.reporting}.conversions GROUP BY platform, day ORDER BY day DESC, platform LIMIT 12"\n`);
    return { exitCode: 0, rowsLoaded, alertsOpened: opened, alertsResolved: resolved, openAtEnd: Object.fromEntries(open.map((r) => [r.rule, Number(r.n)])), moneyAtRisk, seconds };
  } finally {
    await network.stop();
    await db.close();
  }
}

function header(s: Scenario, names: DbNames, platforms: string[]): string {
  return `dualtrack demo — a network moving from ${s.options.legacy.join(' and ')} to ${s.options.target}
${s.options.days} simulated days from ${s.options.startDate} (migration starts ${s.options.migrationStart}, cutover ${s.options.cutoverDate}),
${s.options.affiliates} affiliates, ${s.options.offers} offers, ~${fmt(s.options.clicksPerDay)} clicks a day; simulators for ${platforms.join(', ')} on 127.0.0.1.
databases: ${names.prefix}_* (dropped and recreated)

`;
}

async function dropPrefix(db: Db, names: DbNames, platforms: string[]): Promise<void> {
  for (const d of [names.core, names.reporting, ...platforms.map((p) => names.platform(p))]) await db.execute(`DROP DATABASE IF EXISTS ${d}`);
}

/** The scenario's crosswalk, as an operator would import it with `dualtrack mappings import`. */
async function loadCrosswalk(db: Db, names: DbNames, s: Scenario): Promise<number> {
  const rows = s.crosswalk;
  for (let i = 0; i < rows.length; i += 200) {
    const params: Record<string, string> = { now: toSqlDateTime(new Date(0)) };
    const tuples = rows.slice(i, i + 200).map((r, j) => {
      Object.assign(params, { [`e${j}`]: r.entity, [`p${j}`]: r.platform, [`i${j}`]: r.platform_id, [`k${j}`]: r.canonical_key });
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
