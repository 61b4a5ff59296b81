import { existsSync } from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import { Stack } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertEvaluation } from '../../infra/constructs/alert-evaluation.js';
import { AlertTopic } from '../../infra/constructs/alert-topic.js';
import type { IDataApiDatabase } from '../../infra/constructs/data-api-database.js';
import { parseConfig } from '#shared/config/load.js';
import { DualtrackFunction } from '../../infra/constructs/dualtrack-function.js';
import { FETCH_SIZING } from '../../infra/constructs/fetch-sizing.js';
import { DEFAULT_FETCH_CONCURRENCY } from '#shared/platforms/registry.js';
import { estimateDeployedLength, lambdaConfigJson } from '../../infra/constructs/function-environment.js';
import { ConstructPropsError } from '../../infra/constructs/props-error.js';
import { DualtrackStack } from '../../infra/dualtrack-stack.js';
import { functionEntry } from '../../infra/paths.js';
import { MissingEnvironmentError } from '../../functions/commons/database.js';
import { scheduleFetchHandler } from '../../functions/schedule-fetch.js';
import { fixtureEntry, removeTestOutdirs, testApp, testConfig } from './fixtures/apps.js';

afterAll(removeTestOutdirs);

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string };
type Statement = {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
  Principal?: unknown;
  Condition?: unknown;
};

/**
 * The ingestion, alerting and notification wiring of DualtrackStack (issues "Ingestion pipeline",
 * "Rules engine and alerts", "Notifications"), asserted on the synthesized template. The main
 * stack uses a config with two platforms on different schedules, so per-platform values cannot
 * coincide by accident.
 */

const config = testConfig({
  platforms: {
    everflow: {
      kind: 'everflow',
      baseUrl: 'https://api.eflow.team',
      apiKeyEnv: 'EVERFLOW_API_KEY',
      scheduleMinutes: 15,
    },
    hitpath: {
      kind: 'hitpath',
      baseUrl: 'https://reports.example.net/api.php',
      apiKeyEnv: 'HITPATH_API_KEY',
      timezone: 'America/New_York',
      scheduleMinutes: 120,
    },
  },
});
const configWithEvaluate = parseConfig(
  { ...JSON.parse(JSON.stringify(config)), alerts: { ...config.alerts, evaluateEveryMinutes: 30 } },
  'test',
);

let stack: DualtrackStack;
let resources: Record<string, Resource>;
let outputs: Record<string, { Value: unknown }>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const idOf = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
const idOfQueue = (q: { node: { defaultChild?: unknown } }) => idOf(q);

