import { describe, expect, it } from 'vitest';
import { planWindow, scheduledWindow, windows } from '#shared/pipeline/plan.js';
import type { Connector } from '#shared/platforms/types.js';
import { parseConfig } from '#shared/config/load.js';

const connector = {
  kind: 'everflow',
  streams: ['conversions', 'clicks', 'affiliates'],
  horizonDays: 45,
  defaultRateLimit: { requests: 20, perSeconds: 1 },
  sliceHours: (s: string) => (s === 'clicks' ? 1 : 24),
  sliceRows: () => null,
} as unknown as Connector;
const now = new Date('2026-10-20T00:00:00Z');
const req = {
  platform: 'everflow',
  connector,
  from: new Date('2026-10-10T00:00:00Z'),
  to: new Date('2026-10-12T06:00:00Z'),
  now,
  runKey: 'k',
  backfillId: 'b',
};

describe('slice planning', () => {
  it('cuts windows at UTC multiples of the slice length, the last one partial', () => {
    expect(
      windows(new Date('2026-10-10T05:30:00Z'), new Date('2026-10-10T13:00:00Z'), 6).map(([a, b]) => [
        a.toISOString().slice(11, 16),
        b.toISOString().slice(11, 16),
      ]),
    ).toEqual([
      ['05:30', '06:00'],
      ['06:00', '12:00'],
      ['12:00', '13:00'],
    ]);
  });

  it("uses the connector's slice length unless the config overrides it per stream; entity lists are one slice", () => {
    const count = (slices: ReturnType<typeof planWindow>) =>
      Object.fromEntries(
        ['conversions', 'clicks', 'affiliates'].map((s) => [s, slices.filter((x) => x.stream === s).length]),
      );
    expect(count(planWindow({ ...req, streams: ['conversions', 'clicks', 'affiliates'] }))).toEqual({
      conversions: 3,
      clicks: 54,
      affiliates: 1,
    });
    expect(
      count(planWindow({ ...req, streams: ['conversions', 'clicks', 'affiliates'], sliceHours: { clicks: 24 } })),
    ).toEqual({ conversions: 3, clicks: 3, affiliates: 1 });
  });

  it('a slice is as long as the platform allows, shortened when the recent density predicts too many rows', () => {
    const big = {
      ...connector,
      sliceHours: (s: string) => (s === 'clicks' ? 14 * 24 : 24),
      sliceRows: (s: string) => (s === 'clicks' ? 100_000 : null),
    } as unknown as Connector;
    const window = {
      ...req,
      connector: big,
      from: new Date('2026-09-20T10:00:00Z'),
      to: new Date('2026-10-19T10:00:00Z'),
    };
    const spans = (slices: ReturnType<typeof planWindow>) =>
      slices.map((x) => (Date.parse(x.to) - Date.parse(x.from)) / 3_600_000);
    // No history: the longest slice, cut on whole UTC days (partial first and last).
    const cold = planWindow({ ...window, streams: ['clicks'] });
    expect(spans(cold)).toEqual([326, 336, 34]);
    // 2,000 clicks an hour lately: 100,000 rows is at most 50 hours a slice (cut on whole days: 48).
    const busy = planWindow({
      ...window,
      streams: ['clicks', 'conversions'],
      rowsPerHour: { clicks: 2000, conversions: 900 },
    });
    const clicks = busy.filter((x) => x.stream === 'clicks');
    expect(Math.max(...spans(clicks))).toBe(48);
    expect(spans(clicks).reduce((a, b) => a + b, 0)).toBe(29 * 24);
    // No row bound (conversions here): density does not shorten the slice.
    expect(Math.max(...spans(busy.filter((x) => x.stream === 'conversions')))).toBe(24);
    // A window that fits is one slice, whatever its alignment.
    expect(windows(new Date('2026-10-01T05:00:00Z'), new Date('2026-10-20T07:00:00Z'), 45 * 24)).toHaveLength(1);
  });

  it('ids are derived from the run key (re-planning resumes), and differ between windows', () => {
    const a = planWindow({ ...req, streams: ['clicks'] });
    const b = planWindow({ ...req, streams: ['clicks'] });
    expect(a.map((s) => s.sliceId)).toEqual(b.map((s) => s.sliceId));
    expect(new Set(a.map((s) => s.sliceId)).size).toBe(a.length);
  });

  it('a scheduled window starts at the watermark minus the lookback, clamped to the horizon', () => {
    const config = parseConfig({
      migration: { legacy: ['hitpath'], target: 'everflow', startDate: '2026-09-01', cutoverDate: '2026-10-15' },
      platforms: {
        // maxBehindDays beyond the connector's 45-day horizon: the horizon clamps first.
        everflow: {
          kind: 'everflow',
          baseUrl: 'https://api.eflow.team',
          apiKeyEnv: 'K',
          lookbackHours: 72,
          maxBehindDays: 60,
        },
        hitpath: {
          kind: 'hitpath',
          baseUrl: 'https://x.example/api.php',
          apiKeyEnv: 'H',
          timezone: 'America/New_York',
        },
      },
    });
    const w = scheduledWindow(config.platforms.everflow, connector, new Date('2026-10-19T12:00:00Z'), now);
    expect(w).toEqual({ from: new Date('2026-10-16T12:00:00Z'), to: now, clamped: false });
    const old = scheduledWindow(config.platforms.everflow, connector, new Date('2026-08-01T00:00:00Z'), now);
    expect(old.clamped).toBe(true);
    expect(old.from.toISOString()).toBe('2026-09-05T01:00:00.000Z');
  });

  it('a scheduled window reads at most maxBehindDays back; an older watermark leaves the gap to a backfill', () => {
    const config = parseConfig({
      migration: { legacy: ['hitpath'], target: 'everflow', startDate: '2026-09-01', cutoverDate: '2026-10-15' },
      platforms: {
        everflow: { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'K' },
        hitpath: {
          kind: 'hitpath',
          baseUrl: 'https://x.example/api.php',
          apiKeyEnv: 'H',
          timezone: 'UTC',
          maxBehindDays: 3,
        },
      },
    });
    const behind = scheduledWindow(config.platforms.everflow, connector, new Date('2026-10-09T06:00:00Z'), now);
    expect(behind).toEqual({
      from: new Date('2026-10-13T00:00:00Z'),
      to: now,
      clamped: false,
      gap: { from: new Date('2026-10-09T06:00:00Z'), to: new Date('2026-10-13T00:00:00Z') },
    });
    // The lookback alone reaching past the bound is cut, but leaves no gap (the data is loaded).
    const near = scheduledWindow(config.platforms.hitpath, connector, new Date('2026-10-17T06:00:00Z'), now);
    expect(near).toEqual({ from: new Date('2026-10-17T00:00:00Z'), to: now, clamped: false });
    expect(() =>
      parseConfig({
        migration: { legacy: ['hitpath'], target: 'everflow', startDate: '2026-09-01', cutoverDate: '2026-10-15' },
        platforms: {
          everflow: { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'K', maxBehindDays: 0 },
          hitpath: { kind: 'hitpath', baseUrl: 'https://x.example/api.php', apiKeyEnv: 'H', timezone: 'UTC' },
        },
      }),
    ).toThrow(/maxBehindDays/);
  });

  it('clicks re-read only a short lookback; conversions the configured one; per stream when given', () => {
    const base = { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'K' };
    const cfg = (lookbackHours?: unknown) =>
      parseConfig({
        migration: { legacy: ['hitpath'], target: 'everflow', startDate: '2026-09-01', cutoverDate: '2026-10-15' },
        platforms: {
          everflow: lookbackHours === undefined ? base : { ...base, lookbackHours },
          hitpath: { kind: 'hitpath', baseUrl: 'https://x.example/api.php', apiKeyEnv: 'H', timezone: 'UTC' },
        },
      }).platforms.everflow;
    const wm = new Date('2026-10-19T12:00:00Z');
    const from = (p: ReturnType<typeof cfg>, s: 'clicks' | 'conversions') =>
      scheduledWindow(p, connector, wm, now, s).from.toISOString();
    expect(from(cfg(), 'conversions')).toBe('2026-10-16T12:00:00.000Z');
    expect(from(cfg(), 'clicks')).toBe('2026-10-19T10:00:00.000Z');
    expect(from(cfg({ conversions: 24, clicks: 6 }), 'conversions')).toBe('2026-10-18T12:00:00.000Z');
    expect(from(cfg({ conversions: 24, clicks: 6 }), 'clicks')).toBe('2026-10-19T06:00:00.000Z');
    expect(from(cfg(1), 'clicks')).toBe('2026-10-19T11:00:00.000Z');
    expect(() => cfg({ convresions: 3 })).toThrow(/lookbackHours/);
  });
});
