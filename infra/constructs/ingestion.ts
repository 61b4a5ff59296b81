import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { Config, PlatformConfig } from '#shared/config/schema.js';
import { functionEntry } from '../paths.js';
import { alarmOnQueue, type QueueAlarms } from './alarms.js';
import type { IDataApiDatabase } from './data-api-database.js';
import { DualtrackFunction } from './dualtrack-function.js';
import { FETCH_SIZING } from './fetch-sizing.js';
import { assertNoProblems } from './props-error.js';
import { QueueConsumer } from './queue-consumer.js';
import { ScheduledJob } from './scheduled-job.js';

export interface IngestionProps {
  /** The validated config (platforms, schedules). */
  readonly config: Config;
  /** DUALTRACK_CONFIG_JSON for every function (see `lambdaConfigJson`). */
  readonly configJson: string;
  readonly database: IDataApiDatabase;
  /** Where queue alarms go (the unfiltered operations topic). */
  readonly alarmTopic: ITopic;
  /**
   * Dead letters of the fetch schedules: invocations Scheduler could not deliver, and (as the
   * schedule-fetch function's async-invocation DLQ) runs that failed after Lambda's retries.
   */
  readonly scheduledJobsDlq: IQueue;
  /**
   * Per platform key: the fetch event source's maxConcurrency (2–1,000), overriding FETCH_SIZING
   * (e.g. an Everflow network with no other integrations may use all 10 reporting slots).
   * @default - FETCH_SIZING by the platform's kind
   */
  readonly fetchConcurrency?: Readonly<Record<string, number>>;
  /**
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/** `everflow` → `Everflow`, `cake2` → `Cake2`: construct ids for a platform key. */
export const pascal = (key: string) => key.charAt(0).toUpperCase() + key.slice(1);

/**
 * The ingestion pipeline of docs/design.md §1, per the Ingestion issue:
 *
 * ```
 * Scheduler (one per platform, rate(scheduleMinutes), {"platform": key})
 *   → schedule-fetch → fetch queue <key> (+DLQ) → fetch-worker <key> (batch 1, FETCH_SIZING)
 *   → normalize queue (+DLQ) → normalize-worker (batch 5, maxConcurrency 10) → Aurora (Data API)
 * backfill (on-demand invoke) → fetch queues
 * ```
 *
 * One fetch worker FUNCTION per platform (same code): each gets its own timeout (HitPath's long
 * budget waits), its own event-source concurrency, and read on ITS platform's API-key secret only.
 *
 * Least privilege, by what each function does (pipelineDepsFromEnv builds every dependency eagerly,
 * so each function gets every variable it requires; the JSON maps name only what it may use):
 *
 * | function | sends to | reads secret | maps in env |
 * |---|---|---|---|
 * | schedule-fetch, backfill | every fetch queue | — | FETCH_QUEUE_URLS_JSON: all; PLATFORM_SECRET_ARNS_JSON: {} |
 * | fetch-worker <key> | normalize queue | <key>'s API key | FETCH_QUEUE_URLS_JSON: {}; PLATFORM_SECRET_ARNS_JSON: {<key>} |
 * | normalize-worker | nothing | hash key | both {} |
 *
 * NORMALIZE_QUEUE_URL is set on all four because pipelineDepsFromEnv requires it; a URL is an
 * address, not a permission. Only the normalize worker hashes, so only it may read the hash key
 * (HASH_KEY_SECRET_ARN). All four connect to the database as the application user (DML only).
 *
 * Secrets: one per platform (created empty-ish — Secrets Manager generates a random placeholder,
 * so no value is ever in the template — unless `platforms.<key>.secretName` names an existing
 * secret, which is imported by name), and the HMAC key for personal data (generated, 64 chars,
 * RETAINED when the stack is deleted: hashes in the database are only comparable under the same
 * key). Operators put each platform's API key into its secret after deploy (the stack outputs the
 * names); Partnerize's secret holds `applicationKey:userApiKey`.
 */
export class Ingestion extends Construct {
  readonly platformSecrets: Record<string, ISecret> = {};
  readonly hashKeySecret: Secret;
  readonly normalizeWorker: DualtrackFunction;
  readonly normalize: QueueConsumer;
  readonly fetchWorkers: Record<string, DualtrackFunction> = {};
  readonly fetch: Record<string, QueueConsumer> = {};
  readonly scheduleFetchFunction: DualtrackFunction;
  readonly schedules: Record<string, ScheduledJob> = {};
  readonly backfillFunction: DualtrackFunction;
  readonly alarms: QueueAlarms[] = [];

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id);
    const platforms = Object.entries(props.config.platforms);
    validateProps(id, props);
    const stack = Stack.of(this);
    const common = { logRetention: props.logRetention };