/** Every statement of the policies attached to a function's role. */
function statementsOf(fn: { node: { defaultChild?: unknown } }): Statement[] {
  const roleId = (resources[idOf(fn)].Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
  return ofType('AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
}
const actions = (s: Statement) => [s.Action].flat();
/** Logical ids named in a statement's Resource (Ref or GetAtt). */
const resourceIds = (s: Statement) =>
  [...JSON.stringify(s.Resource).matchAll(/"(?:Ref|Fn::GetAtt)":\s*\[?"([A-Za-z0-9]+)"/g)].map((m) => m[1]);
/** Logical ids of the resources on which `fn` may perform `action`. */
const allowedOn = (fn: { node: { defaultChild?: unknown } }, action: string) =>
  [
    ...new Set(
      statementsOf(fn)
        .filter((s) => s.Effect === 'Allow' && actions(s).includes(action))
        .flatMap(resourceIds),
    ),
  ].sort();
const env = (fn: { node: { defaultChild?: unknown } }) =>
  resources[idOf(fn)].Properties.Environment.Variables as Record<string, unknown>;
/** Resolves `{"Fn::Join": ["", [...]]}` with Refs as `<Ref:Id>` and GetAtts as `<Id.Attr>`, for reading JSON env values. */
function flatten(v: unknown): string {
  if (typeof v === 'string') return v;
  const o = v as Record<string, any>;
  if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(flatten).join(o['Fn::Join'][0]);
  if (o.Ref) return `<Ref:${o.Ref}>`;
  if (o['Fn::GetAtt']) return `<${o['Fn::GetAtt'].join('.')}>`;
  return JSON.stringify(v);
}

beforeAll(() => {
  stack = new DualtrackStack(testApp(), 'Dualtrack', { config: configWithEvaluate });
  const t = Template.fromStack(stack).toJSON();
  resources = t.Resources;
  outputs = t.Outputs;
});

describe('queues', () => {
  it('every queue is encrypted, SSL-only and takes 1 MiB messages; every work queue dead-letters after 5 receives', () => {
    const queues = ofType('AWS::SQS::Queue');
    // 2 fetch + normalize, their 3 DLQs, the scheduled-jobs DLQ and the Slack DLQ.
    expect(queues).toHaveLength(8);
    const policies = ofType('AWS::SQS::QueuePolicy');
    for (const [id, q] of queues) {
      expect(q.Properties.MaximumMessageSize, id).toBe(1_048_576);
      expect(q.Properties.SqsManagedSseEnabled || q.Properties.KmsMasterKeyId, id).toBeTruthy();
      const policy = policies.find(([, p]) => p.Properties.Queues.some((x: { Ref: string }) => x.Ref === id));
      expect(policy?.[1].Properties.PolicyDocument.Statement, id).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      );
    }
    const work = [stack.ingestion.normalize, ...Object.values(stack.ingestion.fetch)];
    for (const c of work) {
      expect(resources[idOfQueue(c.queue)].Properties.RedrivePolicy).toEqual({
        maxReceiveCount: 5,
        deadLetterTargetArn: { 'Fn::GetAtt': [idOfQueue(c.deadLetterQueue), 'Arn'] },
      });
    }
  });

  it('wires each queue to its worker: batch sizes, partial batch failures, concurrency sized per platform, visibility = 6 × timeout', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);
    expect(mappings).toHaveLength(3);
    const expected = [
      { consumer: stack.ingestion.normalize, batch: 5, concurrency: 10 },
      { consumer: stack.ingestion.fetch.everflow, batch: 1, concurrency: FETCH_SIZING.everflow.maxConcurrency },
      { consumer: stack.ingestion.fetch.hitpath, batch: 1, concurrency: FETCH_SIZING.hitpath.maxConcurrency },
    ];
    for (const e of expected) {
      const fnId = idOf(e.consumer.consumer);
      const m = mappings.find((p) => p.FunctionName.Ref === fnId);
      expect(m, fnId).toEqual({
        BatchSize: e.batch,
        EventSourceArn: { 'Fn::GetAtt': [idOfQueue(e.consumer.queue), 'Arn'] },
        FunctionName: { Ref: fnId },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: e.concurrency },
      });
      const timeout = resources[fnId].Properties.Timeout as number;
      expect(resources[idOfQueue(e.consumer.queue)].Properties.VisibilityTimeout).toBe(6 * timeout);
    }
    // Everflow's 10-concurrent-reporting-calls cap and HitPath's 2-per-5-min budget; HitPath waits longest.
    expect(FETCH_SIZING.everflow.maxConcurrency).toBeLessThanOrEqual(10);
    expect(FETCH_SIZING.hitpath.maxConcurrency).toBe(2);
    expect(resources[idOf(stack.ingestion.fetchWorkers.hitpath)].Properties.Timeout).toBeGreaterThanOrEqual(600);
    for (const s of Object.values(FETCH_SIZING)) expect(s.maxConcurrency).toBeGreaterThanOrEqual(2);
    // The local runner's defaults are the same numbers (CAKE: 4 at once, sharing the rate budget).
    for (const [kind, s] of Object.entries(FETCH_SIZING))
      expect(DEFAULT_FETCH_CONCURRENCY[kind as keyof typeof FETCH_SIZING], kind).toBe(s.maxConcurrency);
    expect(FETCH_SIZING.cake.maxConcurrency).toBe(4);
  });

  it('alarms on every DLQ having a message and every work queue falling behind, to the operations topic', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const opsTopic = { Ref: idOf(stack.operations.topic) };
    const queueOf = (a: Record<string, any>) =>
      (a.Dimensions as { Name: string; Value: { 'Fn::GetAtt': string[] } }[]).find((d) => d.Name === 'QueueName')!
        .Value['Fn::GetAtt'][0];
    const dlqAlarms = alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible');
    const ageAlarms = alarms.filter((a) => a.MetricName === 'ApproximateAgeOfOldestMessage');
    for (const a of [...dlqAlarms, ...ageAlarms]) {
      expect(a.AlarmActions).toEqual([opsTopic]);
      expect(a.OKActions).toEqual([opsTopic]);
    }
    const dlqs = [
      stack.ingestion.normalize.deadLetterQueue,
      stack.ingestion.fetch.everflow.deadLetterQueue,
      stack.ingestion.fetch.hitpath.deadLetterQueue,
      stack.scheduledJobsDlq,
      stack.slack.deadLetterQueue,
    ];
    expect(dlqAlarms.map(queueOf).sort()).toEqual(dlqs.map(idOfQueue).sort());
    for (const a of dlqAlarms)
      expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    const works = [stack.ingestion.normalize, stack.ingestion.fetch.everflow, stack.ingestion.fetch.hitpath];
    expect(ageAlarms.map(queueOf).sort()).toEqual(works.map((c) => idOfQueue(c.queue)).sort());
    // Fetch lag alarms at 2 × the platform's schedule, never under 30 min.
    const ageOf = (c: (typeof works)[number]) => ageAlarms.find((a) => queueOf(a) === idOfQueue(c.queue))!.Threshold;
    expect(ageOf(stack.ingestion.fetch.everflow)).toBe(30 * 60);
    expect(ageOf(stack.ingestion.fetch.hitpath)).toBe(240 * 60);
  });
});

