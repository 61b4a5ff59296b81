import { PassThrough } from 'node:stream';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { closest, editDistance } from '../../cli/args.js';
import { testPrefix } from '../rules/helpers.js';

/** Runs the CLI in-process and collects its output. */
async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += String(c)));
  stderr.on('data', (c) => (err += String(c)));
  const code = await main(argv, { stdout, stderr, env: { DATABASE_URL: process.env.DATABASE_URL, ...env } });
  return { code, out, err };
}

describe('dualtrack CLI front door', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      expect(r).toMatchObject({ code: 0, out: `dualtrack ${version}\n` });
    }
  });

  it("help <command> prints that command's usage; an unknown one is named, with the nearest command", async () => {
    const r = await cli(['help', 'ingest']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: dualtrack ingest --from T --to T/);
    expect(r.out).toContain('--json');
    const bad = await cli(['help', 'ingset']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown command "ingset" (did you mean "ingest"?)');
    const cmd = await cli(['evalute']);
    expect(cmd.err).toContain('(did you mean "evaluate"?)');
    const far = await cli(['frobnicate']);
    expect(far.err).toContain('unknown command "frobnicate"\n');
  });

  it('suggests flags by edit distance: --form → --from, --platfrom → --platform; nothing for a far-off word', async () => {
    expect(editDistance('form', 'from')).toBe(1);
    expect(editDistance('platfrom', 'platform')).toBe(1);
    expect(closest('form', ['from', 'to', 'platform', 'stream', 'fresh', 'json'])).toBe('from');
    expect(closest('xyz', ['from', 'to'])).toBeUndefined();
    expect(closest('to', ['from', 'to'])).toBe('to');
    const r = await cli(['ingest', '--form', '2026-10-01T00:00:00Z', '--to', '2026-10-02T00:00:00Z']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown flag --form (did you mean --from?)');
  });

  it('a missing config file says how to point at one', async () => {
    const r = await cli(['db', 'migrate', '--config', '/nonexistent/dualtrack.json']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('/nonexistent/dualtrack.json');
    expect(r.err).toContain('no such file');
    expect(r.err).toContain('--config FILE or DUALTRACK_CONFIG=FILE');
    expect(r.err).toContain('dualtrack.config.example.json');
    expect(r.err).not.toContain('ENOENT');
    const def = await cli(['db', 'migrate'], { DUALTRACK_CONFIG: '/nonexistent/env.json' });
    expect(def.err).toContain('(named by DUALTRACK_CONFIG)');
  });

  it('db migrate --json prints what it did, then that it is up to date', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createMysqlDb } = await import('#shared/db/mysql.js');
    const { dbNames } = await import('#shared/db/names.js');
    const { dropInstall } = await import('#shared/db/migrate.js');
    const prefix = testPrefix();
    const dir = mkdtempSync(join(tmpdir(), 'dt-cli-'));
    const file = join(dir, 'config.json');
    const example = JSON.parse(readFileSync(new URL('../../dualtrack.config.example.json', import.meta.url), 'utf8'));
    writeFileSync(file, JSON.stringify({ ...example, databases: { ...example.databases, prefix } }));
    try {
      const first = await cli(['db', 'migrate', '--json', '--config', file]);
      expect(first.code, first.err).toBe(0);
      const a = JSON.parse(first.out);
      expect(a.up_to_date).toBe(false);
      expect(a.created).toContain(`${prefix}_core`);
      expect(a.applied.length).toBeGreaterThan(0);
      expect(a.applied[0]).toEqual({ file: expect.any(String), database: expect.any(String) });
      const second = JSON.parse((await cli(['db', 'migrate', '--json', '--config', file])).out);
      expect(second).toMatchObject({ created: [], applied: [], up_to_date: true });
      expect(second.views).toBe(a.views);
    } finally {
      const db = createMysqlDb(process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306');
      const config = JSON.parse(readFileSync(file, 'utf8'));
      await dropInstall(db, dbNames(prefix), Object.keys(config.platforms));
      await db.close();
    }
  });
});
