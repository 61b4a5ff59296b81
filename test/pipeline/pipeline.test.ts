import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, truthCounts, seededShuffle, type Harness } from '../helpers/pipeline-harness.js';
import { tableDigest } from '../helpers/db.js';
import { lookbackHoursFor, PlanError } from '#shared/pipeline/plan.js';
import { planBackfill, scheduleFetch } from '#shared/pipeline/schedule.js';
import { normalizeBatch } from '#shared/pipeline/normalize-worker.js';
import type { Connector } from '#shared/platforms/types.js';

const DAY = 86_400_000;
let h: Harness;
let twin: Harness;
let from: string, to: string;
let fromMs: number, toMs: number;

function platformTables(x: Harness): string[] {
  return Object.keys(x.scenario.options.platforms).flatMap((p) =>
    ['conversions', 'clicks', 'hourly_rollups', 'affiliates', 'offers', 'advertisers'].map(
      (t) => `${x.t.names.platform(p)}.${t}`,
    ),
  );
}

beforeAll(async () => {
  h = await startHarness();
  twin = await startHarness(h.scenario);
  // Two days in the migration period, when every platform has traffic.
  fromMs = Date.parse(`${h.scenario.options.migrationStart}T00:00:00Z`) + 6 * DAY;
  toMs = fromMs + 2 * DAY;
  from = new Date(fromMs).toISOString();
  to = new Date(toMs).toISOString();
});
afterAll(async () => {
  await h?.close();
  await twin?.close();
});

