import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { SNSEvent } from 'aws-lambda';
import * as z from 'zod';
import { dbNames } from '#shared/db/names.js';
import type { Db } from '#shared/db/port.js';
import { deliverSlackMessage } from '#shared/alerts/notify/slack-delivery.js';
import { escapeSlack, type SlackPayload } from '#shared/alerts/notify/slack.js';
import { type PostOptions, SlackWebhookError } from '#shared/alerts/notify/webhook.js';
import type { AlertMessage } from '#shared/alerts/notify/message.js';
import { digestSlackPayload, type DailyDigest } from '#shared/migration/digest-format.js';
import { secretsManagerClient } from './commons/clients.js';
import { dataApiDbFromEnv, MissingEnvironmentError } from './commons/database.js';
import { domainLogger, logger } from './commons/powertools.js';

/**
 * SNS subscriber of the alerts topic and of the operations topic: formats each grouped alert message
 * as Slack Block Kit (a CloudWatch alarm as plain text, so a stack without email addresses still
 * tells someone that a DLQ filled up) and posts it to the incoming webhook, idempotently per SNS MessageId (slack_deliveries claim, see
 * shared/alerts/notify/slack-delivery.ts). The webhook URL is read ONCE per container from Secrets
 * Manager (SLACK_WEBHOOK_SECRET_ARN; the secret is the URL, or JSON {"url": "…"}) and never logged.
 * A record whose body is not a dualtrack alert message is logged and skipped on purpose: retrying
 * cannot fix it, and SNS would retry it for 23 days.
 */

const messageSchema = z.looseObject({
  source: z.literal('dualtrack'),
  version: z.literal(1),
  severity: z.enum(['critical', 'warning', 'info']),
  at: z.string(),
  text: z.string(),
  notifications: z.array(
    z.looseObject({
      kind: z.string(),
      alert: z.looseObject({
        rule: z.string(),
        fingerprint: z.string(),
        summary: z.string(),
        subject: z.looseObject({ platforms: z.array(z.string()) }),
        first_seen_at: z.string(),
        money_at_risk: z.string().nullable(),
      }),
    }),
  ),
  omitted: z.number().int().min(0),
});
const digestSchema = z.looseObject({
  source: z.literal('dualtrack'),
  dashboard_url: z
    .string()
    .regex(/^https:\/\/[^\s|<>]+$/, 'expected an https link')
    .nullish(),
  cutover_chart: z
    .object({ url: z.string().regex(/^https:\/\/\S+$/, 'expected an https link'), legend: z.string() })
    .nullish(),
  version: z.literal(1),
  kind: z.literal('digest'),
  at: z.string(),
  headline: z.string(),
  migration: z.looseObject({
    states: z.record(z.string(), z.number()),
    waves: z.array(z.looseObject({})),
    overdue: z.array(z.looseObject({})),
  }),
  revenue: z.array(z.looseObject({ platform: z.string(), sparkline: z.string(), last_day: z.string() })),
  alerts: z.looseObject({
    open: z.number(),
    top: z.array(z.looseObject({ severity: z.string(), rule: z.string(), summary: z.string() })),
  }),
});
/** A CloudWatch alarm state change as CloudWatch publishes it to SNS (the operations topic). */
const alarmSchema = z.looseObject({
  AlarmName: z.string(),
  NewStateValue: z.string(),
  NewStateReason: z.string().optional(),
  OldStateValue: z.string().optional(),
  StateChangeTime: z.string().optional(),
  AlarmDescription: z.string().nullish(),
  Region: z.string().optional(),
});

