import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/pipeline-harness.js';
import { DATABASE_URL, tableDigest } from '../helpers/db.js';
import { loadScenarioWindow } from './load-scenario.js';
import { main } from '../../cli/main.js';
import { crosswalkCsv } from '../../dev/simulators/scenario/generate.js';
import { LocalRunner } from '#shared/pipeline/local-runner.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { silentLogger } from '#shared/util/logger.js';
import { migrationReport, reconcileReport, stateOn, transitionsByDay } from '#shared/migration/reports.js';
import type { MigrationState } from '#shared/migration/state.js';
import { acceptSuggestions, suggestMappings } from '#shared/migration/matching.js';
import { buildDailyDigest, SPARK } from '#shared/migration/digest.js';
import { digestPublishInput } from '#shared/alerts/notify/sns.js';
import { listAlerts } from '#shared/alerts/store.js';

/**
 * Migration reports on the simulated network (small scenario): entity lists and one day of clicks
 * and conversions go through LocalRunner.ingest (simulators → connectors → queue → loader); the
 * other 35 days through the same loader directly (see load-scenario.ts). The CLI is driven through
 * `main()` with a real config file and DATABASE_URL.
 */

const DAY = 86_400_000;
let h: Harness;
let dir: string;
let startMs: number;
let endMs: number;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(['--config', join(dir, 'config.json'), ...argv], {
    stdout,
    stderr,
    env: { ...h.network.env, DATABASE_URL },
  });
  return { code, out, err };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const addDays = (d: string, n: number) => day(Date.parse(`${d}T00:00:00Z`) + n * DAY);

beforeAll(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), 'dt-migration-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(h.config));
  startMs = Date.parse(`${h.scenario.options.startDate}T00:00:00Z`);
  endMs = startMs + h.scenario.options.days * DAY;
  // The pipeline end to end for the entity lists and one day in the migration (every platform has
  // traffic then); a patient timeout, because a loaded CI machine answers slowly.
  const pipelineDay = Date.parse(`${h.scenario.options.migrationStart}T00:00:00Z`) + 6 * DAY;
  const deps = localPipelineDeps({
    config: h.config,
    db: h.t.db,
    names: h.t.names,
    env: h.network.env,
    clock: h.clock,
    logger: silentLogger,
    retry: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 30_000, maxAttempts: 4 },
  });
  const runner = new LocalRunner(deps, { maxReceiveCount: 3 });
  const entities = await runner.ingest({
    from: new Date(startMs).toISOString(),
    to: new Date(endMs).toISOString(),
    streams: ['affiliates', 'offers', 'advertisers'],
  });
  expect(entities.totals.failed).toBe(0);
  const oneDay = await runner.ingest({
    from: new Date(pipelineDay).toISOString(),
    to: new Date(pipelineDay + DAY).toISOString(),
    streams: ['clicks', 'conversions'],
  });
  expect(oneDay.totals.failed).toBe(0);
  expect(oneDay.totals.loaded).toBeGreaterThan(1000);
  await loadScenarioWindow(h, startMs, pipelineDay);
  await loadScenarioWindow(h, pipelineDay + DAY, endMs);
}, 600_000);

afterAll(async () => {
  await h?.close();
});

