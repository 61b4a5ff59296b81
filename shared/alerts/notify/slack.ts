import type { AlertMessage } from './message.js';
import type { AlertNotification } from '../types.js';

/**
 * Slack Block Kit for one AlertMessage (docs/aws-limits.md §6): a section's text ≤ 3,000 characters, a
 * message ≤ 50 blocks — and in practice `msg_blocks_too_long` around ~13k characters in total, so this
 * stays under MAX_TOTAL_CHARS too. Alerts that do not fit are counted in a final "…and N more" block.
 * Every text from the data (summaries, names, ids) is escaped (`&`, `<`, `>` only, as Slack asks),
 * so an affiliate called `<b>&co` shows as written and cannot inject links or mentions.
 */

export const MAX_BLOCKS = 50;
export const MAX_SECTION_CHARS = 3000;
const BLOCK_BUDGET = 45;
const MAX_TOTAL_CHARS = 11_000;
const SECTION_BUDGET = 2900;

export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
}
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji?: boolean } }
  | { type: 'section'; text: { type: 'mrkdwn'; text: string } }
  | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  | { type: 'divider' }
  | { type: 'image'; image_url: string; alt_text: string; title?: { type: 'plain_text'; text: string } };

export function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts escaped mrkdwn to `max` characters without splitting an `&amp;`-style entity. */
export function truncateEscaped(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max - 1);
  const amp = cut.lastIndexOf('&');
  if (amp !== -1 && !cut.slice(amp).includes(';')) cut = cut.slice(0, amp);
  return `${cut}…`;
}

const ICON: Record<string, string> = {
  critical: ':rotating_light:',
  warning: ':warning:',
  info: ':information_source:',
};
const KIND: Record<string, string> = {
  opened: 'NEW',
  reopened: 'REOPENED',
  escalated: 'ESCALATED',
  repeated: 'STILL OPEN',
  resolved: 'RESOLVED',
};

export function alertSection(n: AlertNotification): string {
  const a = n.alert;
  const money = a.money_at_risk !== null && n.kind !== 'resolved' ? ` · ${escapeSlack(a.money_at_risk)} at risk` : '';
  const head = `*${KIND[n.kind] ?? n.kind.toUpperCase()}* · \`${escapeSlack(a.rule)}\`${money}`;
  const foot = `_${escapeSlack(a.subject.platforms.join(' ↔ '))} · since ${escapeSlack(a.first_seen_at.slice(0, 16).replace('T', ' '))} UTC · fp ${a.fingerprint.slice(0, 12)}_`;
  const body = escapeSlack(a.summary);
  const room = SECTION_BUDGET - head.length - foot.length - 2;
  return `${head}\n${truncateEscaped(body, Math.max(100, room))}\n${foot}`.slice(0, MAX_SECTION_CHARS);
}

export function formatSlackMessage(message: AlertMessage): SlackPayload {
  const title = `${message.text}`.slice(0, 150);
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: title, emoji: true } },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `${ICON[message.severity] ?? ''} evaluated at ${escapeSlack(message.at)}` }],
    },
  ];
  let chars = title.length + 60;
  let shown = 0;
  for (const n of message.notifications) {
    const text = alertSection(n);
    // Leave room for the closing "…and N more" block.
    if (blocks.length + 1 >= BLOCK_BUDGET || chars + text.length > MAX_TOTAL_CHARS) break;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text } });
    chars += text.length;
    shown++;
  }
  const more = message.notifications.length - shown + message.omitted;
  if (more > 0)
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `…and ${more} more (\`dualtrack alerts list\`)` }],
    });
  return { text: escapeSlack(message.text), blocks };
}