describe('schedules', () => {
  it('has one fetch schedule per platform at its scheduleMinutes, sending {"platform"} to schedule-fetch', () => {
    const target = idOf(stack.ingestion.scheduleFetchFunction);
    const fetchSchedules = ofType('AWS::Scheduler::Schedule').filter(
      ([, s]) => s.Properties.Target.Arn['Fn::GetAtt'][0] === target,
    );
    expect(fetchSchedules).toHaveLength(2);
    const byPlatform: Record<string, Record<string, any>> = Object.fromEntries(
      fetchSchedules.map(([, s]) => [JSON.parse(s.Properties.Target.Input).platform, s.Properties]),
    );
    expect(byPlatform.everflow.ScheduleExpression).toBe('rate(15 minutes)');
    expect(byPlatform.hitpath.ScheduleExpression).toBe('rate(2 hours)');
    for (const [platform, p] of Object.entries(byPlatform)) {
      expect(JSON.parse(p.Target.Input)).toEqual({ platform, scheduledTime: '<aws.scheduler.scheduled-time>' });
      expect(p.Target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [idOfQueue(stack.scheduledJobsDlq), 'Arn'] } });
    }
  });

  it('schedule-fetch accepts exactly what its schedule sends (it fails later, on the missing environment, not on the event)', async () => {
    const [, s] = ofType('AWS::Scheduler::Schedule').find(([, x]) => x.Properties.Target.Input?.includes('"hitpath"'))!;
    const event = JSON.parse(
      s.Properties.Target.Input.replace('<aws.scheduler.scheduled-time>', '2026-10-12T10:00:00Z'),
    );
    await expect(scheduleFetchHandler(event)).rejects.toBeInstanceOf(MissingEnvironmentError);
    await expect(scheduleFetchHandler({ ...event, extra: 1 })).rejects.toThrow(/extra/);
  });

  it('evaluates alerts every alerts.evaluateEveryMinutes; scheduled functions dead-letter failed async runs', () => {
    const target = idOf(stack.alertEvaluation.evaluateFunction);
    const [, s] = ofType('AWS::Scheduler::Schedule').find(
      ([, x]) => x.Properties.Target.Arn['Fn::GetAtt'][0] === target,
    )!;
    expect(s.Properties.ScheduleExpression).toBe('rate(30 minutes)');
    for (const fn of [stack.alertEvaluation.evaluateFunction, stack.ingestion.scheduleFetchFunction]) {
      expect(resources[idOf(fn)].Properties.DeadLetterConfig).toEqual({
        TargetArn: { 'Fn::GetAtt': [idOfQueue(stack.scheduledJobsDlq), 'Arn'] },
      });
    }
  });

  it('purges raw clicks daily with the database and config, and nothing else', () => {
    const target = idOf(stack.purgeClicks);
    const [, s] = ofType('AWS::Scheduler::Schedule').find(
      ([, x]) => x.Properties.Target.Arn['Fn::GetAtt'][0] === target,
    )!;
    expect(s.Properties.ScheduleExpression).toBe('cron(30 3 * * ? *)');
    expect(Object.keys(env(stack.purgeClicks)).sort()).toEqual(
      expect.arrayContaining(['DB_CLUSTER_ARN', 'DB_SECRET_ARN', 'DT_DB_PREFIX', 'DUALTRACK_CONFIG_JSON']),
    );
    expect(allowedOn(stack.purgeClicks, 'secretsmanager:GetSecretValue')).toEqual([expect.stringMatching(/Database/)]);
    expect(allowedOn(stack.purgeClicks, 'sqs:SendMessage')).toEqual([idOfQueue(stack.scheduledJobsDlq)]);
  });

  it('wires the daily digest exactly when functions/daily-digest.ts exists', () => {
    if (existsSync(functionEntry('daily-digest'))) {
      const fn = stack.alertEvaluation.digestFunction!;
      expect(fn).toBeDefined();
      const target = idOf(fn);
      const [, s] = ofType('AWS::Scheduler::Schedule').find(
        ([, x]) => x.Properties.Target.Arn['Fn::GetAtt'][0] === target,
      )!;
      expect(s.Properties.ScheduleExpression).toBe('cron(0 8 * * ? *)');
      expect(allowedOn(fn, 'sns:Publish')).toEqual([idOf(stack.alerts.topic)]);
      // The dashboard bucket: private, encrypted, SSL only, pages expire; the digest writes and
      // reads its pages and nothing else in it.
      const bucket = stack.alertEvaluation.dashboardBucket!;
      const b = resources[idOf(bucket as never)];
      expect(b.Properties).toMatchObject({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 8, Status: 'Enabled' })] },
      });
      const [, policy] = ofType('AWS::S3::BucketPolicy').find(
        ([, p]) => p.Properties.Bucket.Ref === idOf(bucket as never),
      )!;
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      );
      const s3Statements = statementsOf(fn).filter((x) => actions(x).some((act) => act.startsWith('s3:')));
      expect(s3Statements).toHaveLength(1);
      expect(actions(s3Statements[0]).sort()).toEqual(['s3:GetObject', 's3:PutObject']);
      expect(JSON.stringify(s3Statements[0].Resource)).toContain('/dashboards/*');
      expect(env(fn).DASHBOARD_BUCKET).toEqual({ Ref: idOf(bucket as never) });
      // Every other function has no S3 access at all.
      for (const other of stack.node.findAll().filter((c): c is DualtrackFunction => c instanceof DualtrackFunction))
        if (other !== fn)
          expect(
            statementsOf(other).some((x) => actions(x).some((act) => act.startsWith('s3:'))),
            idOf(other),
          ).toBe(false);
    } else {
      expect(stack.alertEvaluation.digestFunction).toBeUndefined();
      expect(Object.keys(resources).some((id) => id.includes('Digest'))).toBe(false);
    }
  });
});

