import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertTopic } from '../../infra/constructs/alert-topic.js';
import { QueueAlarms } from '../../infra/constructs/alarms.js';
import { DualtrackFunction } from '../../infra/constructs/dualtrack-function.js';
import { ConstructPropsError } from '../../infra/constructs/props-error.js';
import { QueueConsumer } from '../../infra/constructs/queue-consumer.js';
import { ScheduledJob } from '../../infra/constructs/scheduled-job.js';
import type { IDataApiDatabase } from '../../infra/constructs/data-api-database.js';
import { ConstructsFixtureStack, fixtureEntry, removeTestOutdirs, testApp } from './fixtures/apps.js';

afterAll(removeTestOutdirs);

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string };

let fixture: ConstructsFixtureStack;
let resources: Record<string, Resource>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const idOf = (stack: Stack, c: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(c.node.defaultChild as never);

beforeAll(() => {
  fixture = new ConstructsFixtureStack(testApp(), 'Fixture');
  resources = Template.fromStack(fixture).toJSON().Resources as Record<string, Resource>;
});

/** Runs `fn` and returns the ConstructPropsError's problems (fails the test if nothing was thrown). */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConstructPropsError);
    return [...(e as ConstructPropsError).problems];
  }
  throw new Error('expected a ConstructPropsError');
}

const scratchStack = () => new Stack(testApp(), 'S');
const worker = (stack: Stack, timeout = Duration.seconds(30)) =>
  new DualtrackFunction(stack, 'W', { entry: fixtureEntry('worker'), timeout });

describe('DualtrackFunction', () => {
  it('applies the org defaults: Node 22 on arm64, ESM bundle, source maps, Powertools env, own log group with retention', () => {
    const [, fn] = ofType('AWS::Lambda::Function').find(([id]) => id === idOf(fixture, fixture.worker))!;
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 512,
      Timeout: 30,
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          POWERTOOLS_SERVICE_NAME: 'fixture-worker',
          POWERTOOLS_METRICS_NAMESPACE: 'dualtrack',
        },
      },
      LoggingConfig: { LogGroup: { Ref: expect.stringMatching(/^WorkerLogs/) } },
    });
    const [, logGroup] = ofType('AWS::Logs::LogGroup').find(([id]) => id === fn.Properties.LoggingConfig.LogGroup.Ref)!;
    expect(logGroup.Properties.RetentionInDays).toBe(30);
  });

  it('uses a role scoped to its own log group instead of the AWS-managed basic execution role', () => {
    const roleId = (resources[idOf(fixture, fixture.worker)].Properties.Role as { 'Fn::GetAtt': string[] })[
      'Fn::GetAtt'
    ][0];
    expect(resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
    const policy = ofType('AWS::IAM::Policy').find(([, p]) =>
      p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId),
    )!;
    const logStatement = policy[1].Properties.PolicyDocument.Statement.find((s: { Action: string[] }) =>
      [s.Action].flat().includes('logs:PutLogEvents'),
    );
    expect(logStatement.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^WorkerLogs/), 'Arn'] });
  });

  it('bindDatabase grants the Data API as one user and sets DB_CLUSTER_ARN, that user\u2019s DB_SECRET_ARN, DT_DB_PREFIX', () => {
    const stack = scratchStack();
    const fn = worker(stack);
    const granted: unknown[] = [];
    const secretArn = (access: string) => `arn:aws:secretsmanager:eu-west-1:111111111111:secret:${access}`;
    const db: IDataApiDatabase = {
      clusterArn: 'arn:aws:rds:eu-west-1:111111111111:cluster:c',
      prefix: 'dt',
      secretFor: (access) => ({ secretArn: secretArn(access) }) as never,
      grantDataApiAccess: (grantee, access) => {
        granted.push([grantee, access]);
        return undefined as never;
      },
    };
    fn.bindDatabase(db, 'read');
    expect(granted).toEqual([[fn, 'read']]);
    const vars = Template.fromStack(stack).toJSON().Resources[idOf(stack, fn)].Properties.Environment.Variables;
    expect(vars).toMatchObject({ DB_CLUSTER_ARN: db.clusterArn, DB_SECRET_ARN: secretArn('read'), DT_DB_PREFIX: 'dt' });
  });

  it('keeps a role passed in and merges bundling overrides', () => {
    const stack = scratchStack();
    const role = new Role(stack, 'Given', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    const fn = new DualtrackFunction(stack, 'F', {
      entry: fixtureEntry('worker'),
      role,
      bundling: { keepNames: false },
    });
    expect(fn.role).toBe(role);
  });

  it('rejects a CJS bundle, a bad service name and an out-of-range timeout, naming each', () => {
    const problems = problemsOf(
      () =>
        new DualtrackFunction(scratchStack(), 'F', {
          entry: fixtureEntry('worker'),
          serviceName: 'has space',
          timeout: Duration.minutes(16),
          bundling: { format: OutputFormat.CJS },
        }),
    );
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/serviceName/);
    expect(problems.join('\n')).toMatch(/timeout must be 1 s–15 min \(got 960 s\)/);
    expect(problems.join('\n')).toMatch(/bundling.format CJS/);
  });
});

