import { PlatformApiError } from '../platforms/types.js';
import { ConfigError } from '../config/load.js';
import type { PipelineDeps } from './deps.js';
import { Ledger, type ErrorKind } from './ledger.js';
import { NORMALIZE_QUEUE, type FetchJob, type NormalizeMessage } from './messages.js';
import { enqueueSlices } from './schedule.js';

/**
 * fetch-worker: fetches one slice with all its pages through the platform's connector and turns
 * its records into normalize messages, each under the queue's size limit (bytes counted, not
 * rows). Pages are forwarded as they arrive, so memory holds one page and one message at a time.
 * The ledger records the attempt; a failure marks the slice failed and rethrows so the queue
 * retries (and, after maxReceiveCount, dead-letters) the job.
 */

const ENVELOPE_BYTES = 1_024;
/** With less than this left in the invocation, a connector that can stop cleanly hands the rest on. */
export const YIELD_BEFORE_DEADLINE_MS = 120_000;
/** With less than this left, the fetch is aborted (the slice fails with the reason and is retried). */
export const ABORT_BEFORE_DEADLINE_MS = 30_000;

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

  const maxRows = connector.sliceRows(job.stream) ?? Number.POSITIVE_INFINITY;
  const remaining = deps.remainingMs;
  // Abort before Lambda kills us: a killed fetch leaves the slice `fetching` with no reason given.
  const abort = new AbortController();
  const timer =
    remaining && remaining() > ABORT_BEFORE_DEADLINE_MS
      ? setTimeout(() => abort.abort(), remaining() - ABORT_BEFORE_DEADLINE_MS)
      : null;
  timer?.unref?.();
  try {
    const secret = await deps.secret(job.platform);
    const summary = await connector.fetchSlice(
      { platform: job.platform, stream: job.stream, from: job.from, to: job.to },
      {
        fetch: deps.fetch,
        rateLimiter: deps.rateLimiter,
        clock: deps.clock,
        logger: deps.logger,
        secret,
        retry: deps.retry,
        signal: remaining ? abort.signal : undefined,
        shouldYield: () => records >= maxRows || (remaining !== undefined && remaining() < YIELD_BEFORE_DEADLINE_MS),
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
    if (summary.completeUntil) await handOff(job, attempt, summary.completeUntil, records, ledger, deps);
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
  } catch (caught) {
    const e = abort.signal.aborted
      ? new Error(
          `stopped ${ABORT_BEFORE_DEADLINE_MS / 1000} s before the function's timeout after ${records} records; the slice is retried (a smaller sliceHours for ${job.stream} helps if this repeats)`,
          { cause: caught },
        )
      : caught;
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
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** The connector stopped early with [from, until) complete: the slice ends there, a new one takes the rest. */
async function handOff(
  job: FetchJob,
  attempt: number,
  until: string,
  records: number,
  ledger: Ledger,
  deps: PipelineDeps,
) {
  const rest = await ledger.handOff(job.sliceId, attempt, until, deps.clock.now());
  if (!rest) return;
  await enqueueSlices([rest], deps);
  deps.logger.info('slice handed on', { sliceId: job.sliceId, until, records, next: rest.sliceId, to: rest.to });
}

function errorKind(e: unknown): ErrorKind {
  if (e instanceof ConfigError) return 'config';
  if (e instanceof PlatformApiError) return e.options.status === 401 || e.options.status === 403 ? 'auth' : 'api';
  return 'internal';
}
