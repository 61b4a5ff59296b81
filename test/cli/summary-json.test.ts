import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { type Harness, startHarness, truthCounts } from '../helpers/pipeline-harness.js';

/** `ingest --json` and `backfill --json` print one JSON object a script can read, with the same counts the table shows. */

let h: Harness;
let configFile = '';
beforeAll(async () => {
  h = await startHarness();
  configFile = join(mkdtempSync(join(tmpdir(), 'dt-json-')), 'config.json');
  writeFileSync(configFile, JSON.stringify(h.config));
});
afterAll(() => h.close());

async function cli(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (c) => {
    out += String(c);
  });
  stderr.resume();
  const env = { ...h.network.env, DATABASE_URL: process.env.DATABASE_URL };
  const code = await main([...argv, '--config', configFile], { stdout, stderr, env });
  return { code, out };
}

describe('--json summaries', () => {
  it('ingest --json: totals and per-platform counts of what loaded', async () => {
    const from = Date.parse(`${h.scenario.options.startDate}T00:00:00Z`) + 20 * 86_400_000;
    const to = from + 86_400_000;
    const args = ['ingest', '--platform', 'everflow', '--stream', 'clicks', '--stream', 'conversions'];
    const window = ['--from', new Date(from).toISOString(), '--to', new Date(to).toISOString()];
    const r = await cli([...args, ...window, '--json']);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.out);
    const truth = truthCounts(h.scenario, 'everflow', from, to);
    expect(j.totals.loaded).toBe(truth.clicks + truth.conversions);
    expect(j.totals).toMatchObject({ failed: 0, dlq: 0, quarantined: 0 });
    expect(Object.keys(j.by_platform)).toEqual(['everflow']);
    expect(j.by_platform.everflow.loaded).toBe(j.totals.loaded);
    expect(typeof j.seconds).toBe('number');
    // Re-running resumes: every slice is already done, no request is made, and the summary is the
    // window's (the same totals, nothing counted twice).
    const requests = h.network.simulators.everflow.server.requests.length;
    const again = JSON.parse((await cli([...args, ...window, '--json'])).out);
    expect(h.network.simulators.everflow.server.requests.length).toBe(requests);
    expect(again.totals).toEqual(j.totals);
  });

  it('backfill --json: the backfill id, its status and the same totals', async () => {
    const from = Date.parse(`${h.scenario.options.startDate}T00:00:00Z`) + 25 * 86_400_000;
    const to = from + 86_400_000;
    const r = await cli([
      'backfill',
      '--platform',
      'everflow',
      '--stream',
      'conversions',
      '--from',
      new Date(from).toISOString(),
      '--to',
      new Date(to).toISOString(),
      '--json',
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.backfill_ids).toHaveLength(1);
    expect(j.totals.loaded).toBe(truthCounts(h.scenario, 'everflow', from, to).conversions);
    expect(j.totals.failed).toBe(0);
  });
});
