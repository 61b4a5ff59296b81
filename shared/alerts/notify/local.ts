import type { Config } from '../../config/schema.js';
import type { Logger } from '../../util/logger.js';
import type { AlertMessage } from './message.js';
import { formatSlackMessage } from './slack.js';
import { postSlackWebhook, type PostOptions } from './webhook.js';

/**
 * The local notifier (CLI, demo): prints each grouped message, and when the environment variable
 * named by `alerts.slackWebhookEnv` (default SLACK_WEBHOOK_URL) holds a webhook URL, posts the same
 * Block Kit message the AWS subscriber would. The URL is read from the environment only and never
 * printed or logged.
 */

export interface Notifier {
  notify(messages: readonly AlertMessage[]): Promise<void>;
}

export interface LocalNotifierOptions {
  out: NodeJS.WritableStream;
  config: Config;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  post?: PostOptions;
}

export function createLocalNotifier(options: LocalNotifierOptions): Notifier {
  const envName = options.config.alerts.slackWebhookEnv;
  return {
    async notify(messages) {
      const url = options.env[envName];
      for (const m of messages) {
        options.out.write(`${m.text}\n`);
        for (const n of m.notifications)
          options.out.write(
            `  ${n.kind.padEnd(9)} ${n.alert.rule} ${n.alert.fingerprint.slice(0, 12)}  ${n.alert.summary}\n`,
          );
        if (m.omitted > 0) options.out.write(`  …and ${m.omitted} more\n`);
        if (url) {
          try {
            await postSlackWebhook(url, formatSlackMessage(m), options.post);
            options.logger.info('slack message posted', {
              severity: m.severity,
              notifications: m.notifications.length,
              webhookEnv: envName,
            });
          } catch (e) {
            // Alert state is already stored; a Slack failure is reported, not fatal to the run.
            options.logger.error('slack post failed', {
              severity: m.severity,
              error: (e as Error).message,
              webhookEnv: envName,
            });
          }
        }
      }
    },
  };
}
