import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../cli/demo/run-demo.js';
import { createMysqlDb } from '#shared/db/mysql.js';
import { DATABASE_URL } from '../helpers/db.js';

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

const prefix = `tdemo${Math.random().toString(36).slice(2, 7)}`;
afterAll(async () => {
  const db = createMysqlDb(DATABASE_URL);
  for (const d of ['core', 'reporting', 'hitpath', 'cake', 'everflow'])
    await db.execute(`DROP DATABASE IF EXISTS ${prefix}_${d}`);
  await db.close();
});

describe('npm run demo (shortened: the small test network)', () => {
  it('runs end to end: rows per platform, alerts opening with money at risk, migration progress, and leaves the views queryable', {
    timeout: 600_000,
  }, async () => {
    const out = sink();
    const err = sink();
    const dashboardOut = join(mkdtempSync(join(tmpdir(), 'dt-demo-')), 'dashboard.html');
    const r = await runDemo({ databaseUrl: DATABASE_URL, prefix, out, err, size: 'small', dashboardOut });
    const text = out.text;
    expect(r.exitCode).toBe(0);
    // It ends with the daily digest and the dashboard, whose path it prints.
    expect(text).toContain('the daily digest, as email and Slack receive it:');
    expect(r.dashboardFile).toBe(dashboardOut);
    expect(text).toContain(`The migration dashboard: ${dashboardOut}`);
    expect(readFileSync(dashboardOut, 'utf8')).toMatch(/<svg[\s\S]*id="dashboard-data"/);
    expect(text).toMatch(/^dualtrack demo — a network moving from hitpath and cake to everflow/);
    expect(text).toMatch(/week 1: fetched [\d,]+ rows \(cake [\d,]+ · everflow [\d,]+ · hitpath [\d,]+\)/);
    // The injected incidents show up as they open (money at risk where it applies).
    for (const rule of [
      'cross-platform-duplicate',
      'dual-running',
      'platform-duplicate',
      'conversion-rate-discrepancy',
      'migration-lagging-partner',
      'legacy-traffic-after-cutover',
      'tracking-outage',
    ]) {
      expect(text, rule).toMatch(new RegExp(`OPENED +\\[(critical|warning|info)\\] ${rule}: `));
    }
    expect(text).toMatch(/OPENED +\[critical\] cross-platform-duplicate: .* money at risk \d+\.\d{2} USD/);
    expect(text).toMatch(/RESOLVED +\[critical\] tracking-outage: /);
    expect(text).toMatch(
      /migration progress at \d{4}-\d{2}-\d{2}:\nwave +affiliates +legacy-only +dual +migrated +retired +overdue/,
    );
    expect(text).toMatch(
      /[\d,]+ rows loaded over \d+ simulated days in \d+ s \(\d+ rule evaluations, \d+ ms each\); \d+ alerts opened, \d+ resolved; money at risk \d+\.\d{2} USD\./,
    );
    expect(r.rowsLoaded).toBeGreaterThan(100_000);
    expect(Number(r.moneyAtRisk)).toBeGreaterThan(0);
    // The databases stay in place for BI queries (the README's example).
    const db = createMysqlDb(DATABASE_URL);
    try {
      const rows = await db.query<{ platform: string; n: number }>(
        `SELECT platform, COUNT(*) AS n FROM ${prefix}_reporting.conversions GROUP BY platform ORDER BY platform`,
      );
      expect(rows.map((x) => x.platform)).toEqual(['cake', 'everflow', 'hitpath']);
    } finally {
      await db.close();
    }
  });

  it('with no database reachable, says how to get one in one line and exits non-zero', async () => {
    const out = sink();
    const err = sink();
    const r = await runDemo({ databaseUrl: 'mysql://root:secret@127.0.0.1:1', prefix, out, err, size: 'small' });
    expect(r.exitCode).toBe(1);
    expect(out.text).toBe('');
    expect(err.text).toMatch(
      /^dualtrack demo: no database at mysql:\/\/root:\*\*\*@127\.0\.0\.1:1 \(ECONNREFUSED\)\. Start MySQL 8 or MariaDB .* or set DATABASE_URL=mysql:\/\/user:pass@host:3306\n$/,
    );
    expect(err.text.split('\n').filter(Boolean)).toHaveLength(1);
  });
});
