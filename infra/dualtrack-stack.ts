import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { Config } from '../shared/config/schema.js';
import { AlertTopic, createTopicKey } from './constructs/alert-topic.js';
import { DataApiDatabase, type DataApiDatabaseProps } from './constructs/data-api-database.js';

export interface DualtrackStackProps extends StackProps {
  /** The validated config file (shared/config): prefix, platforms, alert emails. */
  readonly config: Config;
  /** Database options that are deployment concerns, not config-file keys (capacity, protection). */
  readonly database?: Omit<DataApiDatabaseProps, 'prefix' | 'platforms'>;
}

/**
 * The one dualtrack stack (DESIGN.md §1), environment-agnostic (no account/region: synth needs no
 * AWS lookups). It reads top to bottom like the diagram: database, alerting topics, then — as the
 * later issues land — ingestion, alert evaluation, notifications and backfill.
 */
export class DualtrackStack extends Stack {
  readonly config: Config;
  readonly database: DataApiDatabase;
  /** One customer-managed key for both topics (CloudWatch alarms must be able to publish). */
  readonly topicKey: Key;
  /** Alerts from the rules (DESIGN.md §7): email filtered by severity, Slack poster subscribes. */
  readonly alerts: AlertTopic;
  /** CloudWatch alarms (DLQ depth, queue age, …): unfiltered, alarms carry no severity attribute. */
  readonly operations: AlertTopic;

  constructor(scope: Construct, id: string, props: DualtrackStackProps) {
    super(scope, id, props);
    this.config = props.config;
    const platforms = Object.keys(props.config.platforms);

    // ── Database: Aurora MySQL Serverless v2 + Data API, schema migrated on deploy ──────────────
    this.database = new DataApiDatabase(this, 'Database', {
      ...props.database,
      prefix: props.config.databases.prefix,
      platforms,
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
    });

    // ── Ingestion (issue "Ingestion") ────────────────────────────────────────────────────────
    // Per platform: ScheduledJob(schedule-fetch, rate(scheduleMinutes)) → QueueConsumer(fetch
    // queue, fetch-worker, maxConcurrency from the platform's limits) → one shared QueueConsumer
    // (normalize queue, normalize-worker). Every worker: DualtrackFunction + bindDatabase(this.database);
    // every QueueConsumer: alarmOnQueue(this, …, consumer, this.operations.topic).
    // Platform API keys: one Secrets Manager secret per platform (config `secretName`).

    // ── Alert evaluation (issue "Alerts") ────────────────────────────────────────────────────
    // ScheduledJob(evaluate-alerts, rate(config.alerts.evaluateEveryMinutes)) with
    // bindDatabase(this.database) and this.alerts.topic.grantPublish(fn); daily digest the same way;
    // raw-click retention purge as a daily ScheduledJob.

    // ── Notifications (issue "Notifications") ────────────────────────────────────────────────
    // notify-slack DualtrackFunction subscribed to this.alerts.topic (LambdaSubscription with a
    // subscription DLQ), webhook URL in Secrets Manager, reservedConcurrentExecutions 1 (Slack's
    // ~1 msg/s per webhook).

    // ── Backfill (issue "Backfill") ──────────────────────────────────────────────────────────
    // backfill DualtrackFunction (on-demand invoke by `dualtrack backfill --aws`) with
    // bindDatabase and grantSendMessages on the fetch queues.

    // ── Dashboard and remaining alarms (DESIGN.md §10) come with the functions they watch. ──

    new CfnOutput(this, 'ClusterArn', { value: this.database.clusterArn });
    new CfnOutput(this, 'SecretArn', { value: this.database.secretArn });
    new CfnOutput(this, 'AlertsTopicArn', { value: this.alerts.topic.topicArn });
    new CfnOutput(this, 'OperationsTopicArn', { value: this.operations.topic.topicArn });
  }
}
