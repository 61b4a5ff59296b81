import { randomBytes } from 'node:crypto';
import { ExecuteStatementCommand } from '@aws-sdk/client-rds-data';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rdsDataClient } from '../../functions/commons/clients.js';
import { createOnEvent, handler, SchemaResourcePropertiesError } from '../../functions/migrate-schema.js';
import { createDataApiDb } from '#shared/db/data-api.js';
import { createMysqlDb } from '#shared/db/mysql.js';
import { SQL_DIR } from '#shared/db/migrate.js';
import { silentLogger } from '#shared/util/logger.js';
import {
  createDataApiOnMariaDb,
  FAKE_RESOURCE_ARN,
  FAKE_SECRET_ARN,
  type DataApiOnMariaDb,
  routeToFake,
} from '../helpers/data-api-on-mariadb.js';

/**
 * The Custom::DualtrackSchema handler against MariaDB through the Data API adapter (a fake Data
 * API that runs on MariaDB stands in for the service): Create migrates every database, Update
 * adds a platform, Delete touches nothing, bad properties are named.
 */

const DATABASE_URL = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306';
const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
const prefix = `t${Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('')}`;
const inspect = createMysqlDb(DATABASE_URL);
let fake: DataApiOnMariaDb;

beforeAll(() => {
  fake = createDataApiOnMariaDb({ url: DATABASE_URL });
});

afterAll(async () => {
  const dbs = await inspect.query<{ name: string }>(
    'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :like',
    { like: `${prefix}\\_%` },
  );
  for (const { name } of dbs) await inspect.execute(`DROP DATABASE IF EXISTS ${name}`);
  for (const u of [`${prefix}_app`, `${prefix}_read`]) await inspect.execute(`DROP USER IF EXISTS '${u}'@'%'`);
  await inspect.close();
  await fake.close();
});

const base = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:framework',
  ResponseURL: 'https://example.invalid/response',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/Dualtrack/1',
  RequestId: 'req-1',
  LogicalResourceId: 'DatabaseSchema',
  ResourceType: 'Custom::DualtrackSchema',
};
const props = (platforms: string[], p = prefix) => ({
  ServiceToken: base.ServiceToken,
  Prefix: p,
  Platforms: platforms,
  Fingerprint: 'abc',
});

const schemas = async () =>
  (
    await inspect.query<{ name: string }>(
      'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :like ORDER BY name',
      { like: `${prefix}\\_%` },
    )
  ).map((r) => r.name);

const onEvent = (extra: Partial<Parameters<typeof createOnEvent>[0]> = {}) =>
  createOnEvent({
    openDb: () =>
      createDataApiDb({
        client: fake.client,
        resourceArn: FAKE_RESOURCE_ARN,
        secretArn: FAKE_SECRET_ARN,
        sleep: async () => {},
      }),
    sqlDir: SQL_DIR,
    logger: silentLogger,
    ...extra,
  });

