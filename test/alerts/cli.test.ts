import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { SNSEvent } from 'aws-lambda';
import { command as evaluate } from '../../cli/commands/evaluate.js';
import { command as alerts } from '../../cli/commands/alerts.js';
import type { CliContext } from '../../cli/context.js';
import { ManualClock } from '#shared/util/clock.js';
import { silentLogger } from '#shared/util/logger.js';
import { runEvaluation } from '#shared/alerts/run.js';
import { createSnsNotifier } from '#shared/alerts/notify/sns.js';
import { notifySlack } from '../../functions/notify-slack.js';
import { createTestDb, insertConversions, insertSlice, mapEntity, type TestDb } from '../rules/helpers.js';

let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
  await mapEntity(tdb, 'affiliate', 'aff-001', { hitpath: '1001', everflow: '57' });
  await mapEntity(tdb, 'offer', 'off-77', { hitpath: '77', everflow: '12' });
  await insertConversions(tdb, 'hitpath', [
    { id: 'h1', at: '2026-10-01T10:00:00Z', aff: '1001', offer: '77', orderId: 'ORD-1', payout: '12.50' },
  ]);
  await insertConversions(tdb, 'everflow', [
    { id: 'e1', at: '2026-10-01T10:05:00Z', aff: '57', offer: '12', orderId: 'ORD-1', payout: '12.00' },
  ]);
  for (const p of ['hitpath', 'cake', 'everflow'])
    await insertSlice(tdb, {
      platform: p,
      status: 'done',
      plannedAt: '2026-10-20T11:00:00Z',
      finishedAt: '2026-10-20T11:30:00Z',
    });
});
afterAll(async () => tdb?.drop());

function context(env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const ctx: CliContext = {
    config: () => tdb.config,
    db: () => tdb.db,
    names: () => tdb.names,
    env,
    clock: new ManualClock(new Date('2026-10-20T12:00:00Z')),
    logger: silentLogger,
    stdout,
    stderr,
  };
  return { ctx, out: () => out, err: () => err };
}

const KEYS = [
  'rule',
  'severity',
  'state',
  'fingerprint',
  'subject',
  'summary',
  'metrics',
  'money_at_risk',
  'evidence',
  'first_seen_at',
  'last_seen_at',
];

describe('dualtrack evaluate --json / alerts', () => {
  it('prints one DESIGN §7 object per line and notifies on stderr', async () => {
    const c = context();
    expect(await evaluate.run(['--at', '2026-10-20T12:00:00Z', '--json'], c.ctx)).toBe(0);
    const lines = c.out().trim().split('\n');
    const objs = lines.map((l) => JSON.parse(l));
    const dup = objs.find((o) => o.rule === 'cross-platform-duplicate');
    expect(Object.keys(dup)).toEqual(KEYS);
    expect(dup).toMatchObject({
      severity: 'critical',
      state: 'open',
      subject: {
        offer: { hitpath: '77', everflow: '12' },
        affiliate: { hitpath: '1001', everflow: '57' },
        platforms: ['hitpath', 'everflow'],
      },
      money_at_risk: '12.00',
      first_seen_at: '2026-10-20T12:00:00.000Z',
      last_seen_at: '2026-10-20T12:00:00.000Z',
    });
    expect(dup.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(c.err()).toContain('dualtrack CRITICAL: 1 new');
    // a second run an hour later is quiet (no notification) but still prints the firing alert
    const c2 = context();
    await evaluate.run(['--at', '2026-10-20T13:00:00Z', '--json'], c2.ctx);
    expect(c2.err()).toBe('');
    expect(
      c2
        .out()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).last_seen_at),
    ).toContain('2026-10-20T13:00:00.000Z');
  });

  it('lists, mutes by prefix and acknowledges', async () => {
    const l = context();
    await alerts.run(['list', '--json'], l.ctx);
    const [first] = l
      .out()
      .trim()
      .split('\n')
      .map((x) => JSON.parse(x));
    expect(Object.keys(first)).toEqual(KEYS);
    const m = context();
    expect(
      await alerts.run(['mute', first.fingerprint.slice(0, 8), '--for', '24h', '--note', 'finance aware'], m.ctx),
    ).toBe(0);
    expect(m.out()).toContain('until 2026-10-21T12:00:00.000Z');
    const a = context({ USER: 'ops' });
    expect(await alerts.run(['ack', first.fingerprint], a.ctx)).toBe(0);
    expect(a.out()).toContain('by ops');
    const text = context();
    await alerts.run(['list'], text.ctx);
    expect(text.out()).toContain('muted until 2026-10-21T12:00:00.000Z acked by ops');
    const bad = context();
    expect(await alerts.run(['ack', 'abc'], bad.ctx)).toBe(1);
    expect(bad.err()).toMatch(/8 to 64 hex/);
    await expect(alerts.run(['mute', first.fingerprint], context().ctx)).rejects.toThrow(/--until T or --for/);
  });
});

