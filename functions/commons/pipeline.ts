import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { dbNames } from '#shared/db/names.js';
import { hmacContext, type PipelineDeps, type PipelineMetrics } from '#shared/pipeline/deps.js';
import { DbRateLimiter } from '#shared/platforms/rate-limit.js';
import { createConnectors, rateLimitSpecs } from '#shared/platforms/registry.js';
import { SqsQueueSender } from '#shared/queue/sqs.js';
import { systemClock } from '#shared/util/clock.js';
import { NORMALIZE_QUEUE, fetchQueueName } from '#shared/pipeline/messages.js';
import { secretsManagerClient, sqsClient } from './clients.js';
import { configFromEnv } from './config.js';
import { dataApiDbFromEnv, dbPrefixFromEnv, MissingEnvironmentError } from './database.js';
import { domainLogger, metrics } from './powertools.js';

/**
 * Pipeline dependencies in AWS, built once per container: Data API database, SQS sender, the
 * shared rate-limit buckets, connectors from the config, and secrets from Secrets Manager
 * (fetched once and cached for the container's life; never logged).
 *
 * Environment (set by the stack): DUALTRACK_CONFIG_JSON, DB_CLUSTER_ARN, DB_SECRET_ARN,
 * DT_DB_PREFIX, NORMALIZE_QUEUE_URL, FETCH_QUEUE_URLS_JSON ({"<platform>": url}),
 * PLATFORM_SECRET_ARNS_JSON ({"<platform>": secret arn}; Partnerize's secret holds
 * "applicationKey:userApiKey"), HASH_KEY_SECRET_ARN (the normalize worker only: it alone hashes).
 */

const secretCache = new Map<string, Promise<string>>();
function secretValue(arn: string): Promise<string> {
  let p = secretCache.get(arn);
  if (!p) {
    p = secretsManagerClient.send(new GetSecretValueCommand({ SecretId: arn })).then((r) => {
      if (!r.SecretString) throw new Error(`secret ${arn} has no string value`);
      return r.SecretString;
    });
    p.catch(() => secretCache.delete(arn));
    secretCache.set(arn, p);
  }
  return p;
}

const powertoolsMetrics: PipelineMetrics = {
  add(name, platform, value) {
    if (value === 0) return;
    const m = metrics.singleMetric();
    m.addDimension('platform', platform);
    m.addMetric(name, MetricUnit.Count, value);
  },
};

function json(env: NodeJS.ProcessEnv, name: string): Record<string, string> {
  const v = env[name];
  if (!v) throw new MissingEnvironmentError([name]);
  return JSON.parse(v) as Record<string, string>;
}

let cached: Promise<PipelineDeps> | undefined;

export function pipelineDepsFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<PipelineDeps> {
  cached ??= build(env);
  cached.catch(() => (cached = undefined));
  return cached;
}

async function build(env: NodeJS.ProcessEnv): Promise<PipelineDeps> {
  const missing = ['NORMALIZE_QUEUE_URL', 'FETCH_QUEUE_URLS_JSON', 'PLATFORM_SECRET_ARNS_JSON'].filter((k) => !env[k]);
  if (missing.length) throw new MissingEnvironmentError(missing);
  const config = configFromEnv(env);
  const db = dataApiDbFromEnv({}, env);
  const names = dbNames(dbPrefixFromEnv(env));
  const connectors = createConnectors(config);
  const fetchUrls = json(env, 'FETCH_QUEUE_URLS_JSON');
  const secretArns = json(env, 'PLATFORM_SECRET_ARNS_JSON');
  const queueUrls: Record<string, string> = { [NORMALIZE_QUEUE]: env.NORMALIZE_QUEUE_URL as string };
  for (const [p, url] of Object.entries(fetchUrls)) queueUrls[fetchQueueName(p)] = url;
  return {
    config,
    db,
    names,
    connectors,
    queue: new SqsQueueSender(sqsClient, queueUrls),
    rateLimiter: new DbRateLimiter(db, names, rateLimitSpecs(config, connectors)),
    clock: systemClock,
    logger: domainLogger,
    fetch,
    secret: (platform) => {
      const arn = secretArns[platform];
      if (!arn) throw new MissingEnvironmentError([`PLATFORM_SECRET_ARNS_JSON.${platform}`]);
      return secretValue(arn);
    },
    // Only the normalize worker is given the hash key (and hashes); elsewhere hashing is a clear error.
    normalizeContext: env.HASH_KEY_SECRET_ARN
      ? hmacContext(await secretValue(env.HASH_KEY_SECRET_ARN))
      : {
          hash: () => {
            throw new MissingEnvironmentError(['HASH_KEY_SECRET_ARN']);
          },
        },
    metrics: powertoolsMetrics,
  };
}
