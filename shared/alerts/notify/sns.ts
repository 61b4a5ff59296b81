import { PublishCommand, type PublishCommandInput, type SNSClient } from '@aws-sdk/client-sns';
import { makeMessage, rulesOf, type AlertMessage } from './message.js';

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

/** The SNS notifier for `runEvaluation` (one Publish per grouped message). */
export function createSnsNotifier(
  client: SNSClient,
  topicArn: string,
): { notify(messages: readonly AlertMessage[]): Promise<void> } {
  return {
    async notify(messages) {
      await publishMessages(client, topicArn, messages);
    },
  };
}
