import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rdsDataClient } from '../../functions/commons/clients.js';
import { dailyDigest } from '../../functions/daily-digest.js';
import { parseConfig } from '#shared/config/load.js';
import { digestSlackPayload } from '#shared/migration/digest-format.js';
import {
  createDataApiOnMariaDb,
  type DataApiOnMariaDb,
  FAKE_RESOURCE_ARN,
  FAKE_SECRET_ARN,
  routeToFake,
} from '../helpers/data-api-on-mariadb.js';
import { DATABASE_URL, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { baseConfig } from '../rules/helpers.js';

/**
 * The daily-digest Lambda with the real SDK clients mocked at the client (S3 and SNS cannot run
 * here; the Data API is the MariaDB-backed fake): it stores the dashboard page in the bucket and
 * puts a presigned link to it into the digest that email and Slack receive.
 */

let t: TestDatabase;
let fake: DataApiOnMariaDb;
let rds: ReturnType<typeof routeToFake>;
beforeAll(async () => {
  t = await freshDatabase(['everflow', 'hitpath', 'cake']);
  fake = createDataApiOnMariaDb({ url: DATABASE_URL });
  rds = routeToFake(rdsDataClient, fake);
  await t.db.execute(
    `INSERT INTO ${t.names.core}.alerts (fingerprint, rule, severity, state, subject, summary, money_at_risk, first_seen_at, last_seen_at)
     VALUES (REPEAT('b', 64), 'cross-platform-duplicate', 'critical', 'open', '{"platforms":["hitpath","everflow"]}', 'one sale paid twice', 12.50, '2026-10-10 00:00:00', '2026-10-11 00:00:00')`,
  );
});
afterAll(async () => {
  rds.restore();
  await fake.close();
  await t.drop();
});

describe('daily-digest Lambda', () => {
  it('stores the dashboard (private bucket, HTML) and links it, signed for 7 days, in the email text and the Slack JSON', async () => {
    const config = parseConfig(baseConfig(t.names.prefix), 'test config');
    const s3 = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' } });
    const sns = new SNSClient({ region: 'eu-west-1' });
    const s3Mock = mockClient(s3);
    s3Mock.on(PutObjectCommand).resolves({});
    const snsMock = mockClient(sns);
    snsMock.on(PublishCommand).resolves({ MessageId: 'digest-1' });
    const env = {
      ALERTS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:alerts',
      DASHBOARD_BUCKET: 'dash-bucket',
      DB_CLUSTER_ARN: FAKE_RESOURCE_ARN,
      DB_SECRET_ARN: FAKE_SECRET_ARN,
      DT_DB_PREFIX: t.names.prefix,
      DUALTRACK_CONFIG_JSON: JSON.stringify(config),
    };
    const now = new Date('2026-10-12T08:00:00Z');
    const res = await dailyDigest({}, env, () => now, { s3, sns });
    expect(res).toMatchObject({ messageId: 'digest-1', dashboard: true });

    const puts = s3Mock.commandCalls(PutObjectCommand);
    expect(puts).toHaveLength(2);
    const put = puts[0].args[0].input;
    const png = puts[1].args[0].input;
    expect(png).toMatchObject({
      Bucket: 'dash-bucket',
      Key: 'dashboards/2026-10-12-080000-cutover.png',
      ContentType: 'image/png',
    });
    expect((png.Body as Buffer).subarray(1, 4).toString()).toBe('PNG');
    expect(put).toMatchObject({
      Bucket: 'dash-bucket',
      Key: 'dashboards/2026-10-12-080000.html',
      ContentType: 'text/html; charset=utf-8',
    });
    expect(String(put.Body)).toContain('<svg');
    expect(String(put.Body)).toContain('cross-platform-duplicate');

    const [pub] = snsMock.commandCalls(PublishCommand);
    const bodies = JSON.parse(pub.args[0].input.Message!);
    const digest = JSON.parse(bodies.lambda);
    const url = new URL(digest.dashboard_url);
    expect(url.protocol).toBe('https:');
    expect(url.hostname).toContain('dash-bucket');
    expect(url.pathname).toBe('/dashboards/2026-10-12-080000.html');
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(7 * 86_400));
    expect(bodies.email).toContain(digest.dashboard_url);
    expect(bodies.email).toContain('Dashboard (link valid until 2026-10-19T08:00)');
    const slack = digestSlackPayload(digest);
    expect(JSON.stringify(slack)).toContain('Open the migration dashboard');
    // Slack shows the cutover curve as an image from its presigned link.
    const image = slack.blocks.find((b) => b.type === 'image') as { image_url: string; alt_text: string };
    expect(new URL(image.image_url).pathname).toBe('/dashboards/2026-10-12-080000-cutover.png');
    expect(image.alt_text).toMatch(/^Cutover curve: daily revenue per platform \(blue: \w+/);
  });
});
