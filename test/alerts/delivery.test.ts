import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { groupNotifications, type AlertMessage } from '#shared/alerts/notify/message.js';
import { formatSlackMessage, MAX_BLOCKS, MAX_SECTION_CHARS } from '#shared/alerts/notify/slack.js';
import { publishMessages, SNS_MAX_BYTES } from '#shared/alerts/notify/sns.js';
import { postSlackWebhook, SlackWebhookError } from '#shared/alerts/notify/webhook.js';
import type { AlertNotification } from '#shared/alerts/types.js';
import type { RuleId, Severity } from '#shared/config/schema.js';

const at = new Date('2026-10-20T12:00:00Z');
function note(
  i: number,
  severity: Severity,
  rule: RuleId = 'cross-platform-duplicate',
  kind: AlertNotification['kind'] = 'opened',
  summary?: string,
): AlertNotification {
  return {
    kind,
    alert: {
      rule,
      severity,
      state: kind === 'resolved' ? 'resolved' : 'open',
      fingerprint: i.toString(16).padStart(64, '0'),
      subject: {
        offer: { hitpath: '77', everflow: '12' },
        affiliate: { hitpath: '1001', everflow: '57' },
        platforms: ['hitpath', 'everflow'],
      },
      summary: summary ?? `Alert ${i}: ${'x'.repeat(300)}`,
      metrics: { duplicates: i },
      money_at_risk: '12.50',
      evidence: [{ order_id: `ORD-${i}` }],
      first_seen_at: '2026-10-20T11:00:00.000Z',
      last_seen_at: '2026-10-20T12:00:00.000Z',
    },
  };
}

describe('grouping', () => {
  it('makes at most one message per severity, critical first', () => {
    const msgs = groupNotifications(
      [
        note(1, 'warning'),
        note(2, 'critical'),
        note(3, 'warning', 'dual-running', 'resolved'),
        note(4, 'critical', 'stale-source'),
      ],
      at,
    );
    expect(msgs.map((m) => [m.severity, m.notifications.length])).toEqual([
      ['critical', 2],
      ['warning', 2],
    ]);
    expect(msgs[1].text).toBe('dualtrack WARNING: 1 new, 1 resolved');
  });
});

