import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { type ITopic, Subscription, SubscriptionProtocol } from 'aws-cdk-lib/aws-sns';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LambdaSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { functionEntry } from '../paths.js';
import type { IDataApiDatabase } from './data-api-database.js';
import { alarmOnDeadLetterQueue, standaloneDeadLetterQueue } from './dead-letter-alarm.js';
import { DualtrackFunction } from './dualtrack-function.js';
import { assertNoProblems } from './props-error.js';

export interface SlackNotificationsProps {
  /** The alerts topic; the poster receives every severity (no filter policy). */
  readonly topic: ITopic;
  /** notify-slack records deliveries in MySQL (idempotent per SNS MessageId). */
  readonly database: IDataApiDatabase;
  /** Where the DLQ alarm goes (the unfiltered operations topic). */
  readonly alarmTopic: ITopic;
  /**
   * Also subscribe the poster to this topic (the operations topic): CloudWatch alarm messages are
   * posted as plain text. The subscription shares the DLQ.
   * @default - none
   */
  readonly operationsTopic?: ITopic;
  /**
   * Reserved concurrency of the poster. Slack takes about one message per second per webhook
   * (docs/aws-limits.md §6), and SNS→Lambda is asynchronous, so Lambda queues the extra invocations
   * instead of running them side by side. Reserving needs ≥ 10 unreserved concurrency left in the
   * account (new accounts with a limit of 10 cannot reserve any): pass `undefined` there.
   * @default 1
   */
  readonly reservedConcurrency?: number | null;
  /**
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * The Slack poster (docs/design.md §7, docs/aws-limits.md §4–6): notify-slack subscribed to the alerts topic,
 * the webhook URL in a Secrets Manager secret the operator fills in after deploy, and one
 * dead-letter queue for both ways a message can fail:
 * - the **SNS subscription DLQ**: messages SNS could not hand to Lambda at all (function deleted,
 *   permissions, throttled past SNS's 23-day retry schedule for AWS endpoints);
 * - the **Lambda async DLQ**: invocations Lambda accepted that failed after its 2 retries (webhook
 *   down, 5xx, a Retry-After longer than the timeout).
 * An alarm fires on any message in it. Delivery is idempotent per SNS MessageId, so re-publishing a
 * dead-lettered message (or a duplicate delivery) never posts twice.
 */
export class SlackNotifications extends Construct {
  readonly webhookSecret: Secret;
  readonly deadLetterQueue: Queue;
  readonly notifyFunction: DualtrackFunction;
  readonly subscription: Subscription;
  readonly operationsSubscription?: Subscription;
  readonly dlqAlarm: Alarm;

  constructor(scope: Construct, id: string, props: SlackNotificationsProps) {
    super(scope, id);
    const reserved = props.reservedConcurrency === undefined ? 1 : props.reservedConcurrency;
    if (reserved !== null && (!Number.isInteger(reserved) || reserved < 1))
      assertNoProblems('SlackNotifications', id, [
        `reservedConcurrency must be a positive integer or null (got ${reserved})`,
      ]);

    this.webhookSecret = new Secret(this, 'WebhookUrl', {
      // Secrets Manager generates a random placeholder: the URL is never in the template.
      description:
        'dualtrack: Slack incoming-webhook URL for alerts. Replace the generated placeholder with the https://hooks.slack.com/... URL (or JSON {"url": "..."}).',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.webhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "A Slack incoming-webhook URL is issued in Slack's app settings; no Lambda can rotate it. The operator replaces the value when the webhook is regenerated.",
    });
    this.deadLetterQueue = standaloneDeadLetterQueue(
      this,
      'Dlq',
      "alert messages the Slack poster could not deliver (SNS subscription DLQ and the function's async-invocation DLQ)",
    );

    this.notifyFunction = new DualtrackFunction(this, 'NotifySlack', {
      entry: functionEntry('notify-slack'),
      description: 'Posts grouped dualtrack alerts to Slack (Block Kit, idempotent per SNS message)',
      serviceName: 'dualtrack-notify-slack',
      logRetention: props.logRetention,
      // Honours Slack's 429 Retry-After, after a possible ~15 s database resume.
      timeout: Duration.minutes(2),
      reservedConcurrentExecutions: reserved ?? undefined,
      deadLetterQueue: this.deadLetterQueue,
      environment: { SLACK_WEBHOOK_SECRET_ARN: this.webhookSecret.secretArn },
    });
    this.notifyFunction.bindDatabase(props.database, 'app');
    this.webhookSecret.grantRead(this.notifyFunction);

    this.subscription = props.topic.addSubscription(
      new LambdaSubscription(this.notifyFunction, { deadLetterQueue: this.deadLetterQueue }),
    );
    if (props.operationsTopic) {
      // (Not a second LambdaSubscription: it names its construct after the topic's id, and both
      // topics are called "Topic" inside their AlertTopic.)
      const ops = props.operationsTopic;
      this.notifyFunction.addPermission('AllowOperationsTopic', {
        principal: new ServicePrincipal('sns.amazonaws.com'),
        sourceArn: ops.topicArn,
      });
      this.operationsSubscription = new Subscription(this, 'OperationsSubscription', {
        topic: ops,
        protocol: SubscriptionProtocol.LAMBDA,
        endpoint: this.notifyFunction.functionArn,
        deadLetterQueue: this.deadLetterQueue,
      });
    }
    this.dlqAlarm = alarmOnDeadLetterQueue(
      this,
      'DlqAlarm',
      this.deadLetterQueue,
      props.alarmTopic,
      'Slack alert deliveries',
    );
  }
}
