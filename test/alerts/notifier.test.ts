import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalNotifier } from '#shared/alerts/notify/local.js';
import { createSnsNotifier, digestPublishInput } from '#shared/alerts/notify/sns.js';
import { parseConfig } from '#shared/config/load.js';
import { digestSlackPayload, type DailyDigest } from '#shared/migration/digest.js';
import { silentLogger } from '#shared/util/logger.js';
import { baseConfig } from '../rules/helpers.js';

/** The digest goes through the same notifier port as alerts: SNS in AWS, print + Slack locally. */

const digest: DailyDigest = {
  source: 'dualtrack',
  version: 1,
  kind: 'digest',
  at: '2026-11-02T06:00:00.000Z',
  days: { from: '2026-10-03', to: '2026-11-02' },
  headline: 'dualtrack digest 2026-11-01: 3/5 partners on everflow, 1 overdue, 1 open alert (1 critical)',
  migration: {
    affiliates: 5,
    states: { 'legacy-only': 1, dual: 1, migrated: 2, retired: 1 },
    on_target: 3,
    overdue: [
      {
        canonical_key: 'acme',
        affiliate: { hitpath: '77' },
        tier: 1,
        due_date: '2026-10-20',
        state: 'dual',
        legacy_revenue_before_start: '1234.50',
      },
    ],
    changed_yesterday: [],
    waves: [{ tier: 1, due_date: '2026-10-20', affiliates: 5, on_target: 3 }],
  },
  revenue: [{ platform: 'hitpath', daily: ['10.00', '5.00'], sparkline: '█▁', total: '15.00', last_day: '5.00' }],
  alerts: {
    open: 1,
    by_severity: { critical: 1 },
    top: [
      {
        severity: 'critical',
        rule: 'tracking-outage',
        summary: 'offer 12 stopped',
        first_seen_at: '2026-11-01T03:00:00.000Z',
      },
    ],
  },
  text: 'dualtrack digest 2026-11-01: 3/5 partners on everflow\n\nMigration: …',
};

describe('SNS notifier', () => {
  it('publishes the digest as one per-protocol message to the topic, and reports its id', async () => {
    const sns = mockClient(SNSClient);
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const published: [string, string[]][] = [];
    const topic = 'arn:aws:sns:eu-west-1:123456789012:dualtrack-alerts';
    await createSnsNotifier(new SNSClient({ region: 'eu-west-1' }), topic, (what, ids) =>
      published.push([what, ids]),
    ).digest(digest);
    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toEqual({
      TopicArn: topic,
      Subject: digest.headline,
      MessageStructure: 'json',
      Message: JSON.stringify({ default: digest.text, email: digest.text, lambda: JSON.stringify(digest) }),
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: 'digest' },
        severity: { DataType: 'String', StringValue: 'digest' },
        rule: { DataType: 'String', StringValue: 'digest' },
      },
    });
    expect(calls[0].args[0].input).toEqual(digestPublishInput(topic, digest));
    expect(published).toEqual([['digest', ['m-1']]]);
    sns.restore();
  });
});

describe('local notifier', () => {
  let server: Server;
  let url = '';
  const bodies: unknown[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        bodies.push(JSON.parse(body));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const config = parseConfig(baseConfig('dtnotifier'), 'test config');

  it('prints the digest text and posts the Slack digest blocks when a webhook is set', async () => {
    const out = new PassThrough();
    let printed = '';
    out.on('data', (c) => {
      printed += c;
    });
    bodies.length = 0;
    const env = { [config.alerts.slackWebhookEnv]: url };
    await createLocalNotifier({ out, config, env, logger: silentLogger }).digest(digest);
    expect(printed).toBe(`${digest.text}\n`);
    expect(bodies).toEqual([JSON.parse(JSON.stringify(digestSlackPayload(digest)))]);
  });

  it('without a webhook it only prints', async () => {
    bodies.length = 0;
    const out = new PassThrough();
    await createLocalNotifier({ out, config, env: {}, logger: silentLogger }).digest(digest);
    expect(String(out.read())).toContain('3/5 partners on everflow');
    expect(bodies).toEqual([]);
  });
});