describe('SNS → Slack path', () => {
  let server: Server;
  let url: string;
  const posts: unknown[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        posts.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('publishes grouped messages that notify-slack posts once per SNS MessageId', async () => {
    await tdb.db.execute(`DELETE FROM ${tdb.names.core}.alerts`);
    const sns = mockClient(SNSClient);
    sns.on(PublishCommand).resolves({ MessageId: 'x' });
    const result = await runEvaluation({
      db: tdb.db,
      names: tdb.names,
      config: tdb.config,
      at: new Date('2026-10-20T12:00:00Z'),
      notifier: createSnsNotifier(new SNSClient({ region: 'us-east-1' }), 'arn:aws:sns:us-east-1:1:alerts'),
    });
    expect(result.messages.map((m) => m.severity)).toEqual(['critical']);
    const published = sns.commandCalls(PublishCommand)[0].args[0].input;
    sns.restore();
    const event = {
      Records: [
        { Sns: { MessageId: 'sns-1', Message: published.Message } },
        { Sns: { MessageId: 'sns-bad', Message: 'hello' } },
      ],
    } as unknown as SNSEvent;
    const deps = { db: tdb.db, prefix: tdb.names.prefix, webhookUrl: async () => url };
    expect((await notifySlack(event, deps)).map((r) => r.outcome)).toEqual(['sent', 'invalid']);
    expect((await notifySlack(event, deps)).map((r) => r.outcome)).toEqual(['duplicate', 'invalid']);
    expect(posts).toHaveLength(1);
    expect(JSON.stringify(posts[0])).toContain('cross-platform-duplicate');
  });
});

describe('Slack delivery when the webhook fails', () => {
  let server: Server;
  let url: string;
  /** What the server does with the next posts ('fail' → 500, a number → that status, 'ok' → 200). */
  let plan: (number | 'ok')[] = [];
  const received: { status: number; body: string }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const next = plan.shift() ?? 'ok';
        const status = next === 'ok' ? 200 : next;
        received.push({ status, body });
        res.statusCode = status;
        res.end(status === 200 ? 'ok' : status === 404 ? 'no_service' : 'oops');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const alertMessage = (id: string) =>
    JSON.stringify({
      source: 'dualtrack',
      version: 1,
      severity: 'critical',
      at: '2026-10-20T12:00:00.000Z',
      text: `alert ${id}`,
      counts: { opened: 1 },
      notifications: [
        {
          kind: 'opened',
          alert: {
            rule: 'tracking-outage',
            fingerprint: 'f'.repeat(64),
            summary: id,
            subject: { platforms: ['everflow'] },
            first_seen_at: '2026-10-20T11:00:00.000Z',
            money_at_risk: null,
          },
        },
      ],
      omitted: 0,
    });
  const event = (messageId: string, message: string) =>
    ({ Records: [{ Sns: { MessageId: messageId, Message: message } }] }) as unknown as SNSEvent;
  const delivered = () => received.filter((r) => r.status === 200);

  it('a post that fails five times is delivered exactly once by the retry Lambda makes a minute later', async () => {
    received.length = 0;
    plan = [500, 500, 500, 500, 500];
    let now = Date.parse('2026-10-20T12:00:00Z');
    const deps = {
      db: tdb.db,
      prefix: tdb.names.prefix,
      webhookUrl: async () => url,
      now: () => new Date(now),
      post: { sleep: async () => undefined, maxAttempts: 5 },
    };
    const ev = event('sns-flaky', alertMessage('flaky'));
    await expect(notifySlack(ev, deps)).rejects.toThrow(/answered 500 5 times/);
    expect(delivered()).toHaveLength(0);
    // Lambda's first async retry comes about a minute later, well inside the 2-minute claim lease.
    now += 60_000;
    expect((await notifySlack(ev, deps)).map((r) => r.outcome)).toEqual(['sent']);
    // SNS delivering the same message again, and Lambda's second retry: duplicates.
    now += 120_000;
    expect((await notifySlack(ev, deps)).map((r) => r.outcome)).toEqual(['duplicate']);
    expect(received.map((r) => r.status)).toEqual([500, 500, 500, 500, 500, 200]);
    expect(delivered()).toHaveLength(1);
    expect(delivered()[0].body).toContain('flaky');
  });

  it('a webhook Slack refuses for good (404 no_service) fails loudly, and the message posts once the webhook is fixed', async () => {
    received.length = 0;
    plan = [404];
    const deps = {
      db: tdb.db,
      prefix: tdb.names.prefix,
      webhookUrl: async () => url,
      post: { sleep: async () => undefined },
    };
    const ev = event('sns-revoked', alertMessage('revoked'));
    await expect(notifySlack(ev, deps)).rejects.toThrow(/rejected the message: HTTP 404 no_service/);
    expect(received).toHaveLength(1); // no retries inside the invocation for a 4xx
    // Redriven from the DLQ after the operator fixed the webhook secret: posts at once.
    expect((await notifySlack(ev, deps)).map((r) => r.outcome)).toEqual(['sent']);
    expect(delivered()).toHaveLength(1);
  });

  it('a delivery already in flight is not answered "duplicate": the invocation fails so Lambda retries it', async () => {
    received.length = 0;
    const now = new Date('2026-10-20T12:00:00Z');
    await tdb.db.execute(
      `INSERT INTO ${tdb.names.core}.slack_deliveries (message_id, status, attempts, claimed_at) VALUES ('sns-inflight', 'sending', 1, :t)`,
      { t: '2026-10-20 11:59:30.000' },
    );
    const deps = { db: tdb.db, prefix: tdb.names.prefix, webhookUrl: async () => url, now: () => now };
    const ev = event('sns-inflight', alertMessage('inflight'));
    await expect(notifySlack(ev, deps)).rejects.toThrow(/being posted to Slack by another invocation/);
    expect(received).toHaveLength(0);
    // The other invocation died: once its lease is over, the retry takes over and posts.
    const later = { ...deps, now: () => new Date(now.getTime() + 120_000) };
    expect((await notifySlack(ev, later)).map((r) => r.outcome)).toEqual(['sent']);
    expect(delivered()).toHaveLength(1);
  });

  it('posts a CloudWatch alarm from the operations topic as plain text', async () => {
    received.length = 0;
    const alarm = {
      AlarmName: 'dualtrack-NormalizeDlqAlarm',
      AlarmDescription: 'normalize messages in the dead-letter queue',
      NewStateValue: 'ALARM',
      OldStateValue: 'OK',
      NewStateReason: 'Threshold Crossed: 1 datapoint [3.0 (20/10/26 12:00:00)] was >= the threshold (1.0).',
      StateChangeTime: '2026-10-20T12:01:00.000+0000',
      Region: 'US East (N. Virginia)',
      Trigger: { MetricName: 'ApproximateNumberOfMessagesVisible' },
    };
    const deps = { db: tdb.db, prefix: tdb.names.prefix, webhookUrl: async () => url };
    expect((await notifySlack(event('sns-alarm', JSON.stringify(alarm)), deps)).map((r) => r.outcome)).toEqual([
      'sent',
    ]);
    const body = JSON.parse(delivered()[0].body) as { text: string; blocks: { text: { text: string } }[] };
    expect(body.text).toBe('ALARM: dualtrack-NormalizeDlqAlarm');
    expect(body.blocks[0].text.text).toContain(':rotating_light: *ALARM*: dualtrack-NormalizeDlqAlarm (was OK)');
    expect(body.blocks[0].text.text).toContain(
      'Threshold Crossed: 1 datapoint [3.0 (20/10/26 12:00:00)] was &gt;= the threshold',
    );
  });
});
