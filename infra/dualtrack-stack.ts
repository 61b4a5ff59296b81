import { existsSync } from 'node:fs';
import { Annotations, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Key } from 'aws-cdk-lib/aws-kms';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { Config } from '#shared/config/schema.js';
import { AlertTopic, createTopicKey } from './constructs/alert-topic.js';
import { AlertEvaluation } from './constructs/alert-evaluation.js';
import { DataApiDatabase, type DataApiDatabaseProps } from './constructs/data-api-database.js';
import { alarmOnDeadLetterQueue, standaloneDeadLetterQueue } from './constructs/dead-letter-alarm.js';
import { DualtrackFunction } from './constructs/dualtrack-function.js';
import { checkEnvironmentSize, lambdaConfigJson } from './constructs/function-environment.js';
import { Ingestion, pascal } from './constructs/ingestion.js';
import { OperationsDashboard } from './constructs/operations-dashboard.js';
import { SlackNotifications } from './constructs/slack-notifications.js';
import { functionEntry } from './paths.js';
import { ScheduledJob } from './constructs/scheduled-job.js';

export interface DualtrackStackProps extends StackProps {
  /** The validated config file (shared/config): prefix, platforms, alert emails. */
  readonly config: Config;
  /** Database options that are deployment concerns, not config-file keys (capacity, protection). */
  readonly database?: Omit<DataApiDatabaseProps, 'prefix' | 'platforms'>;
  /**
   * Per platform key, the fetch event source's maxConcurrency (2–1,000).
   * @default - FETCH_SIZING by platform kind (infra/constructs/fetch-sizing.ts)
   */
  readonly fetchConcurrency?: Readonly<Record<string, number>>;
  /**
   * Reserved concurrency of the Slack poster; `null` reserves none (accounts whose concurrency
   * limit is 10 cannot reserve any).
   * @default 1
   */
  readonly slackReservedConcurrency?: number | null;
  /**
   * When the daily digest runs.
   * @default DEFAULT_DIGEST_SCHEDULE (08:00 UTC)
   */
  readonly digestSchedule?: ScheduleExpression;
}

/**
 * The one dualtrack stack (docs/design.md §1), environment-agnostic (no account/region: synth needs no
 * AWS lookups). It reads top to bottom like the diagram: database, alerting topics, ingestion
 * (schedules → fetch queues → fetch workers → normalize queue → normalize worker, and backfill),
 * alert evaluation (+ daily digest), Slack notifications, then the dashboard and the outputs an
 * operator needs after deploy (secret names to fill in, the backfill function, DLQ ARNs to redrive).
 *
 * Every function gets DUALTRACK_CONFIG_JSON = the loaded config (minus alert emails; see
 * `lambdaConfigJson`), checked at synth against Lambda's 4 KB environment limit.
 */