describe('alerts topic and Slack', () => {
  it('filters email by severity and subscribes the Slack poster to every severity, with a subscription DLQ', () => {
    const subs = ofType('AWS::SNS::Subscription').map(([, s]) => s.Properties);
    const alertsTopic = idOf(stack.alerts.topic);
    const emails = subs.filter((s) => s.Protocol === 'email');
    // Two addresses on each of the two topics; alerts filtered, operations (alarms) unfiltered.
    expect(emails).toHaveLength(4);
    for (const s of emails.filter((e) => e.TopicArn.Ref === alertsTopic))
      expect(s.FilterPolicy).toEqual({ severity: ['critical', 'warning', 'digest'] });
    for (const s of emails.filter((e) => e.TopicArn.Ref !== alertsTopic)) expect(s.FilterPolicy).toBeUndefined();
    const lambda = subs.filter((s) => s.Protocol === 'lambda');
    const opsTopic = idOf(stack.operations.topic);
    const poster = (topic: string) => ({
      Protocol: 'lambda',
      TopicArn: { Ref: topic },
      Endpoint: { 'Fn::GetAtt': [idOf(stack.slack.notifyFunction), 'Arn'] },
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [idOfQueue(stack.slack.deadLetterQueue), 'Arn'] } },
    });
    // On the alerts topic (every severity) and on the operations topic (CloudWatch alarms).
    expect(lambda).toHaveLength(2);
    expect(lambda).toEqual(expect.arrayContaining([poster(alertsTopic), poster(opsTopic)]));
    // SNS may invoke the poster from both topics.
    const invokers = ofType('AWS::Lambda::Permission')
      .map(([, p]) => p.Properties)
      .filter((p) => JSON.stringify(p.FunctionName).includes(idOf(stack.slack.notifyFunction)));
    expect(invokers.map((p) => p.SourceArn.Ref).sort()).toEqual([alertsTopic, opsTopic].sort());
    // SNS may send to the DLQ only for these topics.
    const [, policy] = ofType('AWS::SQS::QueuePolicy').find(([, p]) =>
      p.Properties.Queues.some((q: { Ref: string }) => q.Ref === idOfQueue(stack.slack.deadLetterQueue)),
    )!;
    expect(policy.Properties.PolicyDocument.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Allow',
          Action: 'sqs:SendMessage',
          Principal: { Service: 'sns.amazonaws.com' },
          Condition: { ArnEquals: { 'aws:SourceArn': { Ref: alertsTopic } } },
        }),
        expect.objectContaining({
          Effect: 'Allow',
          Action: 'sqs:SendMessage',
          Principal: { Service: 'sns.amazonaws.com' },
          Condition: { ArnEquals: { 'aws:SourceArn': { Ref: opsTopic } } },
        }),
      ]),
    );
  });

  it('runs the poster one at a time with an async DLQ, the webhook URL from its own secret, and the database', () => {
    const fn = resources[idOf(stack.slack.notifyFunction)].Properties;
    expect(fn.ReservedConcurrentExecutions).toBe(1);
    expect(fn.DeadLetterConfig).toEqual({
      TargetArn: { 'Fn::GetAtt': [idOfQueue(stack.slack.deadLetterQueue), 'Arn'] },
    });
    expect(fn.Environment.Variables).toMatchObject({
      SLACK_WEBHOOK_SECRET_ARN: { Ref: idOf(stack.slack.webhookSecret) },
      DT_DB_PREFIX: 'dt',
      DB_CLUSTER_ARN: expect.anything(),
      DB_SECRET_ARN: expect.anything(),
    });
    const reads = allowedOn(stack.slack.notifyFunction, 'secretsmanager:GetSecretValue');
    expect(reads).toHaveLength(2);
    expect(reads).toContain(idOf(stack.slack.webhookSecret));
    // The application user's secret, never the master's.
    expect(reads.find((r) => r !== idOf(stack.slack.webhookSecret))).toBe(idOf(stack.database.appSecret));
  });

  it('evaluate-alerts publishes to the alerts topic (and its key) and nothing else; it knows the topic and config', () => {
    const fn = stack.alertEvaluation.evaluateFunction;
    expect(allowedOn(fn, 'sns:Publish')).toEqual([idOf(stack.alerts.topic)]);
    expect(allowedOn(fn, 'kms:GenerateDataKey*')).toEqual([idOf(stack.topicKey)]);
    expect(env(fn)).toMatchObject({
      ALERTS_TOPIC_ARN: { Ref: idOf(stack.alerts.topic) },
      DT_DB_PREFIX: 'dt',
      DUALTRACK_CONFIG_JSON: expect.any(String),
    });
    expect(allowedOn(fn, 'secretsmanager:GetSecretValue')).toEqual([idOf(stack.database.appSecret)]);
  });
});

