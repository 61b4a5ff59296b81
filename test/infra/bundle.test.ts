import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DualtrackStack } from '../../infra/dualtrack-stack.js';
import { createMysqlDb } from '#shared/db/mysql.js';
import {
  createDataApiOnMariaDb,
  FAKE_RESOURCE_ARN,
  FAKE_SECRET_ARN,
  type DataApiOnMariaDb,
} from '../helpers/data-api-on-mariadb.js';
import { removeTestOutdirs, testApp, testConfig } from './fixtures/apps.js';

/**
 * The one test that bundles for real (local esbuild, as `cdk synth` does) and then runs the
 * artifact Lambda would run: the ESM bundle with the AWS SDK inside, in a plain `node` process,
 * its Data API client pointed (AWS_ENDPOINT_URL_RDS_DATA) at an HTTP stand-in that forwards each
 * call to the Data API fake on MariaDB. It proves the bundle loads (middy 6 ESM + CJS deps behind
 * the createRequire banner), finds the sql/ tree copied next to it, and migrates.
 */

const run = promisify(execFile);
const DATABASE_URL = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306';
const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
const prefix = `t${Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('')}`;

let assetDir: string;
let fake: DataApiOnMariaDb;
let server: Server;
let endpoint: string;
const inspect = createMysqlDb(DATABASE_URL);

const COMMANDS: Record<string, new (input: never) => never> = {
  '/Execute': ExecuteStatementCommand as never,
  '/BatchExecute': BatchExecuteStatementCommand as never,
  '/BeginTransaction': BeginTransactionCommand as never,
  '/CommitTransaction': CommitTransactionCommand as never,
  '/RollbackTransaction': RollbackTransactionCommand as never,
};

type FnResource = { Properties: { Code: { S3Key: string }; Environment?: { Variables?: Record<string, unknown> } } };
/** Every dualtrack function of the bundled stack: logical id, service name, asset directory. */
let bundled: { id: string; service: string; dir: string }[] = [];
let scheduleInput: string;