describe('ingest through the local queue', () => {
  it('loads exactly the records whose event time is in [from, to), and the ledger adds up', async () => {
    const runner = h.runner({ maxRecordsPerMessage: 500 });
    const { totals } = await runner.ingest({ from, to });
    expect(totals.failed).toBe(0);
    expect(totals.dlq).toBe(0);
    for (const p of Object.keys(h.scenario.options.platforms)) {
      const truth = truthCounts(h.scenario, p, fromMs, toMs);
      const db = h.t.names.platform(p);
      const [c] = await h.t.db.query<{ clicks: number; conversions: number; rollup_clicks: string }>(
        // Conversions by conversion time: a change feed (CAKE EventConversionChanges) also upserts older conversions whose status changed in the window.
        `SELECT (SELECT COUNT(*) FROM ${db}.clicks) AS clicks, (SELECT COUNT(*) FROM ${db}.conversions WHERE converted_at >= :f AND converted_at < :t) AS conversions, (SELECT SUM(clicks) FROM ${db}.hourly_rollups) AS rollup_clicks`,
        { f: new Date(fromMs), t: new Date(toMs) },
      );
      expect({ platform: p, clicks: c.clicks, conversions: c.conversions }).toEqual({ platform: p, ...truth });
      expect(Number(c.rollup_clicks)).toBe(truth.clicks);
      const t = totals.byPlatform[p];
      expect(t.fetched).toBe(t.loaded + t.quarantined + t.dlq);
    }
    expect(totals.done).toBe(totals.slices);
    const [unfinished] = await h.t.db.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM ${h.t.names.core}.fetch_slices WHERE status = 'done' AND finished_at IS NULL`,
    );
    expect(unfinished.n).toBe(0);
  });

  it('delivering every message twice, in shuffled order, leaves every table identical to delivering once', async () => {
    const runner = twin.runner({ maxRecordsPerMessage: 500, duplicate: 2, shuffle: seededShuffle(42) });
    await runner.ingest({ from, to });
    expect(await tableDigest(twin.t.db, platformTables(twin))).toBe(await tableDigest(h.t.db, platformTables(h)));
  });

  it('replaying the whole window later changes nothing', async () => {
    const before = await tableDigest(h.t.db, platformTables(h));
    h.clock.advance(3 * 3_600_000);
    await h.runner({ maxRecordsPerMessage: 500 }).ingest({ from, to, fresh: true });
    h.clock.advance(-3 * 3_600_000);
    expect(await tableDigest(h.t.db, platformTables(h))).toBe(before);
  });
});

describe('faults', () => {
  it('429 storms, 500s, timeouts, truncated and malformed bodies lose nothing; a DLQ replay after the fault clears completes the load', async () => {
    const x = await startHarness(h.scenario);
    try {
      const ef = x.network.simulators.everflow.server;
      const hp = x.network.simulators.hitpath.server;
      ef.injectFaults([
        { kind: '429', retryAfterSeconds: 0 },
        { kind: '429', retryAfterSeconds: 0 },
        { kind: '500' },
        { kind: 'truncate' },
        { kind: 'malformed' },
        { kind: 'timeout' },
      ]);
      // More consecutive 500s than one fetch job's retries × receives: HitPath's jobs end in the DLQ.
      hp.injectFaults(Array.from({ length: 200 }, () => ({ kind: '500' as const })));
      // The injected timeout must fire within the test: a short per-call timeout here.
      const runner = x.runner({ maxRecordsPerMessage: 500, retry: { timeoutMs: 2_000 } });
      const first = await runner.ingest({ from, to });
      expect(first.totals.byPlatform.hitpath.failed).toBeGreaterThan(0);
      expect(first.totals.byPlatform.everflow.failed).toBe(0);
      const [dlq] = await x.t.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${x.t.names.core}.local_dlq`);
      expect(dlq.n).toBe(first.totals.byPlatform.hitpath.failed);
      // The fault clears; replaying the DLQ completes the load.
      hp.clearFaults();
      const replay = await runner.replayDlq();
      expect(replay).toEqual({ replayed: dlq.n, deadAgain: 0 });
      const totals = await runner.totals(first.backfillIds);
      expect(totals.failed).toBe(0);
      expect(totals.done).toBe(totals.slices);
      for (const p of Object.keys(x.scenario.options.platforms)) {
        const truth = truthCounts(x.scenario, p, fromMs, toMs);
        const [c] = await x.t.db.query<{ clicks: number; conversions: number }>(
          `SELECT (SELECT COUNT(*) FROM ${x.t.names.platform(p)}.clicks) AS clicks, (SELECT COUNT(*) FROM ${x.t.names.platform(p)}.conversions WHERE converted_at >= :f AND converted_at < :t) AS conversions`,
          { f: new Date(fromMs), t: new Date(toMs) },
        );
        expect({ p, ...c }).toEqual({ p, ...truth });
      }
      expect(ef.requests.some((r) => r.fault === 'timeout')).toBe(true);
      expect(ef.requests.filter((r) => r.fault === '429')).toHaveLength(2);
    } finally {
      await x.close();
    }
  });

  it('a record that can never load is quarantined with its reason while the rest of its message loads; a transient failure dead-letters and replays', async () => {
    const x = await startHarness(h.scenario, ['everflow']);
    try {
      const runner = x.runner({ maxRecordsPerMessage: 200 });
      const ef = runner.deps.connectors.everflow;
      let failTransiently = true;
      let badOnce = 0;
      const wrapped: Connector = {
        ...ef,
        normalize(stream, record, ctx) {
          const r = ef.normalize(stream, record, ctx);
          // One conversion is made schema-invalid; one click batch hits a "database" error until fixed.
          if (stream === 'conversions' && r.ok && badOnce++ === 3)
            return { ok: false, reason: 'everflow conversions: payout: expected a decimal, got "abc"' };
          if (stream === 'clicks' && failTransiently && r.ok && (r.row as { click_id: string }).click_id.endsWith('7'))
            throw new Error('connection reset');
          return r;
        },
      };
      runner.deps.connectors.everflow = wrapped;
      const first = await runner.ingest({ from, to });
      const ev = first.totals.byPlatform.everflow;
      expect(ev.quarantined).toBe(1);
      expect(ev.dlq).toBeGreaterThan(0);
      expect(ev.fetched).toBe(ev.loaded + ev.quarantined + ev.dlq);
      const [q] = await x.t.db.query<{ reason: string; platform: string }>(
        `SELECT reason, platform FROM ${x.t.names.core}.quarantine`,
      );
      expect(q.platform).toBe('everflow');
      expect(q.reason).toMatch(
        /payout: expected a decimal, got "abc" \(record \d+ of message \d+, \/v1\/networks\/reporting\/conversions\)/,
      );
      failTransiently = false;
      await runner.replayDlq();
      const after = (await runner.totals(first.backfillIds)).byPlatform.everflow;
      expect(after).toMatchObject({ dlq: 0, quarantined: 1, loaded: ev.fetched - 1, done: after.slices });
    } finally {
      await x.close();
    }
  });

  it('a crash between two messages of one slice resumes without gaps or duplicates', async () => {
    const x = await startHarness(h.scenario, ['everflow']);
    try {
      const crashing = x.runner({ maxRecordsPerMessage: 100 });
      let processed = 0;
      const real = crashing.deps.connectors.everflow;
      crashing.deps.connectors.everflow = {
        ...real,
        normalize(stream, record, ctx) {
          if (stream === 'clicks' && ++processed > 250) throw new CrashError();
          return real.normalize(stream, record, ctx);
        },
      };
      class CrashError extends Error {}
      // The "process" dies: we stop driving its queue after the first crash (its in-memory messages are lost).
      const origDrain = crashing.queue.drain.bind(crashing.queue);
      crashing.queue.drain = async () => {
        crashing.queue.consume('normalize', async (batch) => {
          const r = await normalizeBatch(batch, crashing.deps);
          if (r.failedIds.length) throw new Error('process crashed');
          return { failedIds: [] };
        });
        await origDrain().catch(() => undefined);
      };
      await crashing.ingest({ from, to, streams: ['clicks'] }).catch(() => undefined);
      const [mid] = await x.t.db.query<{ n: number }>(
        `SELECT COUNT(*) AS n FROM ${x.t.names.platform('everflow')}.clicks`,
      );
      const truth = truthCounts(x.scenario, 'everflow', fromMs, toMs).clicks;
      expect(mid.n).toBeGreaterThan(0);
      expect(mid.n).toBeLessThan(truth);
      // A new process re-runs the same command: unfinished slices are fetched again, finished ones skipped.
      const resumed = await x.runner({ maxRecordsPerMessage: 100 }).ingest({ from, to, streams: ['clicks'] });
      const [end] = await x.t.db.query<{ n: number; r: string }>(
        `SELECT (SELECT COUNT(*) FROM ${x.t.names.platform('everflow')}.clicks) AS n, (SELECT SUM(clicks) FROM ${x.t.names.platform('everflow')}.hourly_rollups) AS r`,
      );
      expect(end.n).toBe(truth);
      expect(Number(end.r)).toBe(truth);
      expect(resumed.totals.done).toBe(resumed.totals.slices);
    } finally {
      await x.close();
    }
  });
});