describe('least privilege', () => {
  const ing = () => stack.ingestion;
  const pipelineFns = () => [
    ing().scheduleFetchFunction,
    ing().backfillFunction,
    ing().normalizeWorker,
    ...Object.values(ing().fetchWorkers),
  ];

  it('only senders may send, and only to the queues they send to', () => {
    const fetchQueues = Object.values(ing().fetch)
      .map((c) => idOfQueue(c.queue))
      .sort();
    expect(allowedOn(ing().scheduleFetchFunction, 'sqs:SendMessage')).toEqual(
      [...fetchQueues, idOfQueue(stack.scheduledJobsDlq)].sort(),
    );
    expect(allowedOn(ing().backfillFunction, 'sqs:SendMessage')).toEqual(fetchQueues);
    for (const w of Object.values(ing().fetchWorkers))
      expect(allowedOn(w, 'sqs:SendMessage')).toEqual([idOfQueue(ing().normalize.queue)]);
    expect(allowedOn(ing().normalizeWorker, 'sqs:SendMessage')).toEqual([]);
    // Across the whole template: who may send to each work queue.
    const senders = (queueId: string) =>
      ofType('AWS::IAM::Policy')
        .filter(([, p]) =>
          (p.Properties.PolicyDocument.Statement as Statement[]).some(
            (s) => actions(s).includes('sqs:SendMessage') && resourceIds(s).includes(queueId),
          ),
        )
        .map(([, p]) => p.Properties.Roles[0].Ref as string)
        .sort();
    const roleOf = (fn: { node: { defaultChild?: unknown } }) =>
      resources[idOf(fn)].Properties.Role['Fn::GetAtt'][0] as string;
    expect(senders(idOfQueue(ing().normalize.queue))).toEqual(Object.values(ing().fetchWorkers).map(roleOf).sort());
    for (const q of fetchQueues)
      expect(senders(q)).toEqual([roleOf(ing().scheduleFetchFunction), roleOf(ing().backfillFunction)].sort());
  });

  it('three database users: the master secret for the migration alone, read-only for the digest, the app user for the rest', () => {
    const db = stack.database;
    // The master secret is RDS-managed: read through the cluster's MasterUserSecret.SecretArn attribute.
    const master = idOf(db.cluster as never);
    const dbSecrets = [master, idOf(db.appSecret), idOf(db.readSecret)];
    const allFunctions = stack.node.findAll().filter((c): c is DualtrackFunction => c instanceof DualtrackFunction);
    const dbReads = (fn: DualtrackFunction) =>
      allowedOn(fn, 'secretsmanager:GetSecretValue').filter((r) => dbSecrets.includes(r));
    expect(resources[master].Properties).toMatchObject({ ManageMasterUserPassword: true, MasterUsername: 'dtadmin' });
    expect(resources[master].Properties.MasterUserPassword).toBeUndefined();
    expect(dbReads(db.migrateFunction).sort()).toEqual([master, idOf(db.appSecret), idOf(db.readSecret)].sort());
    for (const fn of allFunctions) {
      if (fn === db.migrateFunction) continue;
      const want = fn === stack.alertEvaluation.digestFunction ? db.readSecret : db.appSecret;
      expect(dbReads(fn), idOf(fn)).toEqual([idOf(want)]);
      expect(env(fn).DB_SECRET_ARN, idOf(fn)).toEqual({ Ref: idOf(want) });
    }
    const [, schema] = ofType('Custom::DualtrackSchema')[0];
    expect(schema.Properties).toMatchObject({
      AppUserSecretArn: { Ref: idOf(db.appSecret) },
      ReadUserSecretArn: { Ref: idOf(db.readSecret) },
    });
    for (const x of [db.appSecret, db.readSecret])
      expect(resources[idOf(x)].Properties.GenerateSecretString.SecretStringTemplate).toMatch(
        /"username":"dt_(app|read)"/,
      );
  });

  it('each platform secret is readable by its own fetch worker only; the hash key by the normalize worker only', () => {
    const allFunctions = stack.node.findAll().filter((c): c is DualtrackFunction => c instanceof DualtrackFunction);
    const readers = (secretId: string) =>
      allFunctions
        .filter((fn) => allowedOn(fn, 'secretsmanager:GetSecretValue').includes(secretId))
        .map(idOf)
        .sort();
    for (const [key, secret] of Object.entries(ing().platformSecrets))
      expect(readers(idOf(secret)), key).toEqual([idOf(ing().fetchWorkers[key])]);
    expect(readers(idOf(ing().hashKeySecret))).toEqual([idOf(ing().normalizeWorker)]);
    expect(readers(idOf(stack.slack.webhookSecret))).toEqual([idOf(stack.slack.notifyFunction)]);
    // The normalize worker in particular reads no platform credentials.
    const normalizeReads = allowedOn(ing().normalizeWorker, 'secretsmanager:GetSecretValue');
    for (const s of Object.values(ing().platformSecrets)) expect(normalizeReads).not.toContain(idOf(s));
  });

  it('gives each function the environment pipeline.ts reads, with maps naming only what it may use', () => {
    const fetchUrls = (fn: { node: { defaultChild?: unknown } }) => JSON.parse(flatten(env(fn).FETCH_QUEUE_URLS_JSON));
    const secretArns = (fn: { node: { defaultChild?: unknown } }) =>
      JSON.parse(flatten(env(fn).PLATFORM_SECRET_ARNS_JSON));
    const allUrls = Object.fromEntries(Object.entries(ing().fetch).map(([k, c]) => [k, `<Ref:${idOfQueue(c.queue)}>`]));
    for (const fn of [ing().scheduleFetchFunction, ing().backfillFunction]) {
      expect(fetchUrls(fn)).toEqual(allUrls);
      expect(secretArns(fn)).toEqual({});
    }
    for (const [key, w] of Object.entries(ing().fetchWorkers)) {
      expect(fetchUrls(w)).toEqual({});
      expect(secretArns(w)).toEqual({ [key]: `<Ref:${idOf(ing().platformSecrets[key])}>` });
    }
    expect(fetchUrls(ing().normalizeWorker)).toEqual({});
    expect(secretArns(ing().normalizeWorker)).toEqual({});
    expect(env(ing().normalizeWorker).HASH_KEY_SECRET_ARN).toEqual({ Ref: idOf(ing().hashKeySecret) });
    for (const fn of pipelineFns()) {
      if (fn !== ing().normalizeWorker) expect(env(fn).HASH_KEY_SECRET_ARN, idOf(fn)).toBeUndefined();
      expect(env(fn)).toMatchObject({
        NORMALIZE_QUEUE_URL: { Ref: idOfQueue(ing().normalize.queue) },
        DT_DB_PREFIX: 'dt',
        DB_CLUSTER_ARN: expect.anything(),
        DB_SECRET_ARN: { Ref: idOf(stack.database.appSecret) },
      });
      // The config the app loaded, re-parseable by the functions, without the alert emails.
      const json = env(fn).DUALTRACK_CONFIG_JSON as string;
      expect(json).toBe(lambdaConfigJson(configWithEvaluate));
      expect(parseConfig(JSON.parse(json), 'env')).toEqual({
        ...configWithEvaluate,
        alerts: { ...configWithEvaluate.alerts, email: [] },
      });
      expect(json).not.toContain('@example.com');
    }
  });
});