describe('migrate-schema custom resource', () => {
  it('Create migrates core, reporting and every platform database through the Data API', async () => {
    const res = await onEvent()({
      ...base,
      RequestType: 'Create',
      ResourceProperties: props(['everflow', 'hitpath']),
    } as CloudFormationCustomResourceEvent);
    expect(res.PhysicalResourceId).toBe(`dualtrack-schema-${prefix}`);
    expect(res.Data).toMatchObject({ Created: 4 });
    expect(Number(res.Data?.Applied)).toBeGreaterThan(0);
    expect(await schemas()).toEqual([
      `${prefix}_core`,
      `${prefix}_everflow`,
      `${prefix}_hitpath`,
      `${prefix}_reporting`,
    ]);
    const applied = await inspect.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${prefix}_core.schema_migrations`);
    expect(Number(applied[0].n)).toBe(res.Data?.Applied);
  });

  it('Update with one more platform creates only that database and applies only its files; unchanged is a no-op', async () => {
    const update = {
      ...base,
      RequestType: 'Update',
      PhysicalResourceId: `dualtrack-schema-${prefix}`,
      OldResourceProperties: props(['everflow', 'hitpath']),
    };
    const added = await onEvent()({
      ...update,
      ResourceProperties: props(['everflow', 'hitpath', 'cake']),
    } as CloudFormationCustomResourceEvent);
    expect(added.Data?.Created).toBe(1);
    expect(await schemas()).toContain(`${prefix}_cake`);
    const again = await onEvent()({
      ...update,
      ResourceProperties: props(['everflow', 'hitpath', 'cake']),
    } as CloudFormationCustomResourceEvent);
    expect(again.Data).toMatchObject({ Created: 0, Applied: 0 });
  });

  it('Delete leaves every database in place and never opens the database', async () => {
    const before = await schemas();
    let opened = false;
    const del = createOnEvent({
      openDb: () => {
        opened = true;
        throw new Error('must not open');
      },
      sqlDir: SQL_DIR,
      logger: silentLogger,
    });
    // Even with properties it cannot parse: a failing delete would block stack removal.
    const res = await del({
      ...base,
      RequestType: 'Delete',
      PhysicalResourceId: `dualtrack-schema-${prefix}`,
      ResourceProperties: { ServiceToken: base.ServiceToken, Prefix: 'BAD' },
    } as CloudFormationCustomResourceEvent);
    expect(res).toEqual({ PhysicalResourceId: `dualtrack-schema-${prefix}` });
    expect(opened).toBe(false);
    expect(await schemas()).toEqual(before);
  });

  it('names every bad property before touching the database', async () => {
    let opened = false;
    const run = createOnEvent({
      openDb: () => {
        opened = true;
        return undefined as never;
      },
      sqlDir: SQL_DIR,
      logger: silentLogger,
    });
    const err = await run({
      ...base,
      RequestType: 'Create',
      ResourceProperties: { ServiceToken: base.ServiceToken, Prefix: 'Has-Dash', Platforms: [] },
    } as unknown as CloudFormationCustomResourceEvent).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaResourcePropertiesError);
    expect((err as SchemaResourcePropertiesError).problems).toEqual([
      expect.stringMatching(/^Prefix: must match/),
      'Platforms: must name at least one platform',
    ]);
    expect(opened).toBe(false);
  });
});

describe('migrate-schema handler (middy + Powertools, clients and env as in Lambda)', () => {
  const context = {
    functionName: 'migrate-schema',
    awsRequestId: 'r-1',
    getRemainingTimeInMillis: () => 600_000,
  } as unknown as Context;

  it('reads the cluster and secret ARNs from the environment and migrates through the shared Data API client', async () => {
    // Route the module's shared client to the fake Data API.
    const shared = routeToFake(rdsDataClient, fake);
    process.env.DB_CLUSTER_ARN = FAKE_RESOURCE_ARN;
    process.env.DB_SECRET_ARN = FAKE_SECRET_ARN;
    try {
      const res = await handler(
        {
          ...base,
          RequestType: 'Update',
          PhysicalResourceId: `dualtrack-schema-${prefix}`,
          OldResourceProperties: {},
          ResourceProperties: props(['everflow', 'hitpath', 'cake', 'partnerize']),
        } as unknown as CloudFormationCustomResourceEvent,
        context,
      );
      expect(res).toEqual({
        PhysicalResourceId: `dualtrack-schema-${prefix}`,
        Data: expect.objectContaining({ Created: 1 }),
      });
      expect(await schemas()).toContain(`${prefix}_partnerize`);
      const sent = shared.commandCalls(ExecuteStatementCommand as never);
      expect(sent.length).toBeGreaterThan(0);
      expect((sent[0].args[0] as { input: { resourceArn: string } }).input.resourceArn).toBe(FAKE_RESOURCE_ARN);
    } finally {
      shared.restore();
      delete process.env.DB_CLUSTER_ARN;
      delete process.env.DB_SECRET_ARN;
    }
  });

  it('fails with the missing environment variables named', async () => {
    delete process.env.DB_CLUSTER_ARN;
    delete process.env.DB_SECRET_ARN;
    await expect(
      handler(
        {
          ...base,
          RequestType: 'Create',
          ResourceProperties: props(['everflow']),
        } as CloudFormationCustomResourceEvent,
        context,
      ),
    ).rejects.toThrow(/DB_CLUSTER_ARN, DB_SECRET_ARN not set/);
  });

  it('creates the application and read-only users: DML for the app, SELECT for the reader, no DDL for either', async () => {
    const secrets: Record<string, { username: string; password: string }> = {
      'arn:app': { username: `${prefix}_app`, password: 'app-password-0123456789' },
      'arn:read': { username: `${prefix}_read`, password: 'read-password-0123456789' },
    };
    const withUsers = onEvent({ userSecret: async (arn) => secrets[arn] });
    const event = {
      ...base,
      RequestType: 'Create',
      ResourceProperties: { ...props(['everflow']), AppUserSecretArn: 'arn:app', ReadUserSecretArn: 'arn:read' },
    } as CloudFormationCustomResourceEvent;
    await withUsers(event);
    await withUsers(event); // idempotent
    const as = (u: { username: string; password: string }) =>
      createMysqlDb(DATABASE_URL.replace('mysql://root@', `mysql://${u.username}:${u.password}@`));
    const app = as(secrets['arn:app']);
    const read = as(secrets['arn:read']);
    try {
      await app.execute(
        `INSERT INTO ${prefix}_core.fx_rates (currency, month, rate, updated_at) VALUES ('EUR', '2026-10-01', 1.1, NOW())`,
      );
      expect(await read.query(`SELECT currency FROM ${prefix}_core.fx_rates`)).toEqual([{ currency: 'EUR' }]);
      await expect(read.execute(`DELETE FROM ${prefix}_core.fx_rates`)).rejects.toThrow(/denied/i);
      await expect(app.execute(`DROP TABLE ${prefix}_core.fx_rates`)).rejects.toThrow(/denied/i);
      await expect(app.execute(`CREATE TABLE ${prefix}_core.x (a INT)`)).rejects.toThrow(/denied/i);
      await expect(app.execute(`DROP DATABASE ${prefix}_everflow`)).rejects.toThrow(/denied/i);
      await expect(app.query('SELECT COUNT(*) AS n FROM mysql.user')).rejects.toThrow(/denied/i);
      expect(await app.query(`SELECT COUNT(*) AS n FROM ${prefix}_reporting.conversions`)).toEqual([{ n: 0 }]);
    } finally {
      await app.close();
      await read.close();
    }
    // No password is ever in a statement: users get the hash.
    const sent = fake.mock.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input.sql ?? '');
    expect(sent.some((sql) => sql.startsWith('CREATE USER IF NOT EXISTS'))).toBe(true);
    expect(sent.some((sql) => sql.includes('app-password') || sql.includes('read-password'))).toBe(false);
  });
});
