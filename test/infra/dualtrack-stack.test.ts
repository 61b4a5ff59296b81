import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AuroraMysqlEngineVersion } from 'aws-cdk-lib/aws-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataApiDatabase, schemaFingerprint } from '../../infra/constructs/data-api-database.js';
import { ConstructPropsError } from '../../infra/constructs/props-error.js';
import { DualtrackStack } from '../../infra/dualtrack-stack.js';
import { removeTestOutdirs, testApp, testConfig } from './fixtures/apps.js';
import { Stack } from 'aws-cdk-lib';

afterAll(removeTestOutdirs);

type Resources = Record<
  string,
  { Type: string; Properties: Record<string, any>; DependsOn?: string[]; DeletionPolicy?: string }
>;

describe('DualtrackStack', () => {
  let stack: DualtrackStack;
  let template: Template;
  let resources: Resources;
  beforeAll(() => {
    const app = testApp();
    stack = new DualtrackStack(app, 'Dualtrack', { config: testConfig() });
    template = Template.fromStack(stack);
    resources = template.toJSON().Resources as Resources;
  });
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  it('is environment-agnostic: no account or region baked in (synth needs no AWS lookups)', () => {
    expect(Token.isUnresolved(stack.account)).toBe(true);
    expect(Token.isUnresolved(stack.region)).toBe(true);
  });

  it('has an Aurora MySQL Serverless v2 cluster with the Data API, scale to zero, encryption and safe deletion', () => {
    const clusters = ofType('AWS::RDS::DBCluster');
    expect(clusters).toHaveLength(1);
    const [, cluster] = clusters[0];
    expect(cluster.Properties).toMatchObject({
      Engine: 'aurora-mysql',
      EnableHttpEndpoint: true,
      StorageEncrypted: true,
      DeletionProtection: true,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 4, SecondsUntilAutoPause: 300 },
    });
    expect(cluster.DeletionPolicy).toBe('Snapshot');
    // 8.0.mysql_aurora.3.MM.P with MM ≥ 08: Data API (≥ 3.07) and scale to zero (≥ 3.08).
    const m = /^8\.0\.mysql_aurora\.3\.(\d{2})\.\d+$/.exec(cluster.Properties.EngineVersion);
    expect(m, `EngineVersion ${cluster.Properties.EngineVersion}`).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(8);
    // RDS manages (and rotates) the master password in Secrets Manager: no password in the template.
    expect(cluster.Properties.ManageMasterUserPassword).toBe(true);
    expect(cluster.Properties.MasterUserPassword).toBeUndefined();
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceClass: 'db.serverless',
      PubliclyAccessible: false,
    });
  });

  it('puts the cluster in a VPC with isolated subnets only: no NAT, no internet gateway', () => {
    expect(ofType('AWS::EC2::NatGateway')).toHaveLength(0);
    expect(ofType('AWS::EC2::InternetGateway')).toHaveLength(0);
    expect(ofType('AWS::EC2::Route')).toHaveLength(0);
    const subnets = ofType('AWS::EC2::Subnet');
    expect(subnets).toHaveLength(2);
    for (const [, s] of subnets) expect(s.Properties.MapPublicIpOnLaunch).toBe(false);
  });

  it('migrates the schema on deploy through a custom resource that depends on the writer', () => {
    const schema = ofType('Custom::DualtrackSchema');
    expect(schema).toHaveLength(1);
    const [, res] = schema[0];
    expect(res.Properties).toMatchObject({
      Prefix: 'dt',
      Platforms: ['everflow', 'hitpath'],
      BaseCurrency: 'USD',
      Fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const [writerId] = ofType('AWS::RDS::DBInstance')[0];
    expect(res.DependsOn).toContain(writerId);
    // The provider's service token points at the framework function, whose target is our handler.
    const fns = ofType('AWS::Lambda::Function').filter(
      ([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'dualtrack-migrate-schema',
    );
    expect(fns).toHaveLength(1);
    const [fnId, fn] = fns[0];
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 600,
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          DUALTRACK_SQL_DIR: '/var/task/sql',
          DT_DB_PREFIX: 'dt',
          DB_CLUSTER_ARN: expect.objectContaining({ 'Fn::Join': expect.any(Array) }),
          DB_SECRET_ARN: { 'Fn::GetAtt': [expect.stringMatching(/^DatabaseCluster/), 'MasterUserSecret.SecretArn'] },
        },
      },
    });
    const framework = ofType('AWS::Lambda::Function').find(([, f]) =>
      JSON.stringify(f.Properties.Environment ?? {}).includes(fnId),
    );
    expect(framework, 'provider framework function targeting the migration handler').toBeDefined();
  });

  it('grants the migration function the Data API on the cluster and read on the secret, nothing broader', () => {
    // CDK's LogRetention singleton (retention of the cluster's exported logs) is the one policy on
    // Resource '*' (acknowledged in DataApiDatabase); every policy of ours is scoped.
    const policies = ofType('AWS::IAM::Policy')
      .filter(([id]) => !id.startsWith('LogRetention'))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const dataApi = policies.find((s) => [s.Action].flat().includes('rds-data:ExecuteStatement'));
    expect(dataApi).toBeDefined();
    expect(JSON.stringify(dataApi!.Resource)).toContain('arn:');
    expect(JSON.stringify(dataApi!.Resource)).toContain(':cluster:');
    const secretRead = policies.find((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(JSON.stringify(secretRead!.Resource)).toContain('MasterUserSecret.SecretArn');
    for (const s of policies) expect(s.Resource).not.toBe('*');
    // Function roles carry no AWS-managed policy (logs go to the function's own group).
    const [, migrateRole] = ofType('AWS::IAM::Role').find(([id]) => id.startsWith('DatabaseMigrateSchemaRole'))!;
    expect(migrateRole.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('has two KMS-encrypted, SSL-only topics: alerts filtered by severity, operations unfiltered', () => {
    const topics = ofType('AWS::SNS::Topic');
    expect(topics).toHaveLength(2);
    for (const [, t] of topics) expect(t.Properties.KmsMasterKeyId).toBeDefined();
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    // Email subscriptions only (the Slack poster's Lambda subscription is asserted in pipeline-stack.test.ts).
    const subs = ofType('AWS::SNS::Subscription').filter(([, s]) => s.Properties.Protocol === 'email');
    expect(subs).toHaveLength(4);
    const filtered = subs.filter(([, s]) => s.Properties.FilterPolicy);
    expect(filtered).toHaveLength(2);
    for (const [, s] of filtered)
      expect(s.Properties.FilterPolicy).toEqual({ severity: ['critical', 'warning', 'digest'] });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } })]),
      },
    });
  });

  it('lets CloudWatch alarms of this account publish to the operations topic, and subscribes the Slack poster to it', () => {
    const topicId = (display: string) =>
      ofType('AWS::SNS::Topic').find(([, t]) => t.Properties.DisplayName === display)![0];
    const ops = topicId('dualtrack operations');
    const alerts = topicId('dualtrack alerts');
    const policyOf = (id: string) =>
      ofType('AWS::SNS::TopicPolicy').find(
        ([, p]) => JSON.stringify(p.Properties.Topics) === JSON.stringify([{ Ref: id }]),
      )![1];
    const allow = policyOf(ops).Properties.PolicyDocument.Statement.find(
      (st: { Sid?: string }) => st.Sid === 'AllowCloudWatchAlarms',
    );
    expect(allow).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: { Ref: ops },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    // arn:<partition>:cloudwatch:<region>:<account>:alarm:<stack name>-*
    const arn = JSON.stringify(allow.Condition.ArnLike['aws:SourceArn']);
    for (const part of [':cloudwatch:', 'AWS::Region', 'AWS::AccountId', ':alarm:Dualtrack-*'])
      expect(arn).toContain(part);
    // The alerts topic takes no CloudWatch publishes.
    expect(JSON.stringify(policyOf(alerts).Properties.PolicyDocument)).not.toContain('cloudwatch');
    // Every alarm action points at the operations topic, so every alarm is covered by that Allow.
    const alarms = ofType('AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThanOrEqual(8);
    for (const [, a] of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: ops }]);
    for (const [, a] of alarms) expect(a.Properties.AlarmName).toBeUndefined(); // named <stack>-<id>-<hash> by CloudFormation
    // The Slack poster: one Lambda subscription on each topic, both with the DLQ.
    const lambdaSubs = ofType('AWS::SNS::Subscription').filter(([, s]) => s.Properties.Protocol === 'lambda');
    expect(lambdaSubs.map(([, s]) => s.Properties.TopicArn).sort((a, b) => (a.Ref < b.Ref ? -1 : 1))).toEqual(
      [{ Ref: alerts }, { Ref: ops }].sort((a, b) => (a.Ref < b.Ref ? -1 : 1)),
    );
    const endpoints = new Set(lambdaSubs.map(([, s]) => JSON.stringify(s.Properties.Endpoint)));
    expect(endpoints.size).toBe(1);
    for (const [, s] of lambdaSubs) expect(s.Properties.RedrivePolicy).toBeDefined();
  });

  it('takes database deployment options: capacity, pause, protection, removal', () => {
    const app = testApp();
    const s = new DualtrackStack(app, 'Custom', {
      config: testConfig({ databases: { prefix: 'acme' } }),
      database: {
        maxCapacity: 16,
        autoPauseAfter: Duration.hours(1),
        deletionProtection: false,
        removalPolicy: RemovalPolicy.DESTROY,
        engineVersion: AuroraMysqlEngineVersion.VER_3_12_0,
      },
    });
    const t = Template.fromStack(s);
    t.hasResource('AWS::RDS::DBCluster', {
      Properties: Match.objectLike({
        DeletionProtection: false,
        EngineVersion: '8.0.mysql_aurora.3.12.0',
        ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 16, SecondsUntilAutoPause: 3600 },
      }),
      DeletionPolicy: 'Delete',
    });
    t.hasResourceProperties('Custom::DualtrackSchema', { Prefix: 'acme' });
  });
});

