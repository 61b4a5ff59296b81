import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_RETRY, startHarness, type Harness } from '../helpers/pipeline-harness.js';
import { LocalRunner } from '#shared/pipeline/local-runner.js';
import { localPipelineDeps } from '#shared/pipeline/local-deps.js';
import { runEvaluation } from '#shared/alerts/run.js';
import { evaluateRules } from '#shared/rules/engine.js';
import type { AlertMessage } from '#shared/alerts/notify/message.js';
import type { Finding } from '#shared/rules/types.js';
import type { GroundTruthIncident } from '../../dev/simulators/scenario/types.js';
import { silentLogger } from '#shared/util/logger.js';
import { toSqlDateTime } from '#shared/util/time.js';

/**
 * The rules engine end to end on the simulated network (issue "Rules engine and alerts"): the small
 * scenario is served by the platform simulators, ingested through the real pipeline (connectors,
 * local queue, normalize, upserts, rollups), the scenario's crosswalk is loaded, and the evaluation
 * path (`runEvaluation`: migration plan refresh → every rule with the docs/design.md §6 defaults → alert
 * store) runs. Every ground-truth incident must fire and nothing else may.
 *
 * When it evaluates. The data is fetched once, "now" = the scenario's end (HitPath serves only 45
 * days back, so the clock stands there). Most incidents stay visible at the end (money-at-risk rules
 * look back to migration.startDate; the lagging partner and post-cutover traffic are still going
 * on). Some are only observable inside their window, and the hourly schedule would have caught them
 * then: the tracking outage resolves as soon as conversions come back, the conversion-rate
 * discrepancy leaves the 14-day comparison window, dual running and stray legacy traffic stop.
 * So it evaluates, in time order, at the end of every incident window that closes before the
 * scenario ends (the last scheduled run that still sees it: rules count complete hours before `at`),
 * and shortly after the end. Evaluating a past `at` sees only events before it (conversion statuses
 * are as fetched at the end, as in any replay); stale-source counts the fetch made at the end as
 * fresh for a past `at` (docs/design.md §6), and at the end + 5 minutes it is well inside 2 × the hourly
 * schedule.
 *
 * Matching is by rule and subject ids only (never by the scenario's ids, dates or sizes), see
 * `matches`. Offer × affiliate findings of a conversion-rate discrepancy match the offer's incident
 * (the scenario says those comparisons show the same discrepancy).
 *
 * Speed: clicks are fetched in 24-hour slices instead of the connectors' production 1 hour (Everflow,
 * CAKE). Slicing decides only how many calls are made, never which rows load (the pipeline tests
 * check hourly slicing and the ledger); 1,700 hourly slices of a 36-day backfill cost ~10 ledger
 * statements each and made this file several minutes long.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;

let h: Harness;
let end: number;
let start: number;
const evaluations: { at: Date; findings: Finding[]; messages: AlertMessage[] }[] = [];

beforeAll(async () => {
  h = await startHarness();
  const s = h.scenario.options;
  start = Date.parse(`${s.startDate}T00:00:00Z`);
  end = start + s.days * DAY;
  const deps = localPipelineDeps({
    config: h.config,
    db: h.t.db,
    names: h.t.names,
    env: h.network.env,
    clock: h.clock,
    logger: silentLogger,
    // Whole-day HitPath reports take a while to render on a loaded machine: a longer timeout, fast retries.
    retry: { ...FAST_RETRY, timeoutMs: 30_000 },
  });
  for (const [key, c] of Object.entries(deps.connectors))
    deps.connectors[key] = { ...c, sliceHours: (stream) => (stream === 'clicks' ? 24 : c.sliceHours(stream)) };
  const runner = new LocalRunner(deps, { maxReceiveCount: 3 });
  const t0 = performance.now();
  const { totals } = await runner.ingest({ from: new Date(start).toISOString(), to: new Date(end).toISOString() });
  console.log(
    `ingest: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${totals.slices} slices, ${totals.loaded} rows loaded`,
  );
  expect({ failed: totals.failed, dlq: totals.dlq, quarantined: totals.quarantined, done: totals.done }).toEqual({
    failed: 0,
    dlq: 0,
    quarantined: 0,
    done: totals.slices,
  });

  // The crosswalk as `dualtrack mappings import` would load it (one row per entity per platform).
  await h.t.db.batch(
    `INSERT INTO ${h.t.names.core}.entity_map (entity_type, platform, platform_id, canonical_key, source, confidence, updated_at)
     VALUES (:entity, :platform, :id, :key, 'imported', 1, :now)`,
    h.scenario.crosswalk.map((r) => ({
      entity: r.entity,
      platform: r.platform,
      id: r.platform_id,
      key: r.canonical_key,
      now: toSqlDateTime(h.clock.now()),
    })),
  );

  const times = [...new Set([...h.scenario.incidents.map((i) => i.to).filter((t) => t < end), end + 5 * MINUTE])].sort(
    (a, b) => a - b,
  );
  for (const t of times) {
    const at = new Date(t);
    const messages: AlertMessage[] = [];
    const r = await runEvaluation({
      db: h.t.db,
      names: h.t.names,
      config: h.config,
      at,
      notifier: { notify: async (m) => void messages.push(...m) },
    });
    evaluations.push({ at, findings: r.findings, messages });
  }
}, 240_000);

afterAll(async () => {
  await h?.close();
});

/** Same entity: equal ids on every platform both name, at least one platform in common. */
function sameEntity(expected: Record<string, string>, actual: Record<string, string>): boolean {
  const common = Object.keys(expected).filter((p) => p in actual);
  return common.length > 0 && common.every((p) => actual[p] === expected[p]);
}

