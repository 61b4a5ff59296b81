import { RDSDataClient } from '@aws-sdk/client-rds-data';

/**
 * AWS SDK clients, created once per Lambda container (module scope) so every invocation reuses
 * the same keep-alive connections (docs/style.md: `functions/commons/clients`). Region and credentials
 * come from the Lambda environment. Each client is annotated pure so esbuild drops the ones a
 * handler does not import: a handler bundle carries only the SDK packages it uses. Add new
 * clients (SQS, SNS, Secrets Manager) here the same way.
 */
export const rdsDataClient = /* @__PURE__ */ new RDSDataClient({});

// Alerts (evaluate-alerts publishes, notify-slack reads the webhook secret).
import { SNSClient } from '@aws-sdk/client-sns';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
export const snsClient = /* @__PURE__ */ new SNSClient({});
export const secretsManagerClient = /* @__PURE__ */ new SecretsManagerClient({});

// Ingestion (schedule-fetch and fetch-worker send to the queues).
import { SQSClient } from '@aws-sdk/client-sqs';
export const sqsClient = /* @__PURE__ */ new SQSClient({});

// The daily digest stores the dashboard page and signs a link to it.
import { S3Client } from '@aws-sdk/client-s3';
export const s3Client = /* @__PURE__ */ new S3Client({});
