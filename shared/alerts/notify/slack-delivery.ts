import type { Db } from '../../db/port.js';
import type { DbNames } from '../../db/names.js';
import { toSqlDateTime } from '../../util/time.js';
import type { AlertMessage } from './message.js';
import { formatSlackMessage, type SlackPayload } from './slack.js';
import { postSlackWebhook, type PostOptions } from './webhook.js';

/**
 * Idempotent Slack delivery of one SNS message (DESIGN.md §7). SNS delivers at least once (and retries
 * a failed Lambda delivery for up to 23 days), so each SNS MessageId is claimed in
 * `<prefix>_core.slack_deliveries` before posting:
 *  - first claim (INSERT IGNORE inserted the row) → post, then mark `sent`;
 *  - row already `sent` → skip (`duplicate`);
 *  - row `sending` with a claim older than CLAIM_LEASE_MS (a crashed or timed-out attempt) → take
 *    it over and post; a fresh `sending` claim belongs to a concurrent delivery → skip.
 * A failed post leaves the claim `sending` and throws, so SNS retries; the retry takes the claim over
 * once the lease has passed. (A crash between Slack's 200 and the `sent` update can post twice: the
 * one window an HTTP webhook without idempotency keys leaves open.)
 */

export const CLAIM_LEASE_MS = 120_000;

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
    if (takeover.affectedRows === 0) return 'duplicate';
  }
  await postSlackWebhook(input.webhookUrl, input.payload ?? formatSlackMessage(input.message), input.post);
  await db.execute(
    `UPDATE ${names.core}.slack_deliveries SET status = 'sent', delivered_at = :now WHERE message_id = :id`,
    { id: messageId, now: toSqlDateTime(new Date()) },
  );
  return 'sent';
}