describe('mappings import', () => {
  it('loads the crosswalk, and a second import of the same file changes nothing', async () => {
    const csv = file('crosswalk.csv', crosswalkCsv(h.scenario));
    const first = await cli('mappings', 'import', csv);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toContain(
      `${h.scenario.crosswalk.length} rows: ${h.scenario.crosswalk.length} added, 0 changed, 0 unchanged`,
    );
    const rows = await h.t.db.query<{ n: number; sources: string }>(
      `SELECT COUNT(*) AS n, GROUP_CONCAT(DISTINCT source) AS sources FROM ${h.t.names.core}.entity_map`,
    );
    expect(rows[0]).toEqual({ n: h.scenario.crosswalk.length, sources: 'imported' });
    const before = await tableDigest(h.t.db, [`${h.t.names.core}.entity_map`]);
    const again = await cli('mappings', 'import', csv);
    expect(again.code).toBe(0);
    expect(again.out).toContain(`0 added, 0 changed, ${h.scenario.crosswalk.length} unchanged`);
    expect(await tableDigest(h.t.db, [`${h.t.names.core}.entity_map`])).toBe(before);
  });

  const header = 'entity,platform,platform_id,canonical_key';
  const good = ['affiliate,everflow,900001,aff-new-1', 'offer,hitpath,900002,off-new-2'];
  const bad: [string, string, number, RegExp][] = [
    ['unknown platform', [header, ...good, 'affiliate,impact,1,aff-x'].join('\n'), 4, /unknown platform "impact"/],
    [
      'unknown entity type',
      [header, good[0], 'partner,everflow,5,aff-x', good[1]].join('\n'),
      3,
      /unknown entity "partner"/,
    ],
    [
      'duplicate within the file',
      [header, ...good, 'affiliate,everflow,900001,aff-other'].join('\n'),
      4,
      /duplicate affiliate everflow "900001" \(first on line 2\)/,
    ],
    [
      'missing column',
      ['entity,platform,platform_id', 'affiliate,everflow,1'].join('\n'),
      1,
      /missing column canonical_key/,
    ],
    ['empty field', [header, ...good, 'affiliate,everflow,,aff-x'].join('\n'), 4, /empty platform_id/],
    ['row with too few fields', [header, good[0], 'affiliate,everflow,77', good[1]].join('\n'), 3, /expected 4 fields/],
    ['broken quoting', [header, ...good, 'affiliate,everflow,"77,aff-x'].join('\n'), 4, /not valid CSV/],
    [
      'second id for one key on a platform',
      [header, 'affiliate,everflow,900001,aff-001'].join('\n'),
      2,
      /"aff-001" already maps to everflow id/,
    ],
  ];
  it.each(bad)('rejects a file with %s, naming the line, and loads nothing', async (_name, text, line, message) => {
    const before = await tableDigest(h.t.db, [`${h.t.names.core}.entity_map`]);
    const r = await cli('mappings', 'import', file('bad.csv', text));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`line ${line}: .*${message.source}`));
    expect(r.err).toContain('nothing was loaded');
    expect(await tableDigest(h.t.db, [`${h.t.names.core}.entity_map`])).toBe(before);
  });
});

