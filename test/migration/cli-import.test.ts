import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { freshDatabase, DATABASE_URL, type TestDatabase } from '../helpers/db.js';

let t: TestDatabase;
let dir: string;
let config: string;
beforeAll(async () => {
  t = await freshDatabase(['everflow', 'hitpath']);
  dir = mkdtempSync(join(tmpdir(), 'dt-import-'));
  config = join(dir, 'dualtrack.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      databases: { prefix: t.names.prefix },
      migration: { legacy: ['hitpath'], target: 'everflow', startDate: '2026-09-01', cutoverDate: '2026-10-15' },
      platforms: {
        everflow: { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'EVERFLOW_API_KEY' },
        hitpath: {
          kind: 'hitpath',
          baseUrl: 'https://reports.example.net/api.php',
          apiKeyEnv: 'HITPATH_API_KEY',
          timezone: 'America/New_York',
        },
      },
    }),
  );
});
afterAll(async () => t.drop());

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main([...argv, '--config', config], {
    stdout: new Writable({
      write: (c, _e, cb) => {
        out += String(c);
        cb();
      },
    }),
    stderr: new Writable({
      write: (c, _e, cb) => {
        err += String(c);
        cb();
      },
    }),
    env: { DATABASE_URL },
  });
  return { code, out, err };
}
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const count = async (table: string) =>
  (await t.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t.names.core}.${table}`))[0].n;

describe('dualtrack mappings import / fx import', () => {
  it('loads a good file, and re-importing it changes nothing', async () => {
    const ok = file(
      'ok.csv',
      'entity,platform,platform_id,canonical_key\naffiliate,hitpath,1001,aff-1\naffiliate,everflow,57,aff-1\n',
    );
    expect(await cli('mappings', 'import', ok)).toEqual({
      code: 0,
      out: `${ok}: 2 rows: 2 added, 0 changed, 0 unchanged\n`,
      err: '',
    });
    expect(await cli('mappings', 'import', ok)).toMatchObject({
      code: 0,
      out: `${ok}: 2 rows: 0 added, 0 changed, 2 unchanged\n`,
    });
    const fx = file('fx.csv', 'currency,month,rate\nEUR,2026-10,1.08\n');
    expect(await cli('fx', 'import', fx)).toMatchObject({
      code: 0,
      out: `${fx}: 1 rates: 1 added, 0 changed, 0 unchanged\n`,
    });
  });

  it('a bad line is named with its number and nothing is loaded; a missing file and a missing argument are clear errors', async () => {
    const before = await count('entity_map');
    const bad = file(
      'bad.csv',
      'entity,platform,platform_id,canonical_key\naffiliate,hitpath,2002,aff-2\nwidget,impact,58,aff-2\n',
    );
    const r = await cli('mappings', 'import', bad);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/line 3: unknown entity "widget" .*unknown platform "impact"/);
    expect(await count('entity_map')).toBe(before);
    expect(await cli('mappings', 'import', join(dir, 'nope.csv'))).toMatchObject({
      code: 1,
      err: `dualtrack mappings: cannot read ${join(dir, 'nope.csv')}: ENOENT\n`,
    });
    expect((await cli('fx', 'import')).code).toBe(2);
    expect((await cli('fx', 'import')).err).toMatch(/^dualtrack fx: import needs FILE.csv/);
  });
});
