import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { assertNoProblems } from './props-error.js';

export interface QueueAlarmsProps {
  /** The work queue (alarmed on the age of its oldest message). */
  readonly queue: IQueue;
  /** Its dead-letter queue (alarmed on any message in it). */
  readonly deadLetterQueue: IQueue;
  /**
   * Topic notified on ALARM and on OK. Use a topic without a severity filter on its email
   * subscriptions: alarm notifications carry no message attributes.
   */
  readonly topic: ITopic;
  /**
   * Oldest-message age that means the consumer is stuck or far behind.
   * @default Duration.minutes(30)
   */
  readonly maxMessageAge?: Duration;
  /**
   * Messages in the DLQ that raise the alarm.
   * @default 1 (nothing should ever land there silently, docs/design.md §5)
   */
  readonly dlqThreshold?: number;
}

/**
 * The two alarms every queue gets (docs/design.md §10): the DLQ is not empty, and the main queue's
 * oldest message is older than `maxMessageAge` (ingestion lag). Both notify `topic` on ALARM and
 * OK; missing data (an idle queue emits none) is not breaching.
 */
export class QueueAlarms extends Construct {
  readonly dlqDepth: Alarm;
  readonly oldestMessageAge: Alarm;

  constructor(scope: Construct, id: string, props: QueueAlarmsProps) {
    super(scope, id);
    const maxAge = props.maxMessageAge ?? Duration.minutes(30);
    const dlqThreshold = props.dlqThreshold ?? 1;
    const problems: string[] = [];
    if (maxAge.toSeconds() < 60)
      problems.push(
        `maxMessageAge must be ≥ 1 min (got ${maxAge.toSeconds()} s): SQS publishes the metric every minute`,
      );
    if (!Number.isInteger(dlqThreshold) || dlqThreshold < 1)
      problems.push(`dlqThreshold must be an integer ≥ 1 (got ${dlqThreshold})`);
    assertNoProblems('QueueAlarms', id, problems);

    const action = new SnsAction(props.topic);
    this.dlqDepth = new Alarm(this, 'DlqDepth', {
      alarmDescription: `Messages are waiting in the dead-letter queue ${props.deadLetterQueue.queueName}: inspect them, then \`dualtrack replay-dlq\``,
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: dlqThreshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.oldestMessageAge = new Alarm(this, 'OldestMessageAge', {
      alarmDescription: `The oldest message in ${props.queue.queueName} is older than ${maxAge.toHumanString()}: the consumer is failing or far behind`,
      metric: props.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: maxAge.toSeconds(),
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // Five minutes in a row, so one slow batch does not page anyone.
      evaluationPeriods: 5,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.dlqDepth, this.oldestMessageAge]) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }
}

/** `new QueueAlarms(...)` for a QueueConsumer (or anything with `queue` and `deadLetterQueue`). */
export function alarmOnQueue(
  scope: Construct,
  id: string,
  consumer: { queue: IQueue; deadLetterQueue: IQueue },
  topic: ITopic,
  options: Pick<QueueAlarmsProps, 'maxMessageAge' | 'dlqThreshold'> = {},
): QueueAlarms {
  return new QueueAlarms(scope, id, {
    queue: consumer.queue,
    deadLetterQueue: consumer.deadLetterQueue,
    topic,
    ...options,
  });
}