describe('QueueConsumer', () => {
  it('builds an encrypted, SSL-only queue and DLQ with 1 MiB messages, visibility = 6 × timeout, redrive after maxReceiveCount', () => {
    const queue = resources[idOf(fixture, fixture.consumer.queue)];
    const dlq = resources[idOf(fixture, fixture.consumer.deadLetterQueue)];
    expect(queue.Properties).toMatchObject({
      MaximumMessageSize: 1_048_576,
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180, // worker timeout 30 s × 6
      MessageRetentionPeriod: 4 * 86_400,
      RedrivePolicy: {
        maxReceiveCount: 4,
        deadLetterTargetArn: { 'Fn::GetAtt': [idOf(fixture, fixture.consumer.deadLetterQueue), 'Arn'] },
      },
    });
    expect(dlq.Properties).toMatchObject({
      MaximumMessageSize: 1_048_576,
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
    const policies = ofType('AWS::SQS::QueuePolicy');
    for (const q of [fixture.consumer.queue, fixture.consumer.deadLetterQueue]) {
      const p = policies.find(([, r]) => r.Properties.Queues.some((x: { Ref: string }) => x.Ref === idOf(fixture, q)));
      expect(p?.[1].Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      );
    }
  });

  it('wires the worker with partial batch failures, max concurrency and batch size', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    expect(mappings[0][1].Properties).toMatchObject({
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 3 },
      FunctionName: { Ref: idOf(fixture, fixture.worker) },
      EventSourceArn: { 'Fn::GetAtt': [idOf(fixture, fixture.consumer.queue), 'Arn'] },
    });
  });

  it('uses a KMS key when given one', () => {
    const stack = scratchStack();
    const fn = worker(stack);
    const key = new AlertTopic(stack, 'T').masterKey;
    const c = new QueueConsumer(stack, 'Q', { consumer: fn, encryptionKey: key });
    const props = Template.fromStack(stack).toJSON().Resources[idOf(stack, c.queue)].Properties;
    expect(props.KmsMasterKeyId).toBeDefined();
    expect(props.SqsManagedSseEnabled).toBeUndefined();
  });

  it('names every bad prop', () => {
    const stack = scratchStack();
    const problems = problemsOf(
      () =>
        new QueueConsumer(stack, 'Q', {
          consumer: worker(stack),
          batchSize: 50,
          maxConcurrency: 1,
          maxReceiveCount: 0,
          retentionPeriod: Duration.days(15),
        }),
    );
    expect(problems.join('\n')).toMatch(/batchSize 50 > 10 needs maxBatchingWindow/);
    expect(problems.join('\n')).toMatch(/maxConcurrency must be an integer 2–1,000 \(got 1\)/);
    expect(problems.join('\n')).toMatch(/maxReceiveCount must be an integer 1–1,000 \(got 0\)/);
    expect(problems.join('\n')).toMatch(/retentionPeriod must be 1 min–14 days/);
  });
});

describe('ScheduledJob', () => {
  it('creates an EventBridge Scheduler schedule in the given time zone with retry policy, DLQ and the scheduled time in the input', () => {
    const schedules = ofType('AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(1);
    const p = schedules[0][1].Properties;
    expect(p).toMatchObject({
      ScheduleExpression: 'cron(15 2 * * ? *)',
      ScheduleExpressionTimezone: 'America/New_York',
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [idOf(fixture, fixture.jobFunction), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 7200 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.stringMatching(/^NightlyDlq/), 'Arn'] } },
        RoleArn: { 'Fn::GetAtt': [idOf(fixture, fixture.job.role), 'Arn'] },
      },
    });
    expect(JSON.parse(p.Target.Input)).toEqual({ job: 'purge', scheduledTime: '<aws.scheduler.scheduled-time>' });
    const dlq = resources[(p.Target.DeadLetterConfig.Arn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]];
    expect(dlq.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
  });

  it('lets only the scheduler of this account assume its role, which may invoke only the target', () => {
    const role = resources[idOf(fixture, fixture.job.role)];
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0]).toMatchObject({
      Principal: { Service: 'scheduler.amazonaws.com' },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    const policy = ofType('AWS::IAM::Policy').find(([, p]) =>
      p.Properties.Roles.some((r: { Ref: string }) => r.Ref === idOf(fixture, fixture.job.role)),
    )!;
    const invoke = policy[1].Properties.PolicyDocument.Statement.find(
      (s: { Action: string }) => s.Action === 'lambda:InvokeFunction',
    );
    expect(JSON.stringify(invoke.Resource)).toContain(idOf(fixture, fixture.jobFunction));
    expect(JSON.stringify(invoke.Resource)).not.toContain(idOf(fixture, fixture.worker));
  });

  it('uses defaults (2 retries, 1 h) and a rate expression', () => {
    const stack = scratchStack();
    new ScheduledJob(stack, 'J', { target: worker(stack), schedule: ScheduleExpression.rate(Duration.minutes(60)) });
    const [s] = Object.values(Template.fromStack(stack).findResources('AWS::Scheduler::Schedule')) as Resource[];
    expect(s.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 hour)',
      Target: { RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 } },
    });
  });

  it('names bad retry settings', () => {
    const stack = scratchStack();
    const problems = problemsOf(
      () =>
        new ScheduledJob(stack, 'J', {
          target: worker(stack),
          schedule: ScheduleExpression.rate(Duration.hours(1)),
          retryAttempts: 186,
          maxEventAge: Duration.seconds(30),
        }),
    );
    expect(problems).toEqual([
      'retryAttempts must be an integer 0–185 (got 186)',
      'maxEventAge must be 1 min–24 h (got 30 s)',
    ]);
  });
});