describe('report migration', () => {
  it('prints exactly the DESIGN §9 keys, tiers and due dates of the ground-truth waves', async () => {
    const r = await cli('report', 'migration', '--at', new Date(endMs).toISOString(), '--json');
    expect(r.err).toBe('');
    const rows = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(h.scenario.waves.length);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual([
        'affiliate',
        'canonical_key',
        'tier',
        'due_date',
        'state',
        'overdue',
        'first_target_click_at',
        'last_legacy_click_at',
        'legacy_revenue_before_start',
        'revenue_last_7d',
      ]);
      expect(row.legacy_revenue_before_start).toMatch(/^\d+\.\d{2}$/);
      for (const v of Object.values(row.revenue_last_7d as Record<string, string>)) expect(v).toMatch(/^\d+\.\d{2}$/);
    }
    const byKey = new Map(rows.map((x) => [x.canonical_key as string, x]));
    for (const w of h.scenario.waves) {
      const row = byKey.get(w.canonicalKey)!;
      expect({ key: w.canonicalKey, tier: row.tier, due: row.due_date }).toEqual({
        key: w.canonicalKey,
        tier: w.tier,
        due: w.dueDate,
      });
      expect(row.legacy_revenue_before_start).toBe(Number(w.legacyRevenueBeforeStart).toFixed(2));
      if (w.movedOn) expect((row.first_target_click_at as string).slice(0, 10)).toBe(w.movedOn);
      else expect(row.first_target_click_at).toBeNull();
    }
    // Top revenue first within the plan.
    expect(rows.map((x) => x.tier)).toEqual([...rows.map((x) => x.tier as number)].sort((a, b) => a - b));
    // At the end every wave is due: overdue = not (yet, or no longer only) on the target. The partner
    // who never moves is one; the stray partner, dual again after the cutover, the other.
    const lagging = h.scenario.incidents.find((i) => i.rule === 'migration-lagging-partner')!;
    const stray = h.scenario.incidents.find((i) => i.rule === 'legacy-traffic-after-cutover' && i.offerKey)!;
    expect(byKey.get(lagging.affiliateKey!)).toMatchObject({
      state: 'legacy-only',
      overdue: true,
      first_target_click_at: null,
    });
    expect(byKey.get(stray.affiliateKey!)).toMatchObject({ state: 'dual', overdue: true });
    for (const x of rows)
      expect({ key: x.canonical_key, overdue: x.overdue }).toEqual({
        key: x.canonical_key,
        overdue: x.state === 'legacy-only' || x.state === 'dual',
      });
    expect(
      rows
        .filter((x) => x.overdue)
        .map((x) => x.canonical_key)
        .sort(),
    ).toEqual([lagging.affiliateKey, stray.affiliateKey].sort());
  });

  it('changes state on the ground-truth days, day by day', async () => {
    const report = await migrationReport(h.t.db, h.t.names, h.config, new Date(endMs), h.clock.now());
    const lastDay = day(endMs - DAY);
    // Retired needs the legacy platform's entity list: HitPath's reporting API has none, so its
    // partners can only ever be "migrated".
    const withLists: string[] = [];
    for (const p of h.scenario.options.legacy) {
      const [r] = await h.t.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${h.t.names.platform(p)}.affiliates`);
      if (Number(r.n) > 0) withLists.push(p);
    }
    expect(withLists.length).toBeGreaterThan(0);
    const inactiveLegacy = new Set(
      withLists.flatMap((p) =>
        h.scenario.affiliates[p].filter((a) => a.status === 'inactive').map((a) => a.canonicalKey),
      ),
    );
    expect(inactiveLegacy.size).toBeGreaterThan(0);
    const stray = h.scenario.incidents.find((i) => i.rule === 'legacy-traffic-after-cutover' && i.offerKey)!;
    let checkedDays = 0;
    for (const w of h.scenario.waves) {
      const a = report.states.affiliates.find((x) => x.canonical_key === w.canonicalKey)!;
      const onTarget: MigrationState = inactiveLegacy.has(w.canonicalKey) ? 'retired' : 'migrated';
      // Expected from the ground truth: legacy-only until the first target click day, dual while
      // legacy clicks remain in the 7-day window, then on the target from legacyStoppedOn + 7.
      const migratedOn = w.legacyStoppedOn ? addDays(w.legacyStoppedOn, 7) : null;
      for (let d = addDays(h.scenario.options.migrationStart, -7); d <= lastDay; d = addDays(d, 1)) {
        // The stray partner's old link comes back after the cutover (dual again); checked below.
        if (w.canonicalKey === stray.affiliateKey && d >= h.scenario.options.cutoverDate) continue;
        let expected: MigrationState = 'legacy-only';
        if (w.movedOn && d >= w.movedOn)
          expected = migratedOn && d >= migratedOn && w.canonicalKey !== stray.affiliateKey ? onTarget : 'dual';
        if (w.canonicalKey === stray.affiliateKey && w.movedOn && d >= w.movedOn)
          expected = d >= addDays(firstStrayGap(), 0) ? onTarget : 'dual';
        expect({ key: w.canonicalKey, day: d, state: stateOn(a, d) }).toEqual({
          key: w.canonicalKey,
          day: d,
          state: expected,
        });
        checkedDays++;
      }
    }
    expect(checkedDays).toBeGreaterThan(h.scenario.waves.length * 30);
    // The stray partner: on the target before the cutover, dual again from the cutover day.
    const s = report.states.affiliates.find((x) => x.canonical_key === stray.affiliateKey)!;
    expect(stateOn(s, addDays(h.scenario.options.cutoverDate, -1))).not.toBe('dual');
    expect(s.changes.at(-1)).toMatchObject({ on: h.scenario.options.cutoverDate, to: 'dual' });

    // The stray partner's normal legacy stop: its last legacy click before the cutover, + 7 days.
    function firstStrayGap(): string {
      const ids = stray.affiliateIds!;
      const legacy = h.scenario.options.legacy.find((p) => ids[p])!;
      const cut = Date.parse(`${h.scenario.options.cutoverDate}T00:00:00Z`);
      const last = h.scenario.clicks[legacy]
        .filter((c) => c.affiliateId === ids[legacy] && c.clickedAt < cut)
        .at(-1)!.clickedAt;
      return addDays(day(last), 7);
    }
  });

  it('--by-day counts the transitions per day and wave', async () => {
    const report = await migrationReport(h.t.db, h.t.names, h.config, new Date(endMs), h.clock.now());
    const rows = transitionsByDay(report, h.config);
    for (const w of h.scenario.waves.filter((x) => x.movedOn && x.movedOn >= h.scenario.options.migrationStart)) {
      const row = rows.find((r) => r.day === w.movedOn && r.wave === w.tier)!;
      const movers = h.scenario.waves.filter((x) => x.tier === w.tier && x.movedOn === w.movedOn).length;
      expect(row.to_dual).toBe(movers);
    }
    const last = rows.filter((r) => r.day === day(endMs - DAY));
    expect(last.reduce((n, r) => n + r.affiliates, 0)).toBe(h.scenario.waves.length);
    expect(last.reduce((n, r) => n + r.legacy_only + r.dual + r.migrated + r.retired, 0)).toBe(h.scenario.waves.length);
    const csv = await cli('report', 'migration', '--by-day', '--csv', '--at', new Date(endMs).toISOString());
    expect(csv.out.split('\r\n')[0]).toBe(
      'day,wave,affiliates,legacy_only,dual,migrated,retired,to_dual,to_migrated,to_retired,to_legacy_only,overdue',
    );
  });
});

describe('report reconcile', () => {
  it('flags the injected conversion-rate discrepancy and no other offer', async () => {
    const incident = h.scenario.incidents.find((i) => i.rule === 'conversion-rate-discrepancy')!;
    const r = await reconcileReport(h.t.db, h.t.names, h.config, new Date(incident.to));
    const flagged = r.rows.filter((x) => x.verdict === 'discrepancy');
    expect(flagged.length).toBeGreaterThan(0);
    expect([...new Set(flagged.map((x) => x.offer_key))]).toEqual([incident.offerKey]);
    const offerLevel = flagged.filter((x) => x.affiliate === null);
    expect(offerLevel.length).toBeGreaterThan(0);
    for (const x of offerLevel) {
      expect(x.platform_b).toBe(h.scenario.options.target);
      expect(x.rate_b).toBeLessThan(x.rate_a * 0.7);
      expect(x.offer[h.scenario.options.target]).toBe(incident.offerIds![h.scenario.options.target]);
    }
    // Other mapped offers are compared too, and pass.
    expect(r.rows.some((x) => x.offer_key !== incident.offerKey && x.verdict === 'ok')).toBe(true);
    const csv = await cli('report', 'reconcile', '--at', new Date(incident.to).toISOString(), '--csv');
    expect(csv.code).toBe(0);
    expect(csv.out.split('\r\n').filter((l) => l.includes(',discrepancy')).length).toBe(flagged.length);
  });
});

describe('mappings suggest', () => {
  it('finds the partners whose target accounts were left out of the crosswalk, and --accept stores them as matched', async () => {
    const target = h.scenario.options.target;
    const truth = new Map(h.scenario.affiliates[target].map((a) => [a.id, a.canonicalKey]));
    await h.t.db.execute(`DELETE FROM ${h.t.names.core}.entity_map WHERE entity_type = 'affiliate' AND platform = :p`, {
      p: target,
    });
    const suggestions = (await suggestMappings(h.t.db, h.t.names, h.config, { entities: ['affiliate'] })).filter(
      (s) => s.platform === target,
    );
    // Partners whose legacy account is in an entity list (HitPath has none) can be matched.
    const cakeKeys = new Set(h.scenario.affiliates.cake.map((a) => a.canonicalKey));
    const matchable = h.scenario.affiliates[target].filter((a) => cakeKeys.has(a.canonicalKey));
    expect(matchable.length).toBeGreaterThan(0);
    expect(suggestions.map((s) => s.platform_id).sort()).toEqual(matchable.map((a) => a.id).sort());
    for (const s of suggestions) {
      expect({ id: s.platform_id, key: s.canonical_key, confidence: s.confidence, new_key: s.new_key }).toEqual({
        id: s.platform_id,
        key: truth.get(s.platform_id),
        confidence: 0.99,
        new_key: false,
      });
    }
    const before = await h.t.db.query(`SELECT COUNT(*) AS n FROM ${h.t.names.core}.entity_map`);
    const printed = await cli('mappings', 'suggest', '--json');
    expect(printed.out.trim().split('\n').length).toBeGreaterThanOrEqual(suggestions.length);
    expect(await h.t.db.query(`SELECT COUNT(*) AS n FROM ${h.t.names.core}.entity_map`)).toEqual(before);
    expect(await acceptSuggestions(h.t.db, h.t.names, suggestions, h.clock.now())).toBe(suggestions.length);
    const stored = await h.t.db.query<{
      platform_id: string;
      canonical_key: string;
      source: string;
      confidence: string;
    }>(
      `SELECT platform_id, canonical_key, source, confidence FROM ${h.t.names.core}.entity_map WHERE entity_type = 'affiliate' AND platform = :p`,
      { p: target },
    );
    for (const r of stored)
      expect(r).toEqual({
        platform_id: r.platform_id,
        canonical_key: truth.get(r.platform_id),
        source: 'matched',
        confidence: '0.990',
      });
    // Restore the full crosswalk for the other tests.
    expect((await cli('mappings', 'import', join(dir, 'crosswalk.csv'))).code).toBe(0);
  });
});

describe('reporting views and FX', () => {
  it('return the same totals as the platform tables', async () => {
    for (const p of Object.keys(h.scenario.options.platforms)) {
      const db = h.t.names.platform(p);
      const [t] = await h.t.db.query(
        `SELECT (SELECT SUM(clicks) FROM ${db}.hourly_rollups) AS clicks, (SELECT SUM(revenue) FROM ${db}.hourly_rollups) AS revenue,
                (SELECT COUNT(*) FROM ${db}.conversions WHERE is_event = 0 AND status IN ('approved', 'pending')) AS conversions,
                (SELECT SUM(revenue) FROM ${db}.conversions WHERE status IN ('approved', 'pending')) AS conv_revenue,
                (SELECT COUNT(*) FROM ${db}.conversions) AS rows_all`,
      );
      const [v] = await h.t.db.query(
        `SELECT (SELECT SUM(clicks) FROM ${h.t.names.reporting}.daily_platform_traffic WHERE platform = :p) AS clicks,
                (SELECT SUM(revenue) FROM ${h.t.names.reporting}.daily_platform_traffic WHERE platform = :p) AS revenue,
                (SELECT SUM(conversions) FROM ${h.t.names.reporting}.daily_platform_revenue WHERE platform = :p) AS conversions,
                (SELECT SUM(revenue) FROM ${h.t.names.reporting}.daily_platform_revenue WHERE platform = :p) AS conv_revenue,
                (SELECT COUNT(*) FROM ${h.t.names.reporting}.conversions_base WHERE platform = :p) AS rows_all`,
        { p },
      );
      const norm = (o: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(o).map(([k, x]) => [k, x === null ? null : String(x)]));
      expect({ p, ...norm(v) }).toEqual({ p, ...norm(t) });
      expect(Number(t.clicks)).toBeGreaterThan(0);
      const [a] = await h.t.db.query(
        `SELECT SUM(clicks) AS clicks FROM ${h.t.names.reporting}.affiliate_daily WHERE platform = :p`,
        { p },
      );
      expect(a.clicks).toEqual(t.clicks);
    }
    // USD is the base currency: base amounts equal the amounts.
    const [usd] = await h.t.db.query(
      `SELECT SUM(revenue) AS r, SUM(revenue_base) AS b, SUM(fx_missing) AS m FROM ${h.t.names.reporting}.daily_platform_revenue`,
    );
    expect(Number(usd.m)).toBe(0);
    expect(toMicrosText(usd.b as string)).toBe(toMicrosText(usd.r as string));
  });

  const fxHeader = 'currency,month,rate';
  const badFx: [string, string, number, RegExp][] = [
    ['a bad currency', [fxHeader, 'EUR,2026-03,1.1', 'EURO,2026-03,1.1'].join('\n'), 3, /not an ISO 4217 code/],
    ['a bad month', [fxHeader, 'EUR,2026-13,1.1'].join('\n'), 2, /month "2026-13"/],
    ['a bad rate', [fxHeader, 'EUR,2026-03,1.1', 'GBP,2026-03,-2'].join('\n'), 3, /rate "-2"/],
    ['a zero rate', [fxHeader, 'GBP,2026-03,0.000'].join('\n'), 2, /greater than 0/],
    [
      'a duplicate',
      [fxHeader, 'EUR,2026-03,1.1', 'GBP,2026-03,1.3', 'EUR,2026-03-01,1.2'].join('\n'),
      4,
      /duplicate EUR 2026-03 \(first on line 2\)/,
    ],
    ['a base-currency rate other than 1', [fxHeader, 'USD,2026-03,1.2'].join('\n'), 2, /USD is the base currency/],
    ['a missing column', ['currency,rate', 'EUR,1.1'].join('\n'), 1, /missing column month/],
    ['an empty field', [fxHeader, 'EUR,,1.1'].join('\n'), 2, /empty month/],
  ];
  it.each(badFx)(
    'fx import rejects a file with %s, naming the line, and loads nothing',
    async (_n, text, line, message) => {
      const r = await cli('fx', 'import', file('fx-bad.csv', text));
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`line ${line}: .*${message.source}`));
      expect(await h.t.db.query(`SELECT * FROM ${h.t.names.core}.fx_rates`)).toEqual([]);
    },
  );

  it("convert a non-USD platform with the month's rate, and leave a month without a rate unknown", async () => {
    const cake = h.t.names.platform('everflow');
    await h.t.db.execute(`UPDATE ${cake}.conversions SET currency = 'EUR'`);
    try {
      const ok = await cli(
        'fx',
        'import',
        file('fx.csv', [fxHeader, 'EUR,2026-03,1.25', 'GBP,2026-03,1.31'].join('\n')),
      );
      expect(ok.out).toContain('2 rates: 2 added');
      expect((await cli('fx', 'import', join(dir, 'fx.csv'))).out).toContain('0 added, 0 changed, 2 unchanged');
      const [march] = await h.t.db.query(
        `SELECT CAST(SUM(revenue_base) AS CHAR) AS b, SUM(fx_missing) AS m FROM ${h.t.names.reporting}.daily_platform_revenue WHERE platform = 'everflow' AND day < '2026-04-01'`,
      );
      const [truth] = await h.t.db.query(
        `SELECT CAST(SUM(ROUND(revenue * 1.25, 6)) AS CHAR) AS b FROM ${cake}.conversions WHERE status IN ('approved', 'pending') AND converted_at < '2026-04-01'`,
      );
      expect(Number(march.m)).toBe(0);
      expect(toMicrosText(march.b as string)).toBe(toMicrosText(truth.b as string));
      expect(Number(truth.b)).toBeGreaterThan(0);
      // April has no EUR rate: a day with counted conversions has an unknown base amount (never a silent 1).
      const april = await h.t.db.query<{ b: string | null; m: string; n: string }>(
        `SELECT revenue_base AS b, fx_missing AS m, conversions + events AS n FROM ${h.t.names.reporting}.daily_platform_revenue WHERE platform = 'everflow' AND day >= '2026-04-01'`,
      );
      expect(april.filter((d) => Number(d.n) > 0).length).toBeGreaterThan(0);
      for (const d of april) {
        if (Number(d.n) === 0) continue;
        expect(d.b).toBeNull();
        expect(Number(d.m)).toBe(Number(d.n));
      }
      const rev = await cli(
        'report',
        'revenue',
        '--from',
        '2026-03-30T00:00:00Z',
        '--to',
        '2026-04-02T00:00:00Z',
        '--json',
      );
      const rows = rev.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(rows).toHaveLength(3 * 3);
      expect(rows.find((r) => r.platform === 'everflow' && r.day === '2026-04-01').revenue_base).toBeNull();
      const m31 = rows.find((r) => r.platform === 'everflow' && r.day === '2026-03-31');
      expect(m31.revenue_base).toMatch(/^\d+\.\d{2}$/);
      expect(m31.currencies).toBe('EUR');
    } finally {
      await h.t.db.execute(`UPDATE ${cake}.conversions SET currency = 'USD'`);
    }
  });
});

describe('daily digest', () => {
  it('summarizes migration progress, 30-day revenue sparklines and open alerts', async () => {
    await h.t.db.execute(
      `INSERT INTO ${h.t.names.core}.alerts (fingerprint, rule, severity, state, subject, summary, first_seen_at, last_seen_at)
       VALUES (REPEAT('a', 64), 'tracking-outage', 'critical', 'open', '{"platforms":["everflow"]}', 'Offer <x> & co stopped converting', '2026-04-01 00:00:00', '2026-04-06 00:00:00')`,
    );
    const open = await listAlerts(h.t.db, h.t.names, 'open');
    const d = await buildDailyDigest(h.t.db, h.t.names, h.config, new Date(endMs), open, h.clock.now());
    const report = await migrationReport(h.t.db, h.t.names, h.config, new Date(endMs), h.clock.now());
    expect(d.migration.affiliates).toBe(h.scenario.waves.length);
    expect(d.migration.on_target).toBe(
      report.rows.filter((r) => r.state === 'migrated' || r.state === 'retired').length,
    );
    expect(d.migration.overdue.map((o) => o.canonical_key).sort()).toEqual(
      report.rows
        .filter((r) => r.overdue)
        .map((r) => r.canonical_key)
        .sort(),
    );
    expect(d.days).toEqual({ from: day(endMs - 30 * DAY), to: day(endMs) });
    expect(d.revenue.map((r) => r.platform)).toEqual(['hitpath', 'cake', 'everflow']);
    for (const r of d.revenue) {
      expect([...r.sparkline]).toHaveLength(30);
      expect([...r.sparkline].every((c) => SPARK.includes(c))).toBe(true);
    }
    // The cutover curve: legacy falls to its floor, the target rises to its top.
    const level = (p: string) => [...d.revenue.find((r) => r.platform === p)!.sparkline].map((c) => SPARK.indexOf(c));
    expect(level('everflow')[0]).toBe(0);
    expect(level('everflow').at(-1)).toBeGreaterThanOrEqual(6);
    expect(level('hitpath')[0]).toBeGreaterThan(level('hitpath').at(-1)!);
    expect(d.alerts).toMatchObject({ open: 1, by_severity: { critical: 1 } });
    expect(d.text).toContain(d.revenue[0].sparkline);
    expect(d.headline).toMatch(/partners on everflow, 2 overdue, 1 open alert \(1 critical\)/);

    const input = digestPublishInput('arn:aws:sns:us-east-1:123456789012:alerts', d);
    expect(input.MessageStructure).toBe('json');
    const bodies = JSON.parse(input.Message!);
    expect(bodies.email).toBe(d.text);
    expect(JSON.parse(bodies.lambda)).toMatchObject({ kind: 'digest', headline: d.headline });
    expect(input.MessageAttributes).toMatchObject({
      kind: { StringValue: 'digest' },
      severity: { StringValue: 'digest' },
    });
  });
});

function toMicrosText(s: string): string {
  const [w, f = ''] = s.split('.');
  return `${w}.${(`${f}000000`).slice(0, 6)}`;
}
