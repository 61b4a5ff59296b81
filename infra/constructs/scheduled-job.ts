import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnFunction, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { ContextAttribute, Schedule, type ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { assertNoProblems } from './props-error.js';
import { SQS_MAX_MESSAGE_BYTES } from './queue-consumer.js';

export interface ScheduledJobProps {
  /** The function the schedule invokes (asynchronously). */
  readonly target: IFunction;
  /**
   * When it runs: `ScheduleExpression.rate(...)`, or `ScheduleExpression.cron({ ..., timeZone })`
   * for local-time jobs (Scheduler is DST-aware, rules are UTC-only; docs/aws-limits.md §7).
   */
  readonly schedule: ScheduleExpression;
  /**
   * JSON payload merged into the event. `scheduledTime` (the schedule's nominal time, ISO-8601
   * UTC) is always added, so the job can key its work on it and stay idempotent under retries.
   * @default {}
   */
  readonly input?: Record<string, unknown>;
  /**
   * Scheduler's retries of a failed invocation (0–185).
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * How long Scheduler keeps retrying an invocation (1 min–24 h).
   * @default Duration.hours(1)
   */
  readonly maxEventAge?: Duration;
  /**
   * Where invocations that exhausted their retries go.
   * @default - a new SQS-managed-encrypted, SSL-only queue kept 14 days
   */
  readonly deadLetterQueue?: IQueue;
  /**
   * @default - none
   */
  readonly description?: string;
  /**
   * A disabled schedule exists but never fires.
   * @default true
   */
  readonly enabled?: boolean;
}

/**
 * EventBridge Scheduler → Lambda with a retry policy and a dead-letter queue (docs/design.md §1:
 * schedule-fetch per platform, evaluate-alerts, retention purge). Scheduler, not an EventBridge
 * rule: rules are a legacy feature and evaluate cron in UTC only.
 */
export class ScheduledJob extends Construct {
  readonly schedule: Schedule;
  readonly deadLetterQueue: IQueue;
  /** The role Scheduler assumes to invoke the target and send to the DLQ. */
  readonly role: Role;

  constructor(scope: Construct, id: string, props: ScheduledJobProps) {
    super(scope, id);
    const retryAttempts = props.retryAttempts ?? 2;
    const maxEventAge = props.maxEventAge ?? Duration.hours(1);
    validateProps(id, retryAttempts, maxEventAge);

    if (props.deadLetterQueue) {
      this.deadLetterQueue = props.deadLetterQueue;
    } else {
      // SSE-SQS, not a KMS key: Scheduler cannot use the AWS-managed aws/sqs key to send.
      const dlq = new Queue(this, 'Dlq', {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
        retentionPeriod: Duration.days(14),
        removalPolicy: RemovalPolicy.DESTROY,
      });
      Validations.of(dlq).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason:
          "This queue is itself a dead-letter queue: the EventBridge Scheduler target's DLQ for failed invocations.",
      });
      this.deadLetterQueue = dlq;
    }

    // An own role per job (instead of the target library's stack-wide singleton) so its findings
    // can be acknowledged here, next to the reason; confused-deputy guard on the source account.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    });
    const fnResource = props.target.node.defaultChild;
    if (fnResource instanceof CfnFunction) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(fnResource).getLogicalId(fnResource)}.Arn>:*]`,
        reason:
          "lambda:InvokeFunction on the target function and its versions/aliases (ARN:*), exactly what CDK's grantInvoke gives; no other function is reachable.",
      });
    }
    const target = new LambdaInvoke(props.target, {
      role: this.role,
      input: ScheduleTargetInput.fromObject({ ...props.input, scheduledTime: ContextAttribute.scheduledTime }),
      retryAttempts,
      maxEventAge,
      deadLetterQueue: this.deadLetterQueue,
    });
    this.schedule = new Schedule(this, 'Schedule', {
      schedule: props.schedule,
      target,
      description: props.description,
      enabled: props.enabled ?? true,
    });
  }
}

function validateProps(id: string, retryAttempts: number, maxEventAge: Duration): void {
  const problems: string[] = [];
  if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 185)
    problems.push(`retryAttempts must be an integer 0–185 (got ${retryAttempts})`);
  const age = maxEventAge.toSeconds();
  if (age < 60 || age > 86_400) problems.push(`maxEventAge must be 1 min–24 h (got ${age} s)`);
  assertNoProblems('ScheduledJob', id, problems);
}
