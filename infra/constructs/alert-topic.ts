import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { SubscriptionFilter, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { assertNoProblems } from './props-error.js';

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type AlertSeverity = (typeof SEVERITIES)[number];
/** The daily digest's `severity` attribute (shared/migration/digest.ts): let through every email filter. */
export const DIGEST_SEVERITY = 'digest';

export interface AlertTopicProps {
  /**
   * Email addresses subscribed to the topic. Each gets a confirmation mail that someone must click
   * once per deployment (SNS leaves the subscription pending until then).
   * @default []
   */
  readonly emails?: readonly string[];
  /**
   * Severities delivered by email: a filter policy on the `severity` message attribute, which the
   * alert publisher sets (docs/design.md §7). `'all'` subscribes without a filter — needed for topics
   * that receive CloudWatch alarms, which carry no message attributes and would never match.
   * @default ['critical']
   */
  readonly emailSeverities?: readonly AlertSeverity[] | 'all';
  /**
   * KMS key encrypting the topic. SNS's AWS-managed key cannot be used here: its key policy cannot
   * grant CloudWatch alarms (or other service publishers) the right to encrypt.
   * @default - a new customer-managed key with rotation, usable by CloudWatch
   */
  readonly masterKey?: IKey;
  /**
   * @default - CloudFormation generates one
   */
  readonly displayName?: string;
  /**
   * Let this account's CloudWatch alarms publish to the topic. With a topic policy in place (the
   * SSL-only Deny), CloudWatch needs an explicit Allow: `sns:Publish` for `cloudwatch.amazonaws.com`,
   * conditioned on this account (aws:SourceAccount) and on alarm ARNs of this account and region
   * whose names start with the stack's name (CloudFormation names alarms `<stack>-<id>-<hash>`).
   * Without it the alarms' notifications are refused and never arrive.
   * @default false
   */
  readonly allowCloudWatchAlarms?: boolean;
}

/**
 * The SNS topic alerts are published to (docs/design.md §7): KMS-encrypted, SSL-only, with email
 * subscriptions filtered by severity (default critical only). The Slack poster subscribes as a
 * Lambda (added by the notifications construct); publishers call `topic.grantPublish(fn)`, which
 * also grants the key.
 */
export class AlertTopic extends Construct {
  readonly topic: Topic;
  readonly masterKey: IKey;

  constructor(scope: Construct, id: string, props: AlertTopicProps = {}) {
    super(scope, id);
    const emails = props.emails ?? [];
    const severities = props.emailSeverities ?? ['critical'];
    validateProps(id, emails, severities);

    this.masterKey = props.masterKey ?? createTopicKey(this, 'Key');
    this.topic = new Topic(this, 'Topic', {
      masterKey: this.masterKey,
      enforceSSL: true,
      displayName: props.displayName,
    });
    // The daily digest (attribute kind=digest, severity=info) goes to every email subscriber too:
    // it is the one message a day that summarizes everything, whatever severities they filter.
    const filterPolicy =
      severities === 'all'
        ? undefined
        : { severity: SubscriptionFilter.stringFilter({ allowlist: [...severities, DIGEST_SEVERITY] }) };
    for (const email of emails) this.topic.addSubscription(new EmailSubscription(email, { filterPolicy }));
    if (props.allowCloudWatchAlarms) {
      const stack = Stack.of(this);
      this.topic.addToResourcePolicy(
        new PolicyStatement({
          sid: 'AllowCloudWatchAlarms',
          effect: Effect.ALLOW,
          principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [this.topic.topicArn],
          conditions: {
            StringEquals: { 'aws:SourceAccount': stack.account },
            ArnLike: {
              'aws:SourceArn': stack.formatArn({
                service: 'cloudwatch',
                resource: 'alarm',
                resourceName: `${stack.stackName}-*`,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            },
          },
        }),
      );
    }
  }
}

/** A customer-managed key for SNS topics that CloudWatch alarms can publish to. */
export function createTopicKey(scope: Construct, id: string): Key {
  const key = new Key(scope, id, {
    description: 'dualtrack SNS topics (alerts and operational alarms)',
    enableKeyRotation: true,
    pendingWindow: Duration.days(7),
    removalPolicy: RemovalPolicy.DESTROY,
  });
  // CloudWatch publishes alarm notifications to encrypted topics only with these two actions.
  key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
  return key;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function validateProps(id: string, emails: readonly string[], severities: readonly string[] | 'all'): void {
  const problems: string[] = [];
  for (const [i, e] of emails.entries()) if (!EMAIL.test(e)) problems.push(`emails[${i}] is not an email address`);
  if (new Set(emails).size !== emails.length) problems.push('emails has duplicates');
  if (severities !== 'all') {
    if (severities.length === 0) problems.push("emailSeverities must name at least one severity (or be 'all')");
    for (const [i, s] of severities.entries())
      if (!(SEVERITIES as readonly string[]).includes(s))
        problems.push(`emailSeverities[${i}] must be one of ${SEVERITIES.join(', ')} (got ${JSON.stringify(s)})`);
  }
  assertNoProblems('AlertTopic', id, problems);
}
