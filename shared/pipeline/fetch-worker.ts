import { PlatformApiError } from '../platforms/types.js';
import { ConfigError } from '../config/load.js';
import type { PipelineDeps } from './deps.js';
import { Ledger, type ErrorKind } from './ledger.js';
import { NORMALIZE_QUEUE, type FetchJob, type NormalizeMessage } from './messages.js';

/**
 * fetch-worker: fetches one slice with all its pages through the platform's connector and turns
 * its records into normalize messages, each under the queue's size limit (bytes counted, not
 * rows). Pages are forwarded as they arrive, so memory holds one page and one message at a time.
 * The ledger records the attempt; a failure marks the slice failed and rethrows so the queue
 * retries (and, after maxReceiveCount, dead-letters) the job.
 */

const ENVELOPE_BYTES = 1_024;

export interface FetchOutcome {
  sliceId: string;
  attempt: number;
  pages: number;
  records: number;
  messages: number;
}

export async function fetchSlice(job: FetchJob, deps: PipelineDeps): Promise<FetchOutcome> {
  const ledger = new Ledger(deps.db, deps.names);
  const connector = deps.connectors[job.platform];
  const startedAt = deps.clock.now();
  if (!connector) throw new ConfigError(`fetch job ${job.sliceId}`, [`platform "${job.platform}" is not configured`]);
  const attempt = await ledger.startFetch(job.sliceId, startedAt);
  const maxBytes = (deps.maxMessageBytes ?? 900_000) - ENVELOPE_BYTES;
  const maxRecords = deps.maxRecordsPerMessage ?? 5_000;
  const fetchedAt = startedAt.toISOString();
  let seq = 0;
  let records = 0;
  let chunk: string[] = [];
  let chunkBytes = 0;
  let endpoint = '';

  const flush = async (bodies: string[]) => {
    if (bodies.length) await deps.queue.send(NORMALIZE_QUEUE, bodies);
    deps.metrics?.add('messagesSent', job.platform, bodies.length);
  };
  const closeChunk = (): string | null => {
    if (chunk.length === 0) return null;
    const msg: Omit<NormalizeMessage, 'records'> = {
      kind: 'normalize',
      sliceId: job.sliceId,
      attempt,
      seq: seq++,
      platform: job.platform,
      stream: job.stream,
      fetchedAt,
      endpoint,
    };
    // Records are serialized once; the body is assembled from their JSON text.
    const body = `${JSON.stringify(msg).slice(0, -1)},"records":[${chunk.join(',')}]}`;
    chunk = [];
    chunkBytes = 0;
    return body;
  };

  try {
    const secret = await deps.secret(job.platform);
    const summary = await connector.fetchSlice(
      { platform: job.platform, stream: job.stream, from: job.from, to: job.to, rowsPerHour: job.rowsPerHour },
      {
        fetch: deps.fetch,
        rateLimiter: deps.rateLimiter,
        clock: deps.clock,
        logger: deps.logger,
        secret,
        retry: deps.retry,
      },
      async (page) => {
        endpoint = page.endpoint;
        const ready: string[] = [];
        for (const record of page.records) {
          const json = JSON.stringify(record) ?? 'null';
          const size = Buffer.byteLength(json, 'utf8') + 1;
          if (chunk.length > 0 && (chunkBytes + size > maxBytes || chunk.length >= maxRecords))
            ready.push(closeChunk()!);
          // A single record larger than a message still travels alone; the queue adapter rejects it loudly if over 1 MiB.
          chunk.push(json);
          chunkBytes += size;
          records++;
        }
        await flush(ready);
      },
    );
    const last = closeChunk();
    if (last) await flush([last]);
    deps.metrics?.add('recordsFetched', job.platform, records);
    await ledger.finishFetch(job.sliceId, attempt, { pages: summary.pages, records, messages: seq }, deps.clock.now());
    deps.logger.info('slice fetched', {
      sliceId: job.sliceId,
      platform: job.platform,
      stream: job.stream,
      from: job.from,
      to: job.to,
      pages: summary.pages,
      records,
      messages: seq,
      splits: summary.splits,
    });
    if (seq === 0) await ledger.advanceWatermark(job.platform, job.stream, deps.clock.now());
    return { sliceId: job.sliceId, attempt, pages: summary.pages, records, messages: seq };
  } catch (e) {
    const kind = errorKind(e);
    deps.metrics?.add('fetchErrors', job.platform, 1);
    deps.logger.error('slice fetch failed', {
      sliceId: job.sliceId,
      platform: job.platform,
      stream: job.stream,
      errorKind: kind,
      error: (e as Error).message,
    });
    await ledger.failFetch(job.sliceId, (e as Error).message, kind, deps.clock.now());
    throw e;
  }
}

function errorKind(e: unknown): ErrorKind {
  if (e instanceof ConfigError) return 'config';
  if (e instanceof PlatformApiError) return e.options.status === 401 || e.options.status === 403 ? 'auth' : 'api';
  return 'internal';
}
