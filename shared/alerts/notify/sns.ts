import { PublishCommand, type PublishCommandInput, type SNSClient } from '@aws-sdk/client-sns';
import type { DailyDigest } from '../../migration/digest-format.js';
import { makeMessage, rulesOf, type AlertMessage } from './message.js';
import type { Notifier } from './port.js';

/**
 * Publishing grouped alert messages to the alerts SNS topic.
 *
 * - Message: the AlertMessage as JSON (2-space indented, so the email protocol stays readable), at
 *   most 262,144 BYTES (SNS's limit is bytes, not characters): over it, evidence rows are dropped
 *   first, then whole notifications from the end (counted in `omitted`).
 * - Subject (email subject line): the headline, < 100 characters, no line breaks or control chars.
 * - MessageAttributes, for subscription filter policies (docs/design.md §7):
 *     severity: String (critical | warning | info);
 *     rule: String when the message holds one rule, otherwise String.Array — a JSON array of the
 *       distinct rule ids, sorted — which an attribute filter policy matches when ANY element
 *       matches (`{"rule": ["tracking-outage"]}` receives every message that contains that rule).
 */

export const SNS_MAX_BYTES = 262_144;
export const SNS_SUBJECT_MAX = 99;

export function snsSubject(text: string): string {
  const one = text
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return one.length > SNS_SUBJECT_MAX ? `${one.slice(0, SNS_SUBJECT_MAX - 1)}…` : one;
}

/** The body, shrunk until it fits `maxBytes`. */
export function fitMessage(message: AlertMessage, maxBytes = SNS_MAX_BYTES): { body: string; message: AlertMessage } {
  const encode = (m: AlertMessage) => JSON.stringify(m, null, 2);
  let m = message;
  let body = encode(m);
  if (Buffer.byteLength(body, 'utf8') <= maxBytes) return { body, message: m };
  const lean = m.notifications.map((n) => ({ ...n, alert: { ...n.alert, evidence: [] } }));
  m = makeMessage(m.severity, m.at, lean, m.omitted);
  body = encode(m);
  let keep = lean.length;
  while (Buffer.byteLength(body, 'utf8') > maxBytes && keep > 0) {
    // Shrink proportionally, then one by one near the limit.
    const ratio = maxBytes / Buffer.byteLength(body, 'utf8');
    keep = Math.min(keep - 1, Math.max(0, Math.floor(keep * ratio)));
    m = makeMessage(message.severity, message.at, lean.slice(0, keep), message.omitted + (lean.length - keep));
    body = encode(m);
  }
  return { body, message: m };
}

export function publishInput(topicArn: string, message: AlertMessage): PublishCommandInput {
  const { body, message: fitted } = fitMessage(message);
  const rules = rulesOf(fitted.notifications.length ? fitted : message);
  return {
    TopicArn: topicArn,
    Subject: snsSubject(fitted.text),
    Message: body,
    MessageAttributes: {
      severity: { DataType: 'String', StringValue: message.severity },
      rule:
        rules.length === 1
          ? { DataType: 'String', StringValue: rules[0] }
          : { DataType: 'String.Array', StringValue: JSON.stringify(rules) },
    },
  };
}

/** Publishes each message (one per severity); returns the SNS message ids in order. */
export async function publishMessages(
  client: SNSClient,
  topicArn: string,
  messages: readonly AlertMessage[],
): Promise<string[]> {
  const ids: string[] = [];
  for (const m of messages) {
    const res = await client.send(new PublishCommand(publishInput(topicArn, m)));
    ids.push(res.MessageId ?? '');
  }
  return ids;
}

/**
 * The digest as one SNS message with per-protocol bodies (MessageStructure "json"): email (and
 * anything without its own key) reads the text, the Slack subscriber Lambda the JSON
 * (`kind: "digest"`). Attributes: `kind` = digest, `severity` = digest (its own value, so email
 * subscriptions filtered to critical still receive it, see infra/constructs/alert-topic.ts), `rule` = digest.
 */
export function digestPublishInput(topicArn: string, d: DailyDigest): PublishCommandInput {
  return {
    TopicArn: topicArn,
    Subject: snsSubject(d.headline),
    MessageStructure: 'json',
    Message: JSON.stringify({ default: d.text, email: d.text, lambda: JSON.stringify(d) }),
    MessageAttributes: {
      kind: { DataType: 'String', StringValue: 'digest' },
      severity: { DataType: 'String', StringValue: 'digest' },
      rule: { DataType: 'String', StringValue: 'digest' },
    },
  };
}

/** The SNS notifier: one Publish per grouped alert message, one for the digest. */
export function createSnsNotifier(
  client: SNSClient,
  topicArn: string,
  onPublished: (what: 'alerts' | 'digest', messageIds: string[]) => void = () => undefined,
): Notifier {
  return {
    async notify(messages) {
      onPublished('alerts', await publishMessages(client, topicArn, messages));
    },
    async digest(d) {
      const res = await client.send(new PublishCommand(digestPublishInput(topicArn, d)));
      onPublished('digest', [res.MessageId ?? '']);
    },
  };
}