    // ── Secrets ─────────────────────────────────────────────────────────────────────────────
    for (const [key, p] of platforms) this.platformSecrets[key] = platformSecret(this, key, p);
    this.hashKeySecret = new Secret(this, 'HashKey', {
      description:
        'dualtrack: HMAC key for user agents, end-user emails and device ids (docs/design.md §4). Generated; never change it on a live install (hashes would stop matching).',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.hashKeySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The HMAC key must stay the same for the life of the data: rotating it would make new hashes differ from stored ones and break duplicate matching across platforms.',
    });

    // ── Normalize queue + worker (shared by every platform) ────────────────────────────────
    this.normalizeWorker = new DualtrackFunction(this, 'NormalizeWorker', {
      ...common,
      entry: functionEntry('normalize-worker'),
      description:
        'Validates, maps and upserts raw records from the normalize queue into Aurora (Data API); quarantines bad records',
      serviceName: 'dualtrack-normalize-worker',
      // A batch of 5 chunks, each loaded in one transaction, possibly after a ~15 s resume.
      timeout: Duration.minutes(3),
      memorySize: 1024,
    });
    this.normalize = new QueueConsumer(this, 'Normalize', {
      consumer: this.normalizeWorker,
      batchSize: 5,
      // Protects Aurora (and its ACU ceiling) from a burst of chunks after a backfill.
      maxConcurrency: 10,
      maxReceiveCount: 5,
    });
    this.alarms.push(alarmOnQueue(this, 'NormalizeAlarms', this.normalize, props.alarmTopic));

    // ── Fetch queue + worker per platform ──────────────────────────────────────────────────
    for (const [key, p] of platforms) {
      const sizing = FETCH_SIZING[p.kind];
      const worker = new DualtrackFunction(this, `FetchWorker${pascal(key)}`, {
        ...common,
        entry: functionEntry('fetch-worker'),
        description: `Fetches one ${key} slice (all pages, rate-limited) and sends its records to the normalize queue`,
        // One service name for every platform's worker: the dashboard reads metrics by
        // (service, platform), so the platform dimension tells them apart.
        serviceName: 'dualtrack-fetch-worker',
        timeout: sizing.timeout,
      });
      this.fetchWorkers[key] = worker;
      this.fetch[key] = new QueueConsumer(this, `Fetch${pascal(key)}`, {
        consumer: worker,
        // One slice per invocation: a slice can take minutes under a platform's rate limit.
        batchSize: 1,
        maxConcurrency: props.fetchConcurrency?.[key] ?? Math.max(2, p.concurrency ?? sizing.maxConcurrency),
        maxReceiveCount: 5,
      });
      // A fetch queue is drained at the platform's pace: lag is worth an alarm once it exceeds two
      // schedule periods (what the stale-source rule calls stale), never under 30 minutes.
      const maxMessageAge = Duration.minutes(Math.max(30, 2 * p.scheduleMinutes));
      this.alarms.push(
        alarmOnQueue(this, `Fetch${pascal(key)}Alarms`, this.fetch[key], props.alarmTopic, { maxMessageAge }),
      );
    }

    // ── Schedules: one per platform, all invoking schedule-fetch ───────────────────────────
    this.scheduleFetchFunction = new DualtrackFunction(this, 'ScheduleFetch', {
      ...common,
      entry: functionEntry('schedule-fetch'),
      description: "Plans a platform's slices from its watermarks and enqueues fetch jobs",
      serviceName: 'dualtrack-schedule-fetch',
      timeout: Duration.minutes(2),
      deadLetterQueue: props.scheduledJobsDlq,
    });
    for (const [key, p] of platforms) {
      this.schedules[key] = new ScheduledJob(this, `Schedule${pascal(key)}`, {
        target: this.scheduleFetchFunction,
        schedule: ScheduleExpression.rate(Duration.minutes(p.scheduleMinutes)),
        input: { platform: key },
        deadLetterQueue: props.scheduledJobsDlq,
        description: `dualtrack: fetch ${key} every ${p.scheduleMinutes} min`,
      });
    }

