import type { Config } from '../../config/schema.js';
import type { Logger } from '../../util/logger.js';
import { digestSlackPayload } from '../../migration/digest-format.js';
import type { Notifier } from './port.js';
import type { SlackPayload } from './slack.js';
import { formatSlackMessage } from './slack.js';
import { postSlackWebhook, type PostOptions } from './webhook.js';

/**
 * The local notifier (CLI, demo): prints each grouped message, and when the environment variable
 * named by `alerts.slackWebhookEnv` (default SLACK_WEBHOOK_URL) holds a webhook URL, posts the same
 * Block Kit message the AWS subscriber would (for alerts and for the digest). The URL is read from
 * the environment only and never printed or logged.
 */

export type { Notifier };

export interface LocalNotifierOptions {
  out: NodeJS.WritableStream;
  config: Config;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  post?: PostOptions;
}

export function createLocalNotifier(options: LocalNotifierOptions): Notifier {
  const envName = options.config.alerts.slackWebhookEnv;
  /** Posts when a webhook is set; a Slack failure is reported, not fatal (alert state is already stored). */
  const post = async (payload: SlackPayload, what: Record<string, unknown>) => {
    const url = options.env[envName];
    if (!url) return;
    try {
      await postSlackWebhook(url, payload, options.post);
      options.logger.info('slack message posted', { ...what, webhookEnv: envName });
    } catch (e) {
      options.logger.error('slack post failed', { ...what, error: (e as Error).message, webhookEnv: envName });
    }
  };
  return {
    async notify(messages) {
      for (const m of messages) {
        options.out.write(`${m.text}\n`);
        for (const n of m.notifications)
          options.out.write(
            `  ${n.kind.padEnd(9)} ${n.alert.rule} ${n.alert.fingerprint.slice(0, 12)}  ${n.alert.summary}\n`,
          );
        if (m.omitted > 0) options.out.write(`  …and ${m.omitted} more\n`);
        await post(formatSlackMessage(m), { severity: m.severity, notifications: m.notifications.length });
      }
    },
    async digest(d) {
      options.out.write(`${d.text}\n`);
      await post(digestSlackPayload(d), { kind: 'digest' });
    },
  };
}