describe('Slack Block Kit', () => {
  it('keeps 200 alerts within Slack limits and says how many were left out', () => {
    const [msg] = groupNotifications(
      Array.from({ length: 200 }, (_, i) =>
        note(i, 'critical', 'cross-platform-duplicate', 'opened', `Alert ${i}: ${'é<&>'.repeat(900)}`),
      ),
      at,
    );
    const payload = formatSlackMessage(msg);
    expect(payload.blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
    for (const b of payload.blocks)
      if (b.type === 'section') expect(b.text.text.length).toBeLessThanOrEqual(MAX_SECTION_CHARS);
    const sections = payload.blocks.filter((b) => b.type === 'section').length;
    const last = payload.blocks[payload.blocks.length - 1];
    expect(last.type).toBe('context');
    expect(JSON.stringify(last)).toContain(`…and ${200 - sections} more`);
    expect(sections).toBeGreaterThan(0);
    // truncation never cuts an entity in half
    for (const b of payload.blocks) if (b.type === 'section') expect(b.text.text).not.toMatch(/&(a|am|l|g|lt|gt)?…/);
  });

  it('escapes & < > in data (an affiliate named <b>&co)', () => {
    const [msg] = groupNotifications(
      [note(1, 'warning', 'dual-running', 'opened', 'Affiliate <b>&co (hitpath 1001) runs both')],
      at,
    );
    const section = formatSlackMessage(msg).blocks.find((b) => b.type === 'section')!;
    expect(section.type === 'section' && section.text.text).toContain(
      'Affiliate &lt;b&gt;&amp;co (hitpath 1001) runs both',
    );
    expect(JSON.stringify(formatSlackMessage(msg))).not.toContain('<b>');
  });
});

describe('SNS publisher', () => {
  it('publishes one message per severity with exact Subject, attributes and body', async () => {
    const sns = mockClient(SNSClient);
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const msgs = groupNotifications(
      [
        note(1, 'critical', 'tracking-outage'),
        note(2, 'warning', 'dual-running'),
        note(3, 'warning', 'platform-duplicate', 'resolved'),
      ],
      at,
    );
    const ids = await publishMessages(
      new SNSClient({ region: 'us-east-1' }),
      'arn:aws:sns:us-east-1:123456789012:alerts',
      msgs,
    );
    expect(ids).toEqual(['m-1', 'm-1']);
    const calls = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      {
        TopicArn: 'arn:aws:sns:us-east-1:123456789012:alerts',
        Subject: 'dualtrack CRITICAL: 1 new',
        Message: JSON.stringify(msgs[0], null, 2),
        MessageAttributes: {
          severity: { DataType: 'String', StringValue: 'critical' },
          rule: { DataType: 'String', StringValue: 'tracking-outage' },
        },
      },
      {
        TopicArn: 'arn:aws:sns:us-east-1:123456789012:alerts',
        Subject: 'dualtrack WARNING: 1 new, 1 resolved',
        Message: JSON.stringify(msgs[1], null, 2),
        MessageAttributes: {
          severity: { DataType: 'String', StringValue: 'warning' },
          rule: { DataType: 'String.Array', StringValue: '["dual-running","platform-duplicate"]' },
        },
      },
    ]);
    const body = JSON.parse(calls[0].Message!) as AlertMessage;
    expect(body.notifications[0].alert.rule).toBe('tracking-outage');
    sns.restore();
  });

  it('shrinks an oversized body under 256 KB and a long subject under 100 chars without line breaks', async () => {
    const sns = mockClient(SNSClient);
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    const big = Array.from({ length: 400 }, (_, i) =>
      note(i, 'info', 'migration-lagging-partner', 'opened', `Partner ${i} ${'ü'.repeat(800)}`),
    );
    const [msg] = groupNotifications(big, at);
    await publishMessages(new SNSClient({ region: 'us-east-1' }), 'arn:aws:sns:us-east-1:123456789012:alerts', [
      { ...msg, text: `line one\nline two ${'y'.repeat(200)}` },
    ]);
    const input = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(Buffer.byteLength(input.Message!, 'utf8')).toBeLessThanOrEqual(SNS_MAX_BYTES);
    const body = JSON.parse(input.Message!) as AlertMessage;
    expect(body.omitted).toBeGreaterThan(0);
    expect(body.notifications.length + body.omitted).toBe(400);
    expect(body.notifications[0].alert.evidence).toEqual([]);
    expect(input.Subject!.length).toBeLessThan(100);
    expect(input.Subject).not.toMatch(/[\r\n]/);
    sns.restore();
  });
});

describe('Slack webhook poster', () => {
  let server: Server;
  let url: string;
  const received: { at: number; body: string }[] = [];
  let answers: { status: number; headers?: Record<string, string> }[] = [];
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ at: Date.now(), body });
        const a = answers.shift() ?? { status: 200 };
        res.writeHead(a.status, { 'content-type': 'text/plain', ...(a.headers ?? {}) });
        res.end(a.status === 200 ? 'ok' : a.status === 429 ? 'rate_limited' : 'invalid_payload');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/secretpart`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('waits exactly Retry-After on 429, then delivers', async () => {
    received.length = 0;
    answers = [
      { status: 429, headers: { 'retry-after': '7' } },
      { status: 429, headers: { 'retry-after': '2' } },
    ];
    const slept: number[] = [];
    const r = await postSlackWebhook(url, { text: 'hi' }, { sleep: async (ms) => void slept.push(ms) });
    expect(slept).toEqual([7000, 2000]);
    expect(r).toEqual({ attempts: 3, waitedMs: 9000 });
    expect(received.map((x) => JSON.parse(x.body))).toEqual([{ text: 'hi' }, { text: 'hi' }, { text: 'hi' }]);
  });

  it('fails at once on a 400 without putting the URL in the error', async () => {
    answers = [{ status: 400 }];
    const err = await postSlackWebhook(url, { text: 'x' }, { sleep: async () => undefined }).catch((e) => e);
    expect(err).toBeInstanceOf(SlackWebhookError);
    expect(err.message).toContain('HTTP 400 invalid_payload');
    expect(err.message).not.toContain('secretpart');
  });
});