/** Plain Slack text for an alarm: what, which state, why, where, when. */
export function alarmSlackPayload(a: z.infer<typeof alarmSchema>): SlackPayload {
  const icon =
    a.NewStateValue === 'ALARM'
      ? ':rotating_light:'
      : a.NewStateValue === 'OK'
        ? ':white_check_mark:'
        : ':grey_question:';
  const e = escapeSlack;
  const lines = [
    `${icon} *${e(a.NewStateValue)}*: ${e(a.AlarmName)}${a.OldStateValue ? ` (was ${e(a.OldStateValue)})` : ''}`,
    ...(a.AlarmDescription ? [e(a.AlarmDescription)] : []),
    ...(a.NewStateReason ? [e(a.NewStateReason)] : []),
    e([a.Region, a.StateChangeTime].filter(Boolean).join(' · ')),
  ].filter((l) => l !== '');
  const text = lines.join('\n').slice(0, 2900);
  return { text: `${a.NewStateValue}: ${a.AlarmName}`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
}

const recordSchema = z.looseObject({ Sns: z.looseObject({ MessageId: z.string().min(1), Message: z.string() }) });
const eventSchema = z.looseObject({ Records: z.array(recordSchema) });

let webhookUrl: Promise<string> | undefined;
export function webhookUrlOnce(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (!webhookUrl) {
    const arn = env.SLACK_WEBHOOK_SECRET_ARN;
    if (!arn) throw new MissingEnvironmentError(['SLACK_WEBHOOK_SECRET_ARN']);
    webhookUrl = secretsManagerClient.send(new GetSecretValueCommand({ SecretId: arn })).then((r) => {
      const s = (r.SecretString ?? '').trim();
      const url = s.startsWith('{')
        ? String(
            (JSON.parse(s) as { url?: string; webhookUrl?: string }).url ??
              (JSON.parse(s) as { webhookUrl?: string }).webhookUrl ??
              '',
          )
        : s;
      if (!/^https:\/\//.test(url)) throw new Error('the Slack webhook secret does not hold an https URL');
      return url;
    });
    webhookUrl.catch(() => (webhookUrl = undefined)); // a failed read is retried on the next invocation
  }
  return webhookUrl;
}

let dbSingleton: Db | undefined;

export async function notifySlack(
  event: SNSEvent,
  deps: { db: Db; prefix: string; webhookUrl: () => Promise<string>; now?: () => Date; post?: PostOptions },
) {
  const { Records } = eventSchema.parse(event);
  const names = dbNames(deps.prefix);
  const results: { messageId: string; outcome: 'sent' | 'duplicate' | 'invalid' }[] = [];
  const deliver = async (messageId: string, message: AlertMessage, payload?: SlackPayload) => {
    try {
      return await deliverSlackMessage({
        db: deps.db,
        names,
        messageId,
        message,
        payload,
        webhookUrl: await deps.webhookUrl(),
        now: deps.now?.() ?? new Date(),
        post: deps.post,
      });
    } catch (e) {
      // A revoked or rotated webhook: read the secret again on the next attempt.
      if (e instanceof SlackWebhookError && e.status !== undefined && [403, 404, 410].includes(e.status))
        webhookUrl = undefined;
      domainLogger.error('slack delivery failed', { messageId, error: (e as Error).message });
      throw e;
    }
  };
  for (const r of Records) {
    let body: unknown;
    try {
      body = JSON.parse(r.Sns.Message);
    } catch {
      body = null;
    }
    // The daily digest (shared/migration/digest.ts) shares the topic; it brings its own Block Kit.
    const digest = digestSchema.safeParse(body);
    if (digest.success) {
      const d = digest.data as unknown as DailyDigest;
      const outcome = await deliver(r.Sns.MessageId, plainMessage(d.at, d.headline), digestSlackPayload(d));
      domainLogger.info('slack delivery', { messageId: r.Sns.MessageId, outcome, kind: 'digest' });
      results.push({ messageId: r.Sns.MessageId, outcome });
      continue;
    }
    // CloudWatch alarms of the operations topic (DLQ depth, queue age …): posted plainly.
    const alarm = alarmSchema.safeParse(body);
    if (alarm.success) {
      const a = alarm.data;
      const outcome = await deliver(
        r.Sns.MessageId,
        plainMessage(a.StateChangeTime ?? new Date().toISOString(), `${a.NewStateValue}: ${a.AlarmName}`),
        alarmSlackPayload(a),
      );
      domainLogger.info('slack delivery', { messageId: r.Sns.MessageId, outcome, kind: 'alarm', alarm: a.AlarmName });
      results.push({ messageId: r.Sns.MessageId, outcome });
      continue;
    }
    const parsed = messageSchema.safeParse(body);
    if (!parsed.success) {
      domainLogger.error('not a dualtrack alert message; skipped', {
        messageId: r.Sns.MessageId,
        issues: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`),
      });
      results.push({ messageId: r.Sns.MessageId, outcome: 'invalid' });
      continue;
    }
    const outcome = await deliver(r.Sns.MessageId, parsed.data as unknown as AlertMessage);
    domainLogger.info('slack delivery', {
      messageId: r.Sns.MessageId,
      outcome,
      severity: parsed.data.severity,
      notifications: parsed.data.notifications.length,
    });
    results.push({ messageId: r.Sns.MessageId, outcome });
  }
  return results;
}

function plainMessage(at: string, text: string): AlertMessage {
  return { source: 'dualtrack', version: 1, severity: 'info', at, text, counts: {}, notifications: [], omitted: 0 };
}

export const handler = middy<SNSEvent>()
  .use(injectLambdaContext(logger))
  .handler((event: SNSEvent) => {
    if (!process.env.DT_DB_PREFIX) throw new MissingEnvironmentError(['DT_DB_PREFIX']);
    dbSingleton ??= dataApiDbFromEnv();
    return notifySlack(event, {
      db: dbSingleton,
      prefix: process.env.DT_DB_PREFIX,
      webhookUrl: () => webhookUrlOnce(),
    });
  });