describe('secrets and outputs', () => {
  it('creates the secrets without values in the template: Secrets Manager generates them', () => {
    const secrets = ofType('AWS::SecretsManager::Secret');
    // everflow, hitpath, hash key, Slack webhook, the app and read-only users (RDS manages the master's).
    expect(secrets).toHaveLength(6);
    for (const [id, s] of secrets) {
      expect(s.Properties.SecretString, id).toBeUndefined();
      expect(s.Properties.GenerateSecretString, id).toBeDefined();
    }
    expect(resources[idOf(stack.ingestion.hashKeySecret)].Properties.GenerateSecretString).toMatchObject({
      PasswordLength: 64,
      ExcludePunctuation: true,
    });
    expect(resources[idOf(stack.ingestion.hashKeySecret)].DeletionPolicy).toBe('Retain');
  });

  it('outputs the backfill function name, the secret names to fill in, the DLQ ARNs and the dashboard', () => {
    expect(outputs.BackfillFunctionName.Value).toEqual({ Ref: idOf(stack.ingestion.backfillFunction) });
    for (const key of ['everflow', 'hitpath']) {
      const name = `${key.charAt(0).toUpperCase()}${key.slice(1)}ApiKeySecretName`;
      expect(JSON.stringify(outputs[name]?.Value), name).toContain(idOf(stack.ingestion.platformSecrets[key]));
      expect(JSON.stringify(outputs[`Fetch${key.charAt(0).toUpperCase()}${key.slice(1)}DlqArn`].Value)).toContain(
        idOfQueue(stack.ingestion.fetch[key].deadLetterQueue),
      );
    }
    expect(JSON.stringify(outputs.HashKeySecretName.Value)).toContain(idOf(stack.ingestion.hashKeySecret));
    expect(JSON.stringify(outputs.SlackWebhookSecretName.Value)).toContain(idOf(stack.slack.webhookSecret));
    expect(outputs.NormalizeDlqArn.Value).toEqual({
      'Fn::GetAtt': [idOfQueue(stack.ingestion.normalize.deadLetterQueue), 'Arn'],
    });
    expect(outputs.DashboardName.Value).toEqual({ Ref: idOf(stack.dashboard.dashboard) });
  });
});