describe('AlertTopic', () => {
  it('filters email subscriptions on the severity attribute (default critical only); "all" subscribes unfiltered', () => {
    const subs = ofType('AWS::SNS::Subscription');
    const alerts = subs.find(([, s]) => s.Properties.TopicArn.Ref === idOf(fixture, fixture.alerts.topic))![1];
    const ops = subs.find(([, s]) => s.Properties.TopicArn.Ref === idOf(fixture, fixture.operations.topic))![1];
    expect(alerts.Properties).toMatchObject({
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      FilterPolicy: { severity: ['critical', 'digest'] },
    });
    expect(ops.Properties.FilterPolicy).toBeUndefined();
  });

  it('encrypts with a rotating customer-managed key CloudWatch may use, shared when passed in', () => {
    const keys = ofType('AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    expect(keys[0][1].Properties.EnableKeyRotation).toBe(true);
    const statements = keys[0][1].Properties.KeyPolicy.Statement as {
      Principal?: { Service?: string };
      Action: string[];
    }[];
    expect(statements.find((s) => s.Principal?.Service === 'cloudwatch.amazonaws.com')?.Action).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey*',
    ]);
    for (const t of [fixture.alerts.topic, fixture.operations.topic]) {
      expect(resources[idOf(fixture, t)].Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keys[0][0], 'Arn'] });
    }
  });

  it('reports bad emails by position, without echoing the address', () => {
    const problems = problemsOf(
      () =>
        new AlertTopic(scratchStack(), 'T', {
          emails: ['ok@example.com', 'not-an-address'],
          emailSeverities: ['urgent' as never],
        }),
    );
    expect(problems).toEqual([
      'emails[1] is not an email address',
      'emailSeverities[0] must be one of critical, warning, info (got "urgent")',
    ]);
    expect(problems.join(' ')).not.toContain('not-an-address');
  });
});

describe('QueueAlarms', () => {
  it('alarms on DLQ depth ≥ 1 and on the oldest message age, notifying the topic on ALARM and OK', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    expect(alarms).toHaveLength(2);
    const topicRef = { Ref: idOf(fixture, fixture.operations.topic) };
    const dlq = alarms.find((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible')!;
    expect(dlq).toMatchObject({
      Namespace: 'AWS/SQS',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [idOf(fixture, fixture.consumer.deadLetterQueue), 'QueueName'] } },
      ],
      AlarmActions: [topicRef],
      OKActions: [topicRef],
      TreatMissingData: 'notBreaching',
    });
    const age = alarms.find((a) => a.MetricName === 'ApproximateAgeOfOldestMessage')!;
    expect(age).toMatchObject({
      Threshold: 1200,
      Period: 60,
      EvaluationPeriods: 5,
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [idOf(fixture, fixture.consumer.queue), 'QueueName'] } },
      ],
      AlarmActions: [topicRef],
    });
  });

  it('names bad thresholds', () => {
    const stack = scratchStack();
    const c = new QueueConsumer(stack, 'Q', { consumer: worker(stack) });
    const problems = problemsOf(
      () =>
        new QueueAlarms(stack, 'A', {
          queue: c.queue,
          deadLetterQueue: c.deadLetterQueue,
          topic: new Topic(stack, 'T'),
          maxMessageAge: Duration.seconds(10),
          dlqThreshold: 0,
        }),
    );
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^maxMessageAge must be ≥ 1 min \(got 10 s\)/);
    expect(problems[1]).toMatch(/^dlqThreshold must be an integer ≥ 1 \(got 0\)/);
  });
});
