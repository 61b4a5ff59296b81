import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, truthCounts, type Harness } from '../helpers/pipeline-harness.js';
import { fetchSlice } from '#shared/pipeline/fetch-worker.js';
import { Ledger } from '#shared/pipeline/ledger.js';
import { scheduleFetch } from '#shared/pipeline/schedule.js';
import { evaluateRules } from '#shared/rules/engine.js';

const DAY = 86_400_000;
let h: Harness;
let fromMs: number;
let toMs: number;

beforeAll(async () => {
  h = await startHarness(undefined, ['everflow']);
  // Four days in the migration period, when the target has traffic.
  fromMs = Date.parse(`${h.scenario.options.migrationStart}T00:00:00Z`) + 6 * DAY;
  toMs = fromMs + 4 * DAY;
});
afterAll(async () => {
  await h?.close();
});

type SliceRow = {
  slice_id: string;
  window_from: string;
  window_to: string;
  status: string;
  records_fetched: number;
  rows_loaded: number;
};

describe('a fetch near its deadline hands the rest of its slice on', () => {
  it('every click once, slices chained edge to edge, all done; re-running the ingest asks nothing', async () => {
    const runner = h.runner();
    // Two minutes left after the first call: the Everflow client stops at each call boundary and the
    // fetch worker hands the rest of the window to a new slice (with the density it saw).
    let calls = 0;
    runner.deps.remainingMs = () => (calls++ === 0 ? 600_000 : 100_000);
    const sim = h.network.simulators.everflow.server;
    const before = sim.requests.length;
    const { totals } = await runner.ingest({
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      streams: ['clicks'],
    });
    const truth = truthCounts(h.scenario, 'everflow', fromMs, toMs);
    const [c] = await h.t.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${h.t.names.platform('everflow')}.clicks`);
    expect(c.n).toBe(truth.clicks);
    expect(totals.failed).toBe(0);
    expect(totals.done).toBe(totals.slices);
    expect(totals.fetched).toBe(truth.clicks);
    const slices = await h.t.db.query<SliceRow>(
      `SELECT slice_id, window_from, window_to, status, records_fetched, rows_loaded FROM ${h.t.names.core}.fetch_slices
        WHERE platform = 'everflow' AND stream = 'clicks' ORDER BY window_from`,
    );
    expect(slices.length).toBeGreaterThan(1);
    expect(slices[0].window_from).toMatch(new Date(fromMs).toISOString().slice(0, 10));
    for (let i = 1; i < slices.length; i++) expect(slices[i].window_from).toBe(slices[i - 1].window_to);
    expect(slices.at(-1)?.window_to).toMatch(new Date(toMs).toISOString().slice(0, 10));
    expect(slices.every((s) => s.status === 'done' && s.records_fetched === s.rows_loaded)).toBe(true);
    // Each slice is its own run of calls: one call starts each slice (plus any truncated reply asked again shorter).
    const starts = new Set(
      sim.requests
        .slice(before)
        .filter((r) => r.path.endsWith('/clicks/stream'))
        .map((r) => (JSON.parse(r.body) as { from: string }).from),
    );
    expect(starts.size).toBe(slices.length);

    const again = sim.requests.length;
    const rerun = await h.runner().ingest({
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      streams: ['clicks'],
    });
    expect(sim.requests.length).toBe(again);
    expect(rerun.totals.done).toBe(slices.length);
  });

  it('an unfinished hand-on is fetched when the same ingest runs again (a crash between slices)', async () => {
    const ledger = new Ledger(h.t.db, h.t.names);
    const [last] = await h.t.db.query<{ slice_id: string }>(
      `SELECT slice_id FROM ${h.t.names.core}.fetch_slices WHERE platform = 'everflow' AND stream = 'clicks' ORDER BY window_from DESC LIMIT 1`,
    );
    // As if the last handed-on slice had never run.
    await h.t.db.execute(`UPDATE ${h.t.names.core}.fetch_slices SET status = 'planned' WHERE slice_id = :id`, {
      id: last.slice_id,
    });
    const sim = h.network.simulators.everflow.server;
    const before = sim.requests.length;
    const { totals } = await h.runner().ingest({
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      streams: ['clicks'],
    });
    const asked = sim.requests
      .slice(before)
      .filter((r) => r.path.endsWith('/clicks/stream'))
      .map((r) => (JSON.parse(r.body) as { from: string }).from);
    const [w] = await h.t.db.query<{ f: string }>(
      `SELECT DATE_FORMAT(window_from, '%Y-%m-%d %H:%i:%s') AS f FROM ${h.t.names.core}.fetch_slices WHERE slice_id = :id`,
      { id: last.slice_id },
    );
    // Only that slice's window is asked again (from its start), and the run ends with every slice done.
    expect(asked.length).toBeGreaterThan(0);
    expect(asked[0]).toBe(w.f);
    expect(asked.every((f) => f >= w.f)).toBe(true);
    expect(totals.done).toBe(totals.slices);
    expect((await ledger.sliceTotals({ sliceIds: [last.slice_id] })).done).toBe(1);
  });

  it('a call still hanging 30 s before the deadline fails the slice with the reason, for a retry', async () => {
    const runner = h.runner();
    runner.deps.remainingMs = () => 30_200;
    const sim = h.network.simulators.everflow.server;
    sim.injectFaults([{ kind: 'timeout' }], (p) => p.endsWith('/clicks/stream'));
    const sliceId = '00000000-0000-4000-8000-00000000dead';
    const window = { from: new Date(toMs).toISOString(), to: new Date(toMs + 3_600_000).toISOString() };
    await new Ledger(h.t.db, h.t.names).plan(
      [{ sliceId, platform: 'everflow', stream: 'clicks', ...window, backfillId: null }],
      h.clock.now(),
    );
    await expect(
      fetchSlice({ kind: 'fetch', sliceId, platform: 'everflow', stream: 'clicks', ...window }, runner.deps),
    ).rejects.toThrow(/stopped 30 s before the function's timeout/);
    const [s] = await h.t.db.query<{ status: string; error: string }>(
      `SELECT status, error FROM ${h.t.names.core}.fetch_slices WHERE slice_id = :id`,
      { id: sliceId },
    );
    expect(s.status).toBe('failed');
    expect(s.error).toMatch(/the slice is retried/);
  });
});

describe('stuck slices are marked failed with the reason, so the watermark moves on', () => {
  it('planned, fetching and fetched slices left past the deadline fail, naming what happened; the next run re-reads their windows', async () => {
    const core = h.t.names.core;
    const now = h.clock.now();
    const at = (hoursAgo: number) => new Date(now.getTime() - hoursAgo * 3_600_000);
    const ledger = new Ledger(h.t.db, h.t.names);
    const id = (n: number) => `00000000-0000-4000-8000-0000000000${String(n).padStart(2, '0')}`;
    const slice = (n: number, hoursAgo: number) => ({
      sliceId: id(n),
      platform: 'everflow',
      stream: 'conversions' as const,
      from: at(hoursAgo + 1).toISOString(),
      to: at(hoursAgo).toISOString(),
      backfillId: null,
    });
    // 1: planned 8 h ago, never started; 2: fetching for 7 h; 3: fetched 7 h ago, 1 of 2 messages loaded; 4: fetching for 1 h (alive).
    await ledger.plan([slice(1, 8), slice(2, 7), slice(3, 7), slice(4, 1)], at(8));
    await ledger.startFetch(id(2), at(7));
    await ledger.startFetch(id(3), at(7));
    await ledger.finishFetch(id(3), 1, { pages: 1, records: 10, messages: 2 }, at(7));
    await ledger.startFetch(id(4), at(1));
    await scheduleFetch('everflow', h.runner().deps);
    const rows = await h.t.db.query<{
      slice_id: string;
      status: string;
      error: string | null;
      error_kind: string | null;
    }>(
      `SELECT slice_id, status, error, error_kind FROM ${core}.fetch_slices WHERE slice_id IN (:ids) ORDER BY slice_id`,
      { ids: [id(1), id(2), id(3), id(4)] },
    );
    const by = Object.fromEntries(rows.map((r) => [r.slice_id, r]));
    // 1–3 failed with their reasons; the scheduled run's window covers them, so they are superseded at once.
    expect(by[id(1)].error).toMatch(/^stuck: planned at .* and never fetched/);
    expect(by[id(2)].error).toMatch(/^stuck: fetch started at .* never ended \(the function was killed/);
    expect(by[id(3)].error).toMatch(/^stuck: fetched at .*, 0 of 2 normalize messages loaded/);
    for (const n of [1, 2, 3]) {
      expect(by[id(n)].error_kind).toBe('stuck');
      expect(['failed', 'superseded']).toContain(by[id(n)].status);
    }
    expect(by[id(4)]).toMatchObject({ status: 'fetching', error: null });
  });
});

describe('a schedule far behind reads only the last maxBehindDays and leaves the gap, named, to a backfill', () => {
  it('records the gap, moves the watermark on, stale-source says which backfill to run; the backfill closes it', async () => {
    const core = h.t.names.core;
    const now = h.clock.now();
    // The watermark stood 10 days back (the schedule was stopped); maxBehindDays is 7 by default.
    const stoppedAt = new Date(now.getTime() - 10 * DAY);
    await h.t.db.execute(`DELETE FROM ${core}.fetch_slices WHERE platform = 'everflow'`);
    for (const stream of ['conversions', 'clicks'])
      await h.t.db.execute(
        `INSERT INTO ${core}.watermarks (platform, stream, watermark, updated_at) VALUES ('everflow', :s, :w, :w)
         ON DUPLICATE KEY UPDATE watermark = :w, updated_at = :w`,
        { s: stream, w: stoppedAt },
      );
    const runner = h.runner();
    await runner.scheduleRun(['everflow']);
    const gaps = await h.t.db.query<{ stream: string; window_from: string; window_to: string; error: string }>(
      `SELECT stream, DATE_FORMAT(window_from, '%Y-%m-%dT%H:%i:%s') AS window_from, DATE_FORMAT(window_to, '%Y-%m-%dT%H:%i:%s') AS window_to, error
         FROM ${core}.fetch_slices WHERE platform = 'everflow' AND error_kind = 'gap' AND status = 'failed' ORDER BY stream`,
    );
    const bound = new Date(now.getTime() - 7 * DAY).toISOString().slice(0, 19);
    expect(gaps.map((g) => [g.stream, g.window_from, g.window_to])).toEqual([
      ['clicks', stoppedAt.toISOString().slice(0, 19), bound],
      ['conversions', stoppedAt.toISOString().slice(0, 19), bound],
    ]);
    expect(gaps[0].error).toContain(`dualtrack backfill --platform everflow --from ${stoppedAt.toISOString()}`);
    // Nothing older than the bound was planned, and the watermark moved on to now (the gap does not hold it).
    const [earliest] = await h.t.db.query<{ f: string }>(
      `SELECT DATE_FORMAT(MIN(window_from), '%Y-%m-%dT%H:%i:%s') AS f FROM ${core}.fetch_slices
        WHERE platform = 'everflow' AND stream IN ('conversions', 'clicks') AND COALESCE(error_kind, '') <> 'gap'`,
    );
    expect(earliest.f).toBe(bound);
    expect((await new Ledger(h.t.db, h.t.names).watermark('everflow', 'clicks'))?.getTime()).toBe(now.getTime());

    const stale = async () =>
      (await evaluateRules({ db: h.t.db, names: h.t.names, config: h.config, at: now, only: ['stale-source'] })).filter(
        (f) => f.subject.platforms?.includes('everflow'),
      );
    const [finding] = await stale();
    expect(finding.metrics).toMatchObject({ reason: 'gap', streams: 'clicks,conversions' });
    expect(finding.summary).toContain(
      `dualtrack backfill --platform everflow --from ${stoppedAt.toISOString()} --to ${new Date(now.getTime() - 7 * DAY).toISOString()}`,
    );

    // The backfill it names loads the gap; the next scheduled run closes it and stale-source is quiet.
    await h.runner().ingest({
      platforms: ['everflow'],
      streams: ['conversions', 'clicks'],
      from: stoppedAt.toISOString(),
      to: new Date(now.getTime() - 7 * DAY).toISOString(),
    });
    await h.runner().scheduleRun(['everflow']);
    const [open] = await h.t.db.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM ${core}.fetch_slices WHERE platform = 'everflow' AND error_kind = 'gap' AND status = 'failed'`,
    );
    expect(open.n).toBe(0);
    expect(await stale()).toEqual([]);
  });
});