describe('DataApiDatabase props validation', () => {
  const build = (props: Partial<ConstructorParameters<typeof DataApiDatabase>[2]>) => () =>
    new DataApiDatabase(new Stack(testApp(), 'S'), 'Db', { prefix: 'dt', platforms: ['everflow'], ...props });

  it('names every bad prop at once', () => {
    let error: unknown;
    try {
      build({
        prefix: 'DT-1',
        platforms: ['everflow', 'everflow', 'Bad Key'],
        maxCapacity: 0.7,
        autoPauseAfter: Duration.minutes(4),
        engineVersion: AuroraMysqlEngineVersion.VER_3_07_1,
      })();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConstructPropsError);
    const problems = (error as ConstructPropsError).problems.join('\n');
    expect(problems).toMatch(/^prefix must match/m);
    expect(problems).toMatch(/^platforms\[2\] must match/m);
    expect(problems).toMatch(/^platforms has duplicates/m);
    expect(problems).toMatch(/^maxCapacity must be 1–256 ACUs in 0.5 steps \(got 0.7\)/m);
    expect(problems).toMatch(/^autoPauseAfter must be 5 min–24 h \(got 240 s\)/m);
    expect(problems).toMatch(/^engineVersion must be Aurora MySQL 3.08 or newer .*3\.07\.1/m);
  });

  it('refuses an empty platform list', () => {
    expect(build({ platforms: [] })).toThrow(/platforms must name at least one platform/);
  });
});

