import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ScheduleExpression, ScheduleExpression as Expr } from 'aws-cdk-lib/aws-scheduler';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Config } from '#shared/config/schema.js';
import { functionEntry } from '../paths.js';
import type { DatabaseAccess, IDataApiDatabase } from './data-api-database.js';
import { DualtrackFunction } from './dualtrack-function.js';
import { ScheduledJob } from './scheduled-job.js';

export interface AlertEvaluationProps {
  readonly config: Config;
  /** DUALTRACK_CONFIG_JSON (see `lambdaConfigJson`). */
  readonly configJson: string;
  readonly database: IDataApiDatabase;
  /** The alerts topic (severity/rule attributes; email filtered, Slack poster subscribed). */
  readonly topic: ITopic;
  /** Scheduler target DLQ and the functions' async-invocation DLQ (failed runs land here). */
  readonly scheduledJobsDlq: IQueue;
  /**
   * The daily digest (docs/design.md §9): its entry file and when it runs. Omit while
   * functions/daily-digest.ts does not exist.
   * @default - no digest
   */
  readonly digest?: { readonly entry: string; readonly schedule?: ScheduleExpression };
  /**
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/** Days a dashboard page is kept (its link is signed for 7). */
export const DASHBOARD_DAYS = 8;

/** 08:00 UTC: after a night of hourly fetches, before a European and American working day. */
export const DEFAULT_DIGEST_SCHEDULE = Expr.cron({ minute: '0', hour: '8' });

/**
 * Rule evaluation on a schedule (docs/design.md §6–7): EventBridge Scheduler invokes evaluate-alerts
 * every `alerts.evaluateEveryMinutes`; it reads MySQL through the Data API, updates alert state and
 * publishes at most one grouped message per severity to the alerts topic. The daily digest, when
 * present, is a second scheduled job publishing to the same topic.
 *
 * A failed run is not lost: Scheduler retries delivery (ScheduledJob), Lambda retries the async
 * invocation twice, then the event lands in `scheduledJobsDlq` (alarmed by the stack). Runs are
 * idempotent over alert state, so a retry only re-evaluates.
 */
export class AlertEvaluation extends Construct {
  readonly evaluateFunction: DualtrackFunction;
  readonly evaluateJob: ScheduledJob;
  readonly digestFunction?: DualtrackFunction;
  readonly digestJob?: ScheduledJob;
  /** Where the digest stores each day's dashboard page (private; reached only by presigned links). */
  readonly dashboardBucket?: Bucket;

  constructor(scope: Construct, id: string, props: AlertEvaluationProps) {
    super(scope, id);
    this.evaluateFunction = this.publisher(
      'EvaluateAlerts',
      {
        entry: functionEntry('evaluate-alerts'),
        description:
          'Evaluates every rule over the canonical MySQL data, updates alert state, publishes grouped alerts to SNS',
        serviceName: 'dualtrack-evaluate-alerts',
        // Every rule reads rollups and indexed keys (docs/design.md §6), after a possible ~15 s resume.
        timeout: Duration.minutes(5),
      },
      props,
      // Writes alert state (alerts, alert_events).
      'app',
    );
    this.evaluateJob = new ScheduledJob(this, 'EvaluateSchedule', {
      target: this.evaluateFunction,
      schedule: Expr.rate(Duration.minutes(props.config.alerts.evaluateEveryMinutes)),
      deadLetterQueue: props.scheduledJobsDlq,
      description: `dualtrack: evaluate alert rules every ${props.config.alerts.evaluateEveryMinutes} min`,
    });

    if (props.digest) {
      this.digestFunction = this.publisher(
        'DailyDigest',
        {
          entry: props.digest.entry,
          description: 'Publishes the daily migration digest (docs/design.md §9) to the alerts topic',
          serviceName: 'dualtrack-daily-digest',
          timeout: Duration.minutes(5),
        },
        props,
        // Only reads: reports and open alerts.
        'read',
      );
      this.dashboardBucket = new Bucket(this, 'DashboardBucket', {
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        encryption: BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
        // A page is linked for 7 days; a day more, then it is gone.
        lifecycleRules: [
          { expiration: Duration.days(DASHBOARD_DAYS), abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ],
        // Emptied by the lifecycle rule; RETAIN so a stack deletion never fails on a non-empty bucket.
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(this.dashboardBucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'The bucket holds one generated HTML page a day, expiring after 8 days, read only through presigned links from the digest; server access logs would need a second bucket to log a handful of reads.',
      });
      this.digestFunction.addEnvironment('DASHBOARD_BUCKET', this.dashboardBucket.bucketName);
      // Writes the day's page and signs links to it: PutObject and GetObject under dashboards/ only.
      this.digestFunction.addToRolePolicy(
        new PolicyStatement({
          actions: ['s3:PutObject', 's3:GetObject'],
          resources: [this.dashboardBucket.arnForObjects('dashboards/*')],
        }),
      );
      const bucketId = Stack.of(this).getLogicalId(this.dashboardBucket.node.defaultChild as CfnBucket);
      if (this.digestFunction.role)
        Validations.of(this.digestFunction.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/dashboards/*]`,
          reason:
            'The digest writes a new page a day (its key holds the date) and signs a link to it: the objects under dashboards/ of its own bucket, nothing else.',
        });
      this.digestJob = new ScheduledJob(this, 'DigestSchedule', {
        target: this.digestFunction,
        schedule: props.digest.schedule ?? DEFAULT_DIGEST_SCHEDULE,
        input: { job: 'daily-digest' },
        deadLetterQueue: props.scheduledJobsDlq,
        description: 'dualtrack: daily migration digest',
      });
    }
  }

  /** A DB-reading function that publishes to the alerts topic. */
  private publisher(
    id: string,
    fn: { entry: string; description: string; serviceName: string; timeout: Duration },
    props: AlertEvaluationProps,
    access: DatabaseAccess,
  ): DualtrackFunction {
    const f = new DualtrackFunction(this, id, {
      ...fn,
      logRetention: props.logRetention,
      deadLetterQueue: props.scheduledJobsDlq,
    });
    f.bindDatabase(props.database, access);
    f.addEnvironment('DUALTRACK_CONFIG_JSON', props.configJson);
    f.addEnvironment('ALERTS_TOPIC_ARN', props.topic.topicArn);
    // sns:Publish on this topic only, plus kms:Decrypt/GenerateDataKey on its key.
    props.topic.grantPublish(f);
    if (f.role) {
      Validations.of(f.role).acknowledge({
        id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        reason:
          "Publishing to the KMS-encrypted alerts topic needs a data key from the topic's key; the grant names that one key (kms:GenerateDataKey* covers the WithoutPlaintext variant SNS may ask for).",
      });
    }
    return f;
  }
}
