import type { Db } from '../../db/port.js';
import type { DbNames } from '../../db/names.js';
import { toSqlDateTime } from '../../util/time.js';
import type { AlertMessage } from './message.js';
import { formatSlackMessage, type SlackPayload } from './slack.js';
import { postSlackWebhook, type PostOptions } from './webhook.js';

/**
 * Idempotent Slack delivery of one SNS message (docs/design.md §7). SNS delivers at least once (and retries
 * a failed Lambda delivery for up to 23 days), so each SNS MessageId is claimed in
 * `<prefix>_core.slack_deliveries` before posting:
 *  - first claim (INSERT IGNORE inserted the row) → post, then mark `sent`;
 *  - row already `sent` → skip (`duplicate`): the only case that is a duplicate;
 *  - row `sending` whose claim is older than CLAIM_LEASE_MS (a crashed or timed-out attempt) or was
 *    released by a failed post → take it over and post;
 *  - row `sending` with a fresh claim: another delivery of the same message is posting right now →
 *    throw `SlackDeliveryInFlightError`, so Lambda retries later; if that other delivery dies, the
 *    retry takes over. Answering "duplicate" there dropped the message whenever the other attempt failed.
 * A failed post RELEASES the claim (claimed_at moved behind the lease) and throws, so the retry Lambda
 * makes a minute later posts at once instead of being answered "duplicate" inside the lease. A post
 * Slack refuses for good (400 invalid_payload, 403/404/410 for a revoked webhook) also releases and
 * throws; after Lambda's retries the invocation lands in the function's DLQ with the reason, and
 * re-publishing it after the fix posts it. (A crash between Slack's 200 and the `sent` update can post
 * twice: the one window an HTTP webhook without idempotency keys leaves open.)
 */

export const CLAIM_LEASE_MS = 120_000;

export class SlackDeliveryInFlightError extends Error {
  constructor(messageId: string) {
    super(`SNS message ${messageId} is being posted to Slack by another invocation; retry later`);
    this.name = 'SlackDeliveryInFlightError';
  }
}

export async function deliverSlackMessage(input: {
  db: Db;
  names: DbNames;
  messageId: string;
  message: AlertMessage;
  /** Posted instead of the formatted `message` (the daily digest brings its own Block Kit). */
  payload?: SlackPayload;
  webhookUrl: string;
  now: Date;
  post?: PostOptions;
}): Promise<'sent' | 'duplicate'> {
  const { db, names, messageId, now } = input;
  const t = toSqlDateTime(now);
  const inserted = await db.execute(
    `INSERT IGNORE INTO ${names.core}.slack_deliveries (message_id, status, attempts, claimed_at) VALUES (:id, 'sending', 1, :now)`,
    { id: messageId, now: t },
  );
  if (inserted.affectedRows === 0) {
    const takeover = await db.execute(
      `UPDATE ${names.core}.slack_deliveries SET claimed_at = :now, attempts = attempts + 1 WHERE message_id = :id AND status = 'sending' AND claimed_at <= :stale`,
      { id: messageId, now: t, stale: toSqlDateTime(now.getTime() - CLAIM_LEASE_MS) },
    );
    if (takeover.affectedRows === 0) {
      const rows = await db.query<{ status: string }>(
        `SELECT status FROM ${names.core}.slack_deliveries WHERE message_id = :id`,
        { id: messageId },
      );
      if (rows[0]?.status === 'sent') return 'duplicate';
      throw new SlackDeliveryInFlightError(messageId);
    }
  }
  try {
    await postSlackWebhook(input.webhookUrl, input.payload ?? formatSlackMessage(input.message), input.post);
  } catch (e) {
    // Release the claim: the next attempt (Lambda's retry, a redrive) may post at once.
    await db.execute(
      `UPDATE ${names.core}.slack_deliveries SET claimed_at = :released WHERE message_id = :id AND status = 'sending'`,
      { id: messageId, released: toSqlDateTime(now.getTime() - CLAIM_LEASE_MS - 1_000) },
    );
    throw e;
  }
  await db.execute(
    `UPDATE ${names.core}.slack_deliveries SET status = 'sent', delivered_at = :now WHERE message_id = :id`,
    { id: messageId, now: toSqlDateTime(new Date()) },
  );
  return 'sent';
}
