import * as z from 'zod';
import { STREAMS } from '../model/canonical.js';

/**
 * The two message contracts of the pipeline (docs/design.md §1, §5). Both are validated with zod at the
 * consumer's edge; a message that fails is poison (it can never succeed) and is quarantined, not
 * retried.
 */

const iso = z.iso.datetime({ offset: true });

/** fetch queue (one per platform): fetch one slice with all its pages. */
export const fetchJobSchema = z.strictObject({
  kind: z.literal('fetch'),
  sliceId: z.string().min(1).max(36),
  platform: z.string().min(1),
  stream: z.enum(STREAMS),
  from: iso,
  to: iso,
  /** Sent by earlier versions as a sizing hint; accepted from messages still queued, and ignored. */
  rowsPerHour: z.number().nonnegative().optional(),
});
export type FetchJob = z.infer<typeof fetchJobSchema>;

/** normalize queue: one chunk of a slice's raw records, loaded in one transaction. */
export const normalizeMessageSchema = z.strictObject({
  kind: z.literal('normalize'),
  sliceId: z.string().min(1).max(36),
  /** The slice's fetch attempt that produced this chunk (only the latest attempt is counted). */
  attempt: z.number().int().min(1),
  seq: z.number().int().min(0),
  platform: z.string().min(1),
  stream: z.enum(STREAMS),
  /** When the records were fetched (the version stamp of the rows they become). */
  fetchedAt: iso,
  endpoint: z.string(),
  records: z.array(z.unknown()),
});
export type NormalizeMessage = z.infer<typeof normalizeMessageSchema>;

export const NORMALIZE_QUEUE = 'normalize';
export const fetchQueueName = (platform: string) => `fetch-${platform}`;

/** Turns a zod failure into one line naming each bad field. */
export function describeZodError(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.length ? i.path.join('.') : '(message)'}: ${i.message}`).join('; ');
}
