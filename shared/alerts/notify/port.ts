import type { DailyDigest } from '../../migration/digest-format.js';
import type { AlertMessage } from './message.js';

/**
 * Where alerts and the daily digest go: the one port every sender implements. In AWS it is the
 * SNS notifier (sns.ts: email and the Slack subscriber read the topic); locally the CLI and the
 * demo print and, when a webhook is set, post to Slack (local.ts). Building an alert message or a
 * digest never knows which.
 */
export interface Notifier {
  /** The grouped alert messages of one evaluation (one per severity), in order. */
  notify(messages: readonly AlertMessage[]): Promise<void>;
  /** The daily digest. */
  digest(d: DailyDigest): Promise<void>;
}