describe('dashboard', () => {
  it('graphs rows loaded/quarantined and fetch counters per platform under (service, platform), queue depths and alert counts', () => {
    const [, dash] = ofType('AWS::CloudWatch::Dashboard')[0];
    const body = JSON.parse(flatten(dash.Properties.DashboardBody)) as {
      widgets: { properties: { title?: string; metrics?: unknown[][] } }[];
    };
    const widget = (title: string) => body.widgets.find((w) => w.properties.title === title)!.properties.metrics!;
    // CloudWatch's metric array: [namespace, name, dim, value, dim, value, …, {options}] → 'ns|name|dim|value|…', dimensions by name.
    const series = (title: string) =>
      widget(title).map((m) => {
        const [ns, name, ...rest] = m.filter((x): x is string => typeof x === 'string');
        const pairs = Array.from({ length: rest.length / 2 }, (_, i) => [rest[2 * i], rest[2 * i + 1]]).sort(
          ([a], [b]) => (a < b ? -1 : 1),
        );
        return [ns, name, ...pairs.flat()].join('|');
      });
    for (const p of ['everflow', 'hitpath']) {
      expect(series('Rows loaded per platform')).toContain(
        `dualtrack|rowsLoaded|platform|${p}|service|dualtrack-normalize-worker`,
      );
      expect(series('Rows quarantined per platform')).toContain(
        `dualtrack|rowsQuarantined|platform|${p}|service|dualtrack-normalize-worker`,
      );
      expect(series('Records fetched')).toContain(
        `dualtrack|recordsFetched|platform|${p}|service|dualtrack-fetch-worker`,
      );
      expect(series('Fetch errors')).toContain(`dualtrack|fetchErrors|platform|${p}|service|dualtrack-fetch-worker`);
      expect(series('Messages sent to normalize')).toContain(
        `dualtrack|messagesSent|platform|${p}|service|dualtrack-fetch-worker`,
      );
    }
    expect(series('Poison messages (quarantined whole)')).toEqual([
      'dualtrack|poisonMessages|platform|unknown|service|dualtrack-normalize-worker',
    ]);
    expect(series('Alerts opened / resolved')).toEqual([
      'dualtrack|alertsOpened|service|dualtrack-evaluate-alerts',
      'dualtrack|alertsResolved|service|dualtrack-evaluate-alerts',
    ]);
    expect(series('Alerts firing')).toEqual(['dualtrack|alertsFiring|service|dualtrack-evaluate-alerts']);
    expect(series('Queue depth (visible messages)')).toHaveLength(3);
    expect(series('Dead-letter queues (messages)')).toHaveLength(5);
    // The service dimension must be what the functions emit under (Powertools' default dimension).
    expect(env(stack.ingestion.normalizeWorker).POWERTOOLS_SERVICE_NAME).toBe('dualtrack-normalize-worker');
    for (const w of Object.values(stack.ingestion.fetchWorkers))
      expect(env(w).POWERTOOLS_SERVICE_NAME).toBe('dualtrack-fetch-worker');
    expect(env(stack.alertEvaluation.evaluateFunction).POWERTOOLS_SERVICE_NAME).toBe('dualtrack-evaluate-alerts');
  });
});