    // ── Backfill: on-demand (`dualtrack backfill --aws`, stack output BackfillFunctionName) ──
    this.backfillFunction = new DualtrackFunction(this, 'Backfill', {
      ...common,
      entry: functionEntry('backfill'),
      description:
        'Plans a backfill (or reports its progress) and enqueues its fetch jobs; invoked by `dualtrack backfill --aws`',
      serviceName: 'dualtrack-backfill',
      timeout: Duration.minutes(5),
    });

    // ── Wiring: environment and grants, per the table above ────────────────────────────────
    const allFetchUrls = stack.toJsonString(
      Object.fromEntries(Object.entries(this.fetch).map(([k, c]) => [k, c.queue.queueUrl])),
    );
    const base = (fn: DualtrackFunction) => {
      fn.bindDatabase(props.database, 'app');
      fn.addEnvironment('DUALTRACK_CONFIG_JSON', props.configJson);
      fn.addEnvironment('NORMALIZE_QUEUE_URL', this.normalize.queue.queueUrl);
    };
    for (const fn of [this.scheduleFetchFunction, this.backfillFunction]) {
      base(fn);
      fn.addEnvironment('FETCH_QUEUE_URLS_JSON', allFetchUrls);
      fn.addEnvironment('PLATFORM_SECRET_ARNS_JSON', '{}');
      for (const c of Object.values(this.fetch)) c.queue.grantSendMessages(fn);
    }
    for (const [key, fn] of Object.entries(this.fetchWorkers)) {
      base(fn);
      fn.addEnvironment('FETCH_QUEUE_URLS_JSON', '{}');
      fn.addEnvironment(
        'PLATFORM_SECRET_ARNS_JSON',
        stack.toJsonString({ [key]: this.platformSecrets[key].secretArn }),
      );
      this.platformSecrets[key].grantRead(fn);
      this.normalize.queue.grantSendMessages(fn);
    }
    base(this.normalizeWorker);
    this.normalizeWorker.addEnvironment('HASH_KEY_SECRET_ARN', this.hashKeySecret.secretArn);
    this.hashKeySecret.grantRead(this.normalizeWorker);
    this.normalizeWorker.addEnvironment('FETCH_QUEUE_URLS_JSON', '{}');
    this.normalizeWorker.addEnvironment('PLATFORM_SECRET_ARNS_JSON', '{}');
  }
}

function platformSecret(scope: Construct, key: string, p: PlatformConfig): ISecret {
  const id = `${pascal(key)}ApiKey`;
  if (p.secretName) return Secret.fromSecretNameV2(scope, id, p.secretName);
  const what =
    p.kind === 'partnerize' ? 'the application key and user API key as "applicationKey:userApiKey"' : 'the API key';
  const secret = new Secret(scope, id, {
    // Secrets Manager generates a random placeholder: no value is ever in the template.
    description: `dualtrack: ${key} (${p.kind}) API credentials. Replace the generated placeholder with ${what}.`,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason: `The ${p.kind} API key is issued in the platform's own UI; no Lambda can rotate it. The operator replaces the value when the platform key is rotated.`,
  });
  return secret;
}

function validateProps(id: string, props: IngestionProps): void {
  const problems: string[] = [];
  for (const [key, n] of Object.entries(props.fetchConcurrency ?? {})) {
    if (!(key in props.config.platforms))
      problems.push(
        `fetchConcurrency.${key}: no such platform in the config (${Object.keys(props.config.platforms).join(', ')})`,
      );
    else if (!Number.isInteger(n) || n < 2 || n > 1000)
      problems.push(`fetchConcurrency.${key} must be an integer 2–1,000 (got ${n})`);
  }
  assertNoProblems('Ingestion', id, problems);
}