describe('schemaFingerprint', () => {
  const sqlDir = mkdtempSync(join(tmpdir(), 'dt-sql-'));
  mkdirSync(join(sqlDir, 'core'));
  mkdirSync(join(sqlDir, 'platform'));
  writeFileSync(join(sqlDir, 'core', '001_a.sql'), 'CREATE TABLE IF NOT EXISTS {{core}}.a (id INT);');
  writeFileSync(join(sqlDir, 'platform', '001_b.sql'), 'CREATE TABLE IF NOT EXISTS {{db}}.b (id INT);');

  it('is stable for the same inputs (platform order does not matter) and changes with sql/, platforms and prefix', () => {
    const base = schemaFingerprint('dt', ['everflow', 'hitpath'], sqlDir);
    expect(schemaFingerprint('dt', ['hitpath', 'everflow'], sqlDir)).toBe(base);
    expect(schemaFingerprint('dt', ['everflow', 'hitpath', 'cake'], sqlDir)).not.toBe(base);
    expect(schemaFingerprint('dt2', ['everflow', 'hitpath'], sqlDir)).not.toBe(base);
    writeFileSync(join(sqlDir, 'core', '002_c.sql'), 'CREATE TABLE IF NOT EXISTS {{core}}.c (id INT);');
    expect(schemaFingerprint('dt', ['everflow', 'hitpath'], sqlDir)).not.toBe(base);
  });
});