export class DualtrackStack extends Stack {
  readonly config: Config;
  readonly database: DataApiDatabase;
  /** One customer-managed key for both topics (CloudWatch alarms must be able to publish). */
  readonly topicKey: Key;
  /** Alerts from the rules (docs/design.md §7): email filtered by severity, Slack poster subscribes. */
  readonly alerts: AlertTopic;
  /** CloudWatch alarms (DLQ depth, queue age, …): unfiltered, alarms carry no severity attribute. */
  readonly operations: AlertTopic;
  /** Scheduler target DLQ + async DLQ of the scheduled functions (one alarm for all of them). */
  readonly scheduledJobsDlq: Queue;
  readonly ingestion: Ingestion;
  readonly alertEvaluation: AlertEvaluation;
  readonly purgeClicks: DualtrackFunction;
  readonly slack: SlackNotifications;
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: DualtrackStackProps) {
    super(scope, id, props);
    this.config = props.config;
    const platforms = Object.keys(props.config.platforms);

    // ── Database: Aurora MySQL Serverless v2 + Data API, schema migrated on deploy ──────────────
    this.database = new DataApiDatabase(this, 'Database', {
      ...props.database,
      prefix: props.config.databases.prefix,
      platforms,
      baseCurrency: props.config.baseCurrency,
    });

    // ── Topics ──────────────────────────────────────────────────────────────────────────────
    this.topicKey = createTopicKey(this, 'TopicKey');
    this.alerts = new AlertTopic(this, 'Alerts', {
      emails: props.config.alerts.email,
      emailSeverities: props.config.alerts.emailSeverities,
      masterKey: this.topicKey,
      displayName: 'dualtrack alerts',
    });
    this.operations = new AlertTopic(this, 'Operations', {
      emails: props.config.alerts.email,
      emailSeverities: 'all',
      masterKey: this.topicKey,
      displayName: 'dualtrack operations',
      allowCloudWatchAlarms: true,
    });

    // ── Shared by the scheduled jobs: failed schedule invocations and failed async runs ────────
    // One DLQ for every Scheduler target and the scheduled functions' async invocations: Scheduler
    // invokes Lambda asynchronously, so an event Lambda accepted and then failed twice more would
    // otherwise vanish (docs/aws-limits.md §7). The payload names the job ({"platform"} or {"job"}).
    this.scheduledJobsDlq = standaloneDeadLetterQueue(
      this,
      'ScheduledJobsDlq',
      'EventBridge Scheduler target DLQ and the async-invocation DLQ of the scheduled functions',
    );
    alarmOnDeadLetterQueue(
      this,
      'ScheduledJobsDlqAlarm',
      this.scheduledJobsDlq,
      this.operations.topic,
      'scheduled runs that failed: fetch schedules, evaluation, digest',
    );
    const configJson = lambdaConfigJson(props.config);

    // ── Ingestion (issue "Ingestion") ────────────────────────────────────────────────────────
    // Per platform: ScheduledJob(schedule-fetch, rate(scheduleMinutes)) → QueueConsumer(fetch
    // queue, fetch-worker, maxConcurrency from the platform's limits: FETCH_SIZING) → one shared
    // QueueConsumer (normalize queue, normalize-worker). Platform API keys: one Secrets Manager
    // secret per platform (config `secretName` imports an existing one). Backfill is on-demand.
    this.ingestion = new Ingestion(this, 'Ingestion', {
      config: props.config,
      configJson,
      database: this.database,
      alarmTopic: this.operations.topic,
      scheduledJobsDlq: this.scheduledJobsDlq,
      fetchConcurrency: props.fetchConcurrency,
    });

    // ── Alert evaluation (issue "Alerts") ────────────────────────────────────────────────────
    // evaluate-alerts every config.alerts.evaluateEveryMinutes, publishing to this.alerts.topic;
    // the daily digest the same way.
    const digestEntry = functionEntry('daily-digest');
    this.alertEvaluation = new AlertEvaluation(this, 'AlertEvaluation', {
      config: props.config,
      configJson,
      database: this.database,
      topic: this.alerts.topic,
      scheduledJobsDlq: this.scheduledJobsDlq,
      // TODO(daily digest): functions/daily-digest.ts is written in another issue. Until it exists
      // the digest is not deployed (synth warns); once it does, it is wired with the same
      // environment as evaluate-alerts (ALERTS_TOPIC_ARN, DUALTRACK_CONFIG_JSON, DB vars).
      digest: existsSync(digestEntry) ? { entry: digestEntry, schedule: props.digestSchedule } : undefined,
    });
    if (!this.alertEvaluation.digestFunction) {
      Annotations.of(this).addWarningV2(
        'dualtrack:no-daily-digest',
        'functions/daily-digest.ts does not exist: the daily digest is not deployed',
      );
    }

    // ── Raw-click retention (docs/design.md §4): daily purge of clicks older than clickRetentionDays ──
    this.purgeClicks = new DualtrackFunction(this, 'PurgeClicks', {
      entry: functionEntry('purge-clicks'),
      description: `Deletes raw clicks older than ${props.config.privacy.clickRetentionDays} days (rollups, conversions and alerts stay)`,
      serviceName: 'dualtrack-purge-clicks',
      timeout: Duration.minutes(10),
      deadLetterQueue: this.scheduledJobsDlq,
    });
    this.purgeClicks.bindDatabase(this.database, 'app');
    this.purgeClicks.addEnvironment('DUALTRACK_CONFIG_JSON', configJson);
    new ScheduledJob(this, 'PurgeClicksSchedule', {
      target: this.purgeClicks,
      schedule: ScheduleExpression.cron({ minute: '30', hour: '3' }),
      input: { job: 'purge-clicks' },
      deadLetterQueue: this.scheduledJobsDlq,
      description: 'dualtrack: daily purge of raw clicks past their retention',
    });

    // ── Notifications (issue "Notifications") ────────────────────────────────────────────────
    // notify-slack subscribed to this.alerts.topic (every severity) with a subscription DLQ and an
    // async DLQ, webhook URL in Secrets Manager, reserved concurrency 1 (Slack's ~1 msg/s).
    this.slack = new SlackNotifications(this, 'Slack', {
      topic: this.alerts.topic,
      database: this.database,
      alarmTopic: this.operations.topic,
      // Alarms go to Slack too, so a stack without email addresses still tells someone.
      operationsTopic: this.operations.topic,
      reservedConcurrency: props.slackReservedConcurrency,
    });

    // ── Dashboard (docs/design.md §10); queue alarms come with their queues above ──────────────────
    const platformQueues = Object.entries(this.ingestion.fetch);
    this.dashboard = new OperationsDashboard(this, 'OperationsDashboard', {
      platforms,
      services: {
        fetchWorker: Object.values(this.ingestion.fetchWorkers)[0]?.serviceName ?? 'dualtrack-fetch-worker',
        normalizeWorker: this.ingestion.normalizeWorker.serviceName,
        evaluateAlerts: this.alertEvaluation.evaluateFunction.serviceName,
      },
      queues: [
        ...platformQueues.map(([k, c]) => ({ label: `fetch ${k}`, queue: c.queue })),
        { label: 'normalize', queue: this.ingestion.normalize.queue },
      ],
      deadLetterQueues: [
        ...platformQueues.map(([k, c]) => ({ label: `fetch ${k} DLQ`, queue: c.deadLetterQueue })),
        { label: 'normalize DLQ', queue: this.ingestion.normalize.deadLetterQueue },
        { label: 'scheduled jobs DLQ', queue: this.scheduledJobsDlq },
        { label: 'Slack DLQ', queue: this.slack.deadLetterQueue },
      ],
    });

    // Lambda refuses an environment over 4 KB at deploy time; check every function at synth.
    for (const c of this.node.findAll()) if (c instanceof DualtrackFunction) checkEnvironmentSize(c);

    new CfnOutput(this, 'ClusterArn', { value: this.database.clusterArn });
    new CfnOutput(this, 'SecretArn', {
      value: this.database.secret.secretArn,
      description: 'The master user (schema migrations only); functions connect as the application or read-only user',
    });
    new CfnOutput(this, 'ReadUserSecretArn', {
      value: this.database.readSecret.secretArn,
      description: 'The read-only database user, for BI tools and ad-hoc queries through the Data API',
    });
    new CfnOutput(this, 'AlertsTopicArn', { value: this.alerts.topic.topicArn });
    new CfnOutput(this, 'OperationsTopicArn', { value: this.operations.topic.topicArn });
    new CfnOutput(this, 'BackfillFunctionName', {
      value: this.ingestion.backfillFunction.functionName,
      description: 'For `dualtrack backfill --aws --function NAME` (or DUALTRACK_BACKFILL_FUNCTION)',
    });
    for (const [key, secret] of Object.entries(this.ingestion.platformSecrets)) {
      new CfnOutput(this, `${pascal(key)}ApiKeySecretName`, {
        value: secret.secretName,
        description: `Put the ${key} API credentials in this secret after deploy`,
      });
    }
    new CfnOutput(this, 'HashKeySecretName', {
      value: this.ingestion.hashKeySecret.secretName,
      description: 'Generated HMAC key for personal data; kept when the stack is deleted',
    });
    new CfnOutput(this, 'SlackWebhookSecretName', {
      value: this.slack.webhookSecret.secretName,
      description: 'Put the Slack incoming-webhook URL in this secret after deploy',
    });
    new CfnOutput(this, 'NormalizeDlqArn', {
      value: this.ingestion.normalize.deadLetterQueue.queueArn,
      description: 'Redrive: aws sqs start-message-move-task --source-arn <this>',
    });
    for (const [key, c] of Object.entries(this.ingestion.fetch)) {
      new CfnOutput(this, `Fetch${pascal(key)}DlqArn`, {
        value: c.deadLetterQueue.queueArn,
        description: `Redrive the ${key} fetch jobs: aws sqs start-message-move-task --source-arn <this>`,
      });
    }
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboard.dashboardName });
  }
}