describe('scheduled runs', () => {
  it('with no watermark yet, the first scheduled run starts where the backfill ended (minus the lookback), leaving no gap', async () => {
    const runner = h.runner();
    const sent: string[] = [];
    // h ingested [from, to) as a backfill; the clock stands at the scenario's end, over 7 days later,
    // so maxBehindDays is raised here (with the default the run would leave that stretch as a gap:
    // test/pipeline/self-healing.test.ts).
    const everflow = { ...h.config.platforms.everflow, maxBehindDays: 60 };
    const deps = {
      ...runner.deps,
      config: { ...h.config, platforms: { ...h.config.platforms, everflow } },
      queue: { send: async (_q: string, bodies: readonly string[]) => void sent.push(...bodies) },
    };
    const slices = await scheduleFetch('everflow', deps);
    const clickSlices = slices.filter((x) => x.stream === 'clicks');
    // Clicks re-read only the short click lookback (2 h), conversions the configured one.
    const lookbackMs = lookbackHoursFor(h.config.platforms.everflow, 'clicks') * 3_600_000;
    expect(lookbackMs).toBe(2 * 3_600_000);
    const conv = slices.filter((x) => x.stream === 'conversions');
    expect(conv[0].from).toBe(
      new Date(toMs - lookbackHoursFor(h.config.platforms.everflow, 'conversions') * 3_600_000).toISOString(),
    );
    expect(clickSlices[0].from).toBe(new Date(toMs - lookbackMs).toISOString());
    expect(clickSlices.at(-1)!.to).toBe(h.clock.now().toISOString());
    expect(sent).toHaveLength(slices.length);
  });
});

describe('backfill requests', () => {
  it('a bad request gets a clear error and plans nothing', async () => {
    const runner = h.runner();
    const count = async () =>
      (await h.t.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${h.t.names.core}.fetch_slices`))[0].n;
    const before = await count();
    const now = h.clock.now().getTime();
    await expect(planBackfill({ platform: 'everflow', from: to, to: from }, runner.deps)).rejects.toThrow(PlanError);
    await expect(planBackfill({ platform: 'everflow', from: to, to: from }, runner.deps)).rejects.toThrow(
      /must be after --from/,
    );
    await expect(planBackfill({ platform: 'impact', from, to }, runner.deps)).rejects.toThrow(
      /unknown platform "impact": configured platforms are/,
    );
    await expect(
      planBackfill({ platform: 'hitpath', from: new Date(now - 46 * DAY).toISOString(), to }, runner.deps),
    ).rejects.toThrow(/beyond the platform's horizon: its API serves at most 45 days back/);
    await expect(planBackfill({ platform: 'hitpath', from: '2026-03-01', to }, runner.deps)).rejects.toThrow(
      /from: expected ISO-8601 with a zone/,
    );
    await expect(planBackfill({ platform: 'hitpath', from, to, streams: ['affiliates'] }, runner.deps)).rejects.toThrow(
      /does not offer affiliates/,
    );
    await expect(planBackfill({ platform: 'everflow', from, to, colour: 'red' }, runner.deps)).rejects.toThrow(
      /invalid backfill request: .*colour/,
    );
    expect(await count()).toBe(before);
  });

  it('a malformed normalize message is quarantined as poison and not retried', async () => {
    const runner = h.runner();
    const r = await normalizeBatch(
      [
        { messageId: 'm1', body: '{"kind":"normalize","sliceId":"x"}' },
        { messageId: 'm2', body: 'not json' },
      ],
      runner.deps,
    );
    expect(r).toMatchObject({ failedIds: [], poison: 2 });
    const rows = await h.t.db.query<{ reason: string }>(
      `SELECT reason FROM ${h.t.names.core}.quarantine WHERE platform = 'unknown' ORDER BY id`,
    );
    expect(rows.map((x) => x.reason)).toEqual([
      expect.stringMatching(/malformed normalize message: attempt: /),
      expect.stringMatching(/malformed normalize message: body is not JSON/),
    ]);
  });
});
