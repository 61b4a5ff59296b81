import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { SQS_MAX_MESSAGE_BYTES } from './queue-consumer.js';

/**
 * A dead-letter queue that is not paired with a work queue (EventBridge Scheduler target DLQ,
 * Lambda async-invocation DLQ, SNS subscription DLQ): SSE-SQS (Scheduler, SNS and Lambda can all
 * send to it without a key grant), SSL-only, 1 MiB messages, kept the 14-day maximum.
 */
export function standaloneDeadLetterQueue(scope: Construct, id: string, purpose: string): Queue {
  const q = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
    retentionPeriod: Duration.days(14),
    removalPolicy: RemovalPolicy.DESTROY,
  });
  Validations.of(q).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself a dead-letter queue: ${purpose}.`,
  });
  return q;
}

/**
 * Alarm when any message sits in a dead-letter queue that has no work queue of its own (the
 * QueueAlarms construct covers queue + DLQ pairs). Notifies `topic` on ALARM and OK.
 */
export function alarmOnDeadLetterQueue(scope: Construct, id: string, dlq: IQueue, topic: ITopic, what: string): Alarm {
  const alarm = new Alarm(scope, id, {
    alarmDescription: `Messages are waiting in the dead-letter queue ${dlq.queueName} (${what}): inspect them, fix the cause, then redrive or re-run`,
    metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
    threshold: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  const action = new SnsAction(topic);
  alarm.addAlarmAction(action);
  alarm.addOkAction(action);
  return alarm;
}