beforeAll(async () => {
  const app = testApp({ bundle: true });
  const stack = new DualtrackStack(app, 'Bundled', { config: testConfig() });
  app.synth();
  const template = Template.fromStack(stack);
  const assetOf = (f: FnResource) => join(app.outdir, `asset.${f.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
  bundled = Object.entries(template.findResources('AWS::Lambda::Function') as Record<string, FnResource>)
    .filter(([, f]) => typeof f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'string')
    .map(([id, f]) => ({
      id,
      service: f.Properties.Environment!.Variables!.POWERTOOLS_SERVICE_NAME as string,
      dir: assetOf(f),
    }));
  assetDir = bundled.find((b) => b.service === 'dualtrack-migrate-schema')!.dir;
  const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')) as {
    Properties: { Target: { Input: string } };
  }[];
  scheduleInput = schedules.map((s) => s.Properties.Target.Input).find((i) => i.includes('"platform"'))!;

  fake = createDataApiOnMariaDb({ url: DATABASE_URL });
  // A minimal RDS Data API endpoint (restJson1: POST /Execute etc., JSON in and out).
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      const Cmd = COMMANDS[req.url ?? ''];
      try {
        if (!Cmd) throw Object.assign(new Error(`no such operation ${req.url}`), { name: 'BadRequestException' });
        const { $metadata: _m, ...out } = (await fake.client.send(
          new Cmd(JSON.parse(body) as never),
        )) as unknown as Record<string, unknown>;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      } catch (e) {
        const err = e as Error;
        res
          .writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': err.name })
          .end(JSON.stringify({ message: err.message }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Bundles ten functions with esbuild (about 3 s each on a busy 2-core machine).
}, 300_000);

afterAll(async () => {
  const dbs = await inspect.query<{ name: string }>(
    'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :like',
    { like: `${prefix}\\_%` },
  );
  for (const { name } of dbs) await inspect.execute(`DROP DATABASE IF EXISTS ${name}`);
  await inspect.close();
  await fake?.close();
  await new Promise((resolve) => server?.close(resolve));
  removeTestOutdirs();
});

/** Runs the bundled handler once in a fresh `node` process, as Lambda would (ESM, source maps). */
async function invokeBundle(
  event: unknown,
  env: Record<string, string>,
): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const script = `
    const { handler } = await import(${JSON.stringify(pathToFileURL(join(assetDir, 'index.mjs')).href)});
    const context = { functionName: 'migrate-schema', awsRequestId: 'r-1', getRemainingTimeInMillis: () => 600000 };
    try { process.stdout.write('\\n@@' + JSON.stringify({ ok: true, value: await handler(${JSON.stringify(event)}, context) })); }
    catch (e) { process.stdout.write('\\n@@' + JSON.stringify({ ok: false, error: e.name + ': ' + e.message })); }`;
  const { stdout } = await run(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
    cwd: assetDir,
    env: {
      PATH: process.env.PATH ?? '',
      POWERTOOLS_SERVICE_NAME: 'dualtrack-migrate-schema',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      DUALTRACK_SQL_DIR: join(assetDir, 'sql'),
      ...env,
    },
  });
  return JSON.parse(stdout.slice(stdout.lastIndexOf('\n@@') + 3));
}

const event = (RequestType: 'Create' | 'Delete', platforms: string[]) => ({
  RequestType,
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:framework',
  ResponseURL: 'https://example.invalid/',
  StackId: 'stack',
  RequestId: 'req',
  LogicalResourceId: 'DatabaseSchema',
  ResourceType: 'Custom::DualtrackSchema',
  ...(RequestType === 'Delete' ? { PhysicalResourceId: `dualtrack-schema-${prefix}` } : {}),
  ResourceProperties: { ServiceToken: 'x', Prefix: prefix, Platforms: platforms, Fingerprint: 'f' },
});

describe('migrate-schema bundle (esbuild, ESM, SDK bundled)', () => {
  it('is one minified ESM file with a source map and the sql/ tree, the AWS SDK inside, under 1 MiB', () => {
    const files = readdirSync(assetDir).sort();
    expect(files).toEqual(['index.mjs', 'index.mjs.map', 'sql']);
    expect(readdirSync(join(assetDir, 'sql', 'core'))).toEqual(readdirSync(join(process.cwd(), 'sql', 'core')));
    expect(readdirSync(join(assetDir, 'sql', 'platform'))).toEqual(readdirSync(join(process.cwd(), 'sql', 'platform')));
    const code = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
    // Nothing left external: no bare import of an SDK package at run time.
    expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
    expect(code).not.toMatch(/from\s*["']@middy\//);
    expect(code).toContain('RDSDataClient');
    const size = statSync(join(assetDir, 'index.mjs')).size;
    expect(size).toBeLessThan(1024 * 1024);
  });

  it('loads and answers Delete without touching the database', async () => {
    const res = await invokeBundle(event('Delete', ['everflow']), {});
    expect(res).toEqual({ ok: true, value: { PhysicalResourceId: `dualtrack-schema-${prefix}` } });
  });

  it('names the missing environment after reading the bundled sql/ (not a file-not-found)', async () => {
    const res = await invokeBundle(event('Create', ['everflow']), {});
    expect(res).toEqual({
      ok: false,
      error:
        'MissingEnvironmentError: environment variable(s) DB_CLUSTER_ARN, DB_SECRET_ARN not set (DualtrackFunction.bindDatabase sets them)',
    });
  });

  it('migrates every database through the Data API protocol', async () => {
    const res = await invokeBundle(event('Create', ['everflow', 'hitpath']), {
      DB_CLUSTER_ARN: FAKE_RESOURCE_ARN,
      DB_SECRET_ARN: FAKE_SECRET_ARN,
      DT_DB_PREFIX: prefix,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'fake',
      AWS_SECRET_ACCESS_KEY: 'fake',
      AWS_ENDPOINT_URL_RDS_DATA: endpoint,
    });
    expect(res).toMatchObject({
      ok: true,
      value: { PhysicalResourceId: `dualtrack-schema-${prefix}`, Data: { Created: 4 } },
    });
    const tables = await inspect.query<{ t: string }>(
      `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE :like`,
      { like: `${prefix}\\_%` },
    );
    expect(tables.map((r) => r.t)).toEqual(
      expect.arrayContaining([
        `${prefix}_core.schema_migrations`,
        `${prefix}_everflow.conversions`,
        `${prefix}_hitpath.clicks`,
      ]),
    );
    expect(existsSync(join(assetDir, 'index.mjs.map'))).toBe(true);
  });
});

/**
 * Every entry under functions/ bundles (esbuild, ESM, SDK inside) and loads in a plain `node`
 * process as Lambda would load it: a CJS dependency that `require()`s a built-in, a top-level
 * await or a missing file shows up here, not on the first invocation in AWS. Sizes are printed.
 */
describe('every function bundle', () => {
  it('covers every entry in functions/ (fetch-worker once per platform)', () => {
    const entries = readdirSync(join(process.cwd(), 'functions'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `dualtrack-${f.replace(/\.ts$/, '')}`)
      .sort();
    expect([...new Set(bundled.map((b) => b.service))].sort()).toEqual(entries);
    expect(bundled.filter((b) => b.service === 'dualtrack-fetch-worker')).toHaveLength(2);
  });

  // The digest also renders the dashboard's charts (ECharts + zrender, ~560 KiB minified) and
  // carries the S3 client: its budget is 2 MiB; every other function's is 1 MiB.
  const budget = (service: string) => (service === 'dualtrack-daily-digest' ? 2 : 1) * 1024 * 1024;

  it('is one minified ESM file with its source map, the AWS SDK and middy inside, within its size budget', () => {
    const sizes: Record<string, string> = {};
    for (const b of bundled) {
      const files = readdirSync(b.dir).filter((f) => f !== 'sql');
      expect(files.sort(), b.id).toEqual(['index.mjs', 'index.mjs.map']);
      const code = readFileSync(join(b.dir, 'index.mjs'), 'utf8');
      expect(code, b.id).not.toMatch(/from\s*["'](@aws-sdk|@middy|@aws-lambda-powertools|zod)\//);
      const size = statSync(join(b.dir, 'index.mjs')).size;
      expect(size, b.id).toBeLessThan(budget(b.service));
      sizes[b.id] = `${(size / 1024).toFixed(0)} KiB`;
    }
    console.info('function bundle sizes (index.mjs):', sizes);
  });

  it('loads every bundle in node and exports a handler function', async () => {
    const urls = bundled.map((b) => pathToFileURL(join(b.dir, 'index.mjs')).href);
    const script = `
      const out = [];
      for (const u of ${JSON.stringify(urls)}) {
        try { const m = await import(u); out.push(typeof m.handler); } catch (e) { out.push(u + ' error: ' + e.message); }
      }
      process.stdout.write('\\n@@' + JSON.stringify(out));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'ERROR' },
    });
    const loaded = JSON.parse(stdout.slice(stdout.lastIndexOf('\n@@') + 3)) as string[];
    expect(loaded).toEqual(urls.map(() => 'function'));
  });

  it("the schedule-fetch bundle accepts its schedule's input (it stops at the missing environment, not the event)", async () => {
    const dir = bundled.find((b) => b.service === 'dualtrack-schedule-fetch')!.dir;
    const event = JSON.parse(scheduleInput.replace('<aws.scheduler.scheduled-time>', '2026-10-12T10:00:00Z'));
    const script = `
      const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)});
      const context = { functionName: 'schedule-fetch', awsRequestId: 'r-1', getRemainingTimeInMillis: () => 60000 };
      try { await handler(${JSON.stringify(event)}, context); process.stdout.write('\\n@@ok'); }
      catch (e) { process.stdout.write('\\n@@' + e.name + ': ' + e.message); }`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      env: {
        PATH: process.env.PATH ?? '',
        AWS_REGION: 'us-east-1',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        POWERTOOLS_METRICS_NAMESPACE: 'dualtrack',
        POWERTOOLS_SERVICE_NAME: 'dualtrack-schedule-fetch',
      },
    });
    expect(stdout.slice(stdout.lastIndexOf('\n@@') + 3)).toMatch(
      /^MissingEnvironmentError: environment variable\(s\) NORMALIZE_QUEUE_URL, FETCH_QUEUE_URLS_JSON, PLATFORM_SECRET_ARNS_JSON not set/,
    );
  });
});
