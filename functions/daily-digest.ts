import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import middy from '@middy/core';
import { createSnsNotifier } from '#shared/alerts/notify/sns.js';
import { listAlerts } from '#shared/alerts/store.js';
import { cutoverImage, dashboardData, renderDashboard } from '#shared/migration/dashboard.js';
import { buildDailyDigest } from '#shared/migration/digest.js';
import { type DailyDigest, withDashboardLink } from '#shared/migration/digest-format.js';
import { alertRunFromEnv } from './commons/alert-run.js';
import { s3Client, snsClient } from './commons/clients.js';
import { domainLogger, logger, metrics } from './commons/powertools.js';

/**
 * Scheduled once a day (EventBridge Scheduler): builds the daily digest (migration progress, 30-day
 * revenue sparklines per platform, open alerts) at now, or at `{"at": "…Z"}` when invoked by hand,
 * renders the migration dashboard (shared/migration/dashboard.ts) into DASHBOARD_BUCKET (private,
 * encrypted, objects expire) with a presigned link in the digest, and sends the digest through the
 * SNS notifier to ALERTS_TOPIC_ARN (email gets the text, the Slack subscriber the JSON).
 *
 * The link is signed for LINK_DAYS days, but a presigned URL also ends with the credentials that
 * signed it: signed with this function's role, it works for as long as that session lasts (hours).
 *
 * Environment: ALERTS_TOPIC_ARN, DASHBOARD_BUCKET, DB_CLUSTER_ARN, DB_SECRET_ARN, DT_DB_PREFIX,
 * DUALTRACK_CONFIG_JSON.
 */

export const LINK_DAYS = 7;

export interface DigestClients {
  sns: SNSClient;
  s3: S3Client;
}

export async function dailyDigest(
  event: unknown,
  env: NodeJS.ProcessEnv = process.env,
  now: () => Date = () => new Date(),
  clients: DigestClients = { sns: snsClient, s3: s3Client },
) {
  const { at, config, db, names, topicArn } = alertRunFromEnv(event, env, now);
  const open = await listAlerts(db, names, 'open');
  let digest: DailyDigest = await buildDailyDigest(db, names, config, at, open, now());
  const bucket = env.DASHBOARD_BUCKET;
  if (bucket) {
    const stem = `dashboards/${digest.at.slice(0, 10)}-${digest.at.slice(11, 19).replace(/:/g, '')}`;
    const data = await dashboardData(db, names, config, at, open, now());
    const html = renderDashboard(data);
    const chart = cutoverImage(data);
    const expiresIn = LINK_DAYS * 86_400;
    const store = async (Key: string, Body: string | Buffer, ContentType: string) => {
      await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body, ContentType }));
      return getSignedUrl(clients.s3, new GetObjectCommand({ Bucket: bucket, Key }), { expiresIn });
    };
    const url = await store(`${stem}.html`, html, 'text/html; charset=utf-8');
    const chartUrl = await store(`${stem}-cutover.png`, chart.png, 'image/png');
    digest = {
      ...withDashboardLink(digest, url, new Date(now().getTime() + expiresIn * 1000).toISOString().slice(0, 16)),
      cutover_chart: { url: chartUrl, legend: chart.legend },
    };
    domainLogger.info('dashboard stored', {
      bucket,
      key: `${stem}.html`,
      bytes: html.length,
      chartBytes: chart.png.length,
    });
  }
  let messageId = '';
  await createSnsNotifier(clients.sns, topicArn, (_, ids) => {
    messageId = ids[0] ?? '';
  }).digest(digest);
  domainLogger.info('daily digest published', {
    at: digest.at,
    messageId,
    affiliates: digest.migration.affiliates,
    overdue: digest.migration.overdue.length,
    openAlerts: digest.alerts.open,
  });
  metrics.addMetric('digestOverduePartners', MetricUnit.Count, digest.migration.overdue.length);
  return { at: digest.at, messageId, headline: digest.headline, dashboard: Boolean(digest.dashboard_url) };
}

export const handler = middy()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler((event: unknown) => dailyDigest(event));
