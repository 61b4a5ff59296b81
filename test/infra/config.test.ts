import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLE_CONFIG_PATH, loadAppConfig } from '../../infra/config.js';
import { ConfigError } from '#shared/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'dt-appcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, prefix: string) => {
  const config = {
    databases: { prefix },
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
  };
  writeFileSync(join(dir, name), JSON.stringify(config));
};

describe('loadAppConfig (which config the CDK app synthesizes from)', () => {
  it('falls back to the committed example only when nothing is named and ./dualtrack.config.json is absent', () => {
    const res = loadAppConfig(undefined, {}, dir);
    expect(res).toMatchObject({ path: EXAMPLE_CONFIG_PATH, isExample: true });
    expect(Object.keys(res.config.platforms)).toEqual(['everflow', 'hitpath']);
  });

  it('prefers ./dualtrack.config.json, then DUALTRACK_CONFIG, then context `config`', () => {
    write('dualtrack.config.json', 'local');
    write('env.json', 'fromenv');
    write('ctx.json', 'fromctx');
    expect(loadAppConfig(undefined, {}, dir).config.databases.prefix).toBe('local');
    expect(loadAppConfig(undefined, { DUALTRACK_CONFIG: 'env.json' }, dir).config.databases.prefix).toBe('fromenv');
    expect(loadAppConfig('ctx.json', { DUALTRACK_CONFIG: 'env.json' }, dir)).toMatchObject({
      path: 'ctx.json',
      isExample: false,
      config: { databases: { prefix: 'fromctx' } },
    });
  });

  it('never falls back when a file was named: a missing one is a ConfigError naming it', () => {
    expect(() => loadAppConfig('nope.json', {}, dir)).toThrow(ConfigError);
    expect(() => loadAppConfig(undefined, { DUALTRACK_CONFIG: 'nope.json' }, dir)).toThrow(/nope\.json/);
  });
});