describe('deployment variants', () => {
  it('imports an existing platform secret by name, takes concurrency overrides, and sizes every platform kind', () => {
    const cfg = testConfig({
      migration: {
        legacy: ['hitpath', 'cake'],
        target: 'everflow',
        startDate: '2026-09-01',
        cutoverDate: '2026-10-15',
      },
      platforms: {
        everflow: { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'EVERFLOW_API_KEY' },
        hitpath: {
          kind: 'hitpath',
          baseUrl: 'https://reports.example.net/api.php',
          apiKeyEnv: 'HITPATH_API_KEY',
          timezone: 'America/New_York',
          secretName: 'acme/hitpath-key',
        },
        cake: {
          kind: 'cake',
          baseUrl: 'https://cake.example.net',
          apiKeyEnv: 'CAKE_API_KEY',
          timezone: 'America/Los_Angeles',
        },
        partnerize: {
          kind: 'partnerize',
          baseUrl: 'https://api.partnerize.com',
          apiKeyEnv: 'PZ_USER_KEY',
          applicationKeyEnv: 'PZ_APP_KEY',
          networkId: 'n1',
          concurrency: 6,
        },
      },
    });
    const s = new DualtrackStack(testApp(), 'Variant', {
      config: cfg,
      fetchConcurrency: { everflow: 10 },
      slackReservedConcurrency: null,
    });
    const t = Template.fromStack(s).toJSON();
    const id = (c: { node: { defaultChild?: unknown } }) => s.getLogicalId(c.node.defaultChild as never);
    const mappings = Object.values(t.Resources as Record<string, Resource>).filter(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping',
    );
    const concurrencyOf = (key: string) =>
      mappings.find((m) => m.Properties.FunctionName.Ref === id(s.ingestion.fetchWorkers[key]))!.Properties
        .ScalingConfig.MaximumConcurrency;
    expect(concurrencyOf('everflow')).toBe(10);
    expect(concurrencyOf('hitpath')).toBe(FETCH_SIZING.hitpath.maxConcurrency);
    expect(concurrencyOf('cake')).toBe(FETCH_SIZING.cake.maxConcurrency);
    // The config's concurrency sets the fetch workers' (here Partnerize's 6); the stack prop wins over both.
    expect(concurrencyOf('partnerize')).toBe(6);
    // hitpath's secret is imported: no Secret resource (7 = 3 created platform secrets, hash key, webhook, app and read users; RDS manages the master's), read granted on the name's ARN pattern.
    expect(
      Object.values(t.Resources as Record<string, Resource>).filter((r) => r.Type === 'AWS::SecretsManager::Secret'),
    ).toHaveLength(7);
    expect(t.Outputs.HitpathApiKeySecretName.Value).toBe('acme/hitpath-key');
    const hitpathRole = t.Resources[id(s.ingestion.fetchWorkers.hitpath)].Properties.Role['Fn::GetAtt'][0];
    const policy = Object.values(t.Resources as Record<string, Resource>).find(
      (r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: { Ref: string }) => x.Ref === hitpathRole),
    )!;
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain(':secret:acme/hitpath-key-??????');
    expect(t.Resources[id(s.slack.notifyFunction)].Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('names a fetchConcurrency for an unknown platform or out of range', () => {
    let error: unknown;
    try {
      new DualtrackStack(testApp(), 'Bad', { config: testConfig(), fetchConcurrency: { everflow: 1, impact: 4 } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConstructPropsError);
    expect((error as ConstructPropsError).problems).toEqual([
      'fetchConcurrency.everflow must be an integer 2–1,000 (got 1)',
      'fetchConcurrency.impact: no such platform in the config (everflow, hitpath)',
    ]);
  });

  it("fails synth, naming the variable, when a config would push a function's environment past Lambda's 4 KB", () => {
    const cfg = testConfig({
      platforms: {
        everflow: { kind: 'everflow', baseUrl: 'https://api.eflow.team', apiKeyEnv: 'EVERFLOW_API_KEY' },
        hitpath: {
          kind: 'hitpath',
          baseUrl: `https://reports.example.net/${'p'.repeat(2500)}`,
          apiKeyEnv: 'HITPATH_API_KEY',
          timezone: 'America/New_York',
        },
      },
    });
    const app = testApp();
    new DualtrackStack(app, 'Big', { config: cfg });
    expect(() => app.synth()).toThrow(
      /environment of Big\/Ingestion\/\w+ may reach ~\d+ bytes, over Lambda's 4096-byte limit \(DUALTRACK_CONFIG_JSON ~\d+ B/,
    );
  });
});

describe('AlertEvaluation with a digest entry (as the stack wires functions/daily-digest.ts once it exists)', () => {
  it('schedules the digest daily at 08:00 UTC by default, with the evaluate-alerts environment, publishing to the topic', () => {
    const s = new Stack(testApp(), 'Digest');
    const db: IDataApiDatabase = {
      clusterArn: 'arn:aws:rds:eu-west-1:111111111111:cluster:c',
      prefix: 'dt',
      secretFor: (access) => ({ secretArn: `arn:aws:secretsmanager:eu-west-1:111111111111:secret:${access}` }) as never,
      grantDataApiAccess: () => undefined as never,
    };
    const topic = new AlertTopic(s, 'Alerts').topic;
    const dlq = new Queue(s, 'Dlq', { enforceSSL: true });
    const ev = new AlertEvaluation(s, 'Eval', {
      config,
      configJson: lambdaConfigJson(config),
      database: db,
      topic,
      scheduledJobsDlq: dlq,
      digest: { entry: fixtureEntry('job') },
    });
    const t = Template.fromStack(s).toJSON();
    const id = (c: { node: { defaultChild?: unknown } }) => s.getLogicalId(c.node.defaultChild as never);
    const digestId = id(ev.digestFunction!);
    const schedule = Object.values(t.Resources as Record<string, Resource>).find(
      (r) => r.Type === 'AWS::Scheduler::Schedule' && r.Properties.Target.Arn['Fn::GetAtt'][0] === digestId,
    )!;
    expect(schedule.Properties.ScheduleExpression).toBe('cron(0 8 * * ? *)');
    expect(JSON.parse(schedule.Properties.Target.Input)).toEqual({
      job: 'daily-digest',
      scheduledTime: '<aws.scheduler.scheduled-time>',
    });
    const fn = t.Resources[digestId].Properties;
    expect(fn.Environment.Variables).toMatchObject({
      ALERTS_TOPIC_ARN: { Ref: id(topic) },
      DUALTRACK_CONFIG_JSON: lambdaConfigJson(config),
      DT_DB_PREFIX: 'dt',
      DB_CLUSTER_ARN: db.clusterArn,
    });
    expect(fn.DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [id(dlq), 'Arn'] } });
    const roleId = fn.Role['Fn::GetAtt'][0];
    const statements = Object.values(t.Resources as Record<string, Resource>)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: { Ref: string }) => x.Ref === roleId))
      .flatMap((r) => r.Properties.PolicyDocument.Statement as Statement[]);
    expect(statements.find((st) => actions(st).includes('sns:Publish'))?.Resource).toEqual({ Ref: id(topic) });
  });
});

describe('estimateDeployedLength', () => {
  it('counts literals exactly, pseudo parameters at their longest, other references at 128', () => {
    expect(estimateDeployedLength('abc')).toBe(3);
    expect(estimateDeployedLength({ Ref: 'AWS::Region' })).toBe(14);
    expect(estimateDeployedLength({ Ref: 'Queue1' })).toBe(128);
    expect(estimateDeployedLength({ 'Fn::Join': ['', ['{"a":"', { Ref: 'Queue1' }, '"}']] })).toBe(6 + 128 + 2);
    expect(estimateDeployedLength({ 'Fn::Join': [':', ['arn', { Ref: 'AWS::Partition' }, 'x']] })).toBe(3 + 10 + 1 + 2);
  });
});

describe('environment size', () => {
  it('every function of the test stack is well inside the 4 KB limit', () => {
    for (const [id, fn] of ofType('AWS::Lambda::Function')) {
      const vars = (fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
      const size = Object.entries(vars).reduce((n, [k, v]) => n + k.length + estimateDeployedLength(v), 0);
      expect(size, id).toBeLessThanOrEqual(4096);
    }
  });
});