/**
 * Same rule, and the same affiliate / offer wherever both the incident and the finding name one (at
 * least one compared). A rule reports at its own grain: legacy-traffic-after-cutover per affiliate
 * (the stray incident also names the offer), conversion-rate-discrepancy per offer and per offer ×
 * affiliate (the incident names the offer only).
 */
function matches(f: Finding, i: GroundTruthIncident): boolean {
  if (f.rule !== i.rule) return false;
  const pairs = [
    [i.affiliateIds, f.subject.affiliate],
    [i.offerIds, f.subject.offer],
  ].filter((x): x is [Record<string, string>, Record<string, string>] => x[0] !== undefined && x[1] !== undefined);
  return pairs.length > 0 && pairs.every(([expected, actual]) => sameEntity(expected, actual));
}

function describeFinding(f: Finding, at?: Date): string {
  return `${at ? `${at.toISOString()} ` : ''}${f.rule} ${JSON.stringify(f.subject)}: ${f.summary}`;
}

describe('rules on the simulated network (small scenario, ingested end to end)', () => {
  it('every ground-truth incident fires and nothing else does', () => {
    const incidents = h.scenario.incidents;
    // Distinct findings (an alert) by fingerprint, first seen at the earliest evaluation.
    const distinct = new Map<string, { f: Finding; at: Date }>();
    for (const e of evaluations)
      for (const f of e.findings) if (!distinct.has(f.fingerprint)) distinct.set(f.fingerprint, { f, at: e.at });
    const found = [...distinct.values()];
    const matchedIncidents = incidents.filter((i) => found.some(({ f }) => matches(f, i)));
    const unmatched = found.filter(({ f }) => !incidents.some((i) => matches(f, i)));
    const recall = matchedIncidents.length / incidents.length;
    const precision = found.length === 0 ? 1 : (found.length - unmatched.length) / found.length;
    console.log(
      `recall ${recall.toFixed(3)} (${matchedIncidents.length}/${incidents.length}), precision ${precision.toFixed(3)} (${found.length - unmatched.length}/${found.length}) ` +
        `(evaluated at ${evaluations.map((e) => `${e.at.toISOString()}: ${e.findings.length}`).join(', ')})`,
    );
    if (unmatched.length)
      console.log(
        `findings that match no incident:\n${unmatched.map(({ f, at }) => describeFinding(f, at)).join('\n')}`,
      );
    const missed = incidents.filter((i) => !matchedIncidents.includes(i)).map((i) => `${i.rule}: ${i.description}`);
    expect(missed, 'incidents no rule reported').toEqual([]);
    expect(recall).toBe(1);
    expect(precision, unmatched.map(({ f, at }) => describeFinding(f, at)).join('\n')).toBeGreaterThanOrEqual(0.95);
  });

  it('each incident is reported at the end of its window, by the evaluation the schedule would have run then', () => {
    const late: string[] = [];
    for (const i of h.scenario.incidents) {
      const at = i.to < end ? i.to : end + 5 * MINUTE;
      const e = evaluations.find((x) => x.at.getTime() === at)!;
      if (!e.findings.some((f) => matches(f, i)))
        late.push(`${i.rule} not firing at ${e.at.toISOString()}: ${i.description}`);
    }
    expect(late).toEqual([]);
  });

  it('the rules whose verdict depends on when they look stay quiet at other times too (daily at 18:00 UTC over the whole scenario)', async () => {
    // The schedule evaluates hourly; a daily sample of the rules that judge recent windows (not the
    // whole-lookback money rules) catches alarms such as an outage "seen" on the first days of data
    // or right after a partner moves, when the baseline is a handful of clicks.
    const wrong: string[] = [];
    for (let t = start + 18 * 3_600_000; t < end; t += DAY) {
      const at = new Date(t);
      const findings = await evaluateRules({
        db: h.t.db,
        names: h.t.names,
        config: h.config,
        at,
        only: ['tracking-outage', 'conversion-rate-discrepancy', 'dual-running', 'revenue-discrepancy'],
      });
      for (const f of findings)
        if (!h.scenario.incidents.some((i) => matches(f, i) && t >= i.from)) wrong.push(describeFinding(f, at));
    }
    expect(wrong).toEqual([]);
  });

  it('reports money at risk for the duplicate rules and notifies each alert once, grouped by severity', () => {
    const last = evaluations[evaluations.length - 1];
    for (const f of last.findings.filter((x) =>
      ['cross-platform-duplicate', 'platform-duplicate', 'dual-running'].includes(x.rule),
    )) {
      expect(Number(f.money_at_risk), describeFinding(f)).toBeGreaterThan(0);
    }
    for (const e of evaluations) {
      const severities = e.messages.map((m) => m.severity);
      expect(new Set(severities).size, `one message per severity at ${e.at.toISOString()}`).toBe(severities.length);
    }
    // The tracking outage (the offer on the target) opened (critical) in the run that saw it, and
    // resolved in the next one, when its conversions were back. (An offer × affiliate outage of the
    // same offer may still be open then: a small affiliate whose next conversion has not come yet.)
    const outage = h.scenario.incidents.find((i) => i.rule === 'tracking-outage')!;
    const k = evaluations.findIndex((e) => e.at.getTime() === outage.to);
    const outageNotes = (e: (typeof evaluations)[number]) =>
      e.messages
        .filter((m) => m.severity === 'critical')
        .flatMap((m) => m.notifications.filter((n) => n.alert.rule === 'tracking-outage'));
    const offerLevel = (e: (typeof evaluations)[number]) =>
      outageNotes(e)
        .filter((n) => n.alert.subject.affiliate === undefined)
        .map((n) => n.kind);
    expect(offerLevel(evaluations[k])).toEqual(['opened']);
    expect(offerLevel(evaluations[k + 1])).toEqual(['resolved']);
    for (const n of outageNotes(evaluations[k + 1]))
      expect(matches({ rule: 'tracking-outage', subject: n.alert.subject } as Finding, outage), n.alert.summary).toBe(
        true,
      );
  });

  it('evaluated once a day over the whole scenario (as `dualtrack evaluate --at` would), dual running does not flap: each dual runner opens once and resolves once after it stops', async () => {
    // A fresh alert history: the evaluations above already opened alerts.
    await h.t.db.execute(`DELETE FROM ${h.t.names.core}.alert_events`);
    await h.t.db.execute(`DELETE FROM ${h.t.names.core}.alerts`);
    const kinds = new Map<string, { kind: string; at: string }[]>();
    const dualIncidents = h.scenario.incidents.filter((i) => i.rule === 'dual-running');
    for (let t = start + DAY + 6 * 3_600_000; t < end; t += DAY) {
      const at = new Date(t);
      const r = await runEvaluation({
        db: h.t.db,
        names: h.t.names,
        config: h.config,
        at,
        notifier: { notify: async () => undefined },
      });
      for (const n of r.notifications) {
        if (n.alert.rule !== 'dual-running') continue;
        const list = kinds.get(n.alert.fingerprint) ?? [];
        list.push({ kind: n.kind, at: at.toISOString() });
        kinds.set(n.alert.fingerprint, list);
      }
    }
    expect(kinds.size, JSON.stringify([...kinds.values()])).toBe(dualIncidents.length);
    for (const [fp, list] of kinds) {
      // Each ends at least two days before the scenario does: the daily run sees it stop.
      // (`repeated` is the daily reminder of an alert that keeps firing, rules.<rule>.repeatHours.)
      expect(
        list.map((x) => x.kind).filter((k) => k !== 'repeated'),
        `${fp}: ${JSON.stringify(list)}`,
      ).toEqual(['opened', 'resolved']);
    }
    for (const i of dualIncidents) expect(i.to).toBeLessThan(end - 2 * DAY);
  }, 120_000);
});
