import { escapeSlack, type SlackBlock, type SlackPayload } from '../alerts/notify/slack.js';
import { formatMoney, toMicros } from '../rules/money.js';
import type { MigrationState } from './state.js';

/**
 * The daily digest's shape and its Slack rendering, apart from the builder so the Slack subscriber
 * Lambda bundles only this (no SNS client, no report queries).
 */

export const MAX_LISTED = 10;

export const SPARK = '▁▂▃▄▅▆▇█';

/** One character per value, scaled from the smallest (▁) to the largest (█); a flat series is ▄ (all zero: ▁). */
export function sparkline(values: readonly number[]): string {
  if (values.length === 0) return '';
  const min = Math.min(...values);
  const max = Math.max(...values);
  if (max === min) return (max === 0 ? SPARK[0] : SPARK[3]).repeat(values.length);
  return values.map((v) => SPARK[Math.min(7, Math.floor(((v - min) / (max - min)) * 8))]).join('');
}

export interface DigestPlatformRevenue {
  platform: string;
  /** Oldest first, one per day. */
  daily: string[];
  sparkline: string;
  total: string;
  last_day: string;
}

export interface DailyDigest {
  source: 'dualtrack';
  version: 1;
  kind: 'digest';
  at: string;
  days: { from: string; to: string };
  headline: string;
  migration: {
    affiliates: number;
    states: Record<MigrationState, number>;
    on_target: number;
    overdue: {
      canonical_key: string | null;
      affiliate: Record<string, string>;
      tier: number | null;
      due_date: string | null;
      state: MigrationState;
      legacy_revenue_before_start: string;
    }[];
    changed_yesterday: {
      canonical_key: string | null;
      affiliate: Record<string, string>;
      from: MigrationState;
      to: MigrationState;
    }[];
    waves: { tier: number; due_date: string; affiliates: number; on_target: number }[];
  };
  revenue: DigestPlatformRevenue[];
  alerts: {
    open: number;
    by_severity: Record<string, number>;
    top: { severity: string; rule: string; summary: string; first_seen_at: string }[];
  };
  text: string;
  /** A time-limited link to the day's dashboard page (shared/migration/dashboard.ts), when one was stored. */
  dashboard_url?: string | null;
  /** A time-limited link to the cutover curve as PNG (what Slack can show), with its legend. */
  cutover_chart?: { url: string; legend: string } | null;
}

/** The digest with its dashboard link, in the text too. */
export function withDashboardLink(d: DailyDigest, url: string, expires: string): DailyDigest {
  return { ...d, dashboard_url: url, text: `${d.text}\n\nDashboard (link valid until ${expires}):\n${url}` };
}

export const ids = (a: Record<string, string>) =>
  Object.entries(a)
    .map(([p, id]) => `${p} ${id}`)
    .join(' / ');

/** Slack Block Kit: sparklines in a code block (monospace keeps them aligned); every data text escaped. */
export function digestSlackPayload(d: DailyDigest): SlackPayload {
  const m = d.migration;
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: d.headline.slice(0, 150), emoji: true } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          [
            `*Migration* · ${m.states['legacy-only']} legacy-only · ${m.states.dual} dual · ${m.states.migrated} migrated · ${m.states.retired} retired`,
            ...m.waves.map((w) => `wave ${w.tier} (due ${w.due_date}): ${w.on_target}/${w.affiliates} on the target`),
          ]
            .map(escapeSlack)
            .join('\n'),
        ),
      },
    },
  ];
  if (m.overdue.length) {
    const list = m.overdue
      .slice(0, MAX_LISTED)
      .map(
        (o) =>
          `• ${escapeSlack(o.canonical_key ?? ids(o.affiliate))} (${escapeSlack(ids(o.affiliate))}) tier ${o.tier ?? '-'}, due ${o.due_date ?? '-'}, ${o.state}`,
      );
    if (m.overdue.length > MAX_LISTED) list.push(`…and ${m.overdue.length - MAX_LISTED} more`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`*Overdue*\n${list.join('\n')}`) } });
  }
  const w = Math.max(...d.revenue.map((r) => r.platform.length), 0);
  const spark = d.revenue
    .map((r) => `${r.platform.padEnd(w)} ${r.sparkline} ${formatMoney(toMicros(r.last_day))}`)
    .join('\n');
  blocks.push({
    type: 'section',
    text: {
      type: 'mrkdwn',
      text: truncate(`*Revenue per day* (${d.days.from} – ${d.days.to})\n\`\`\`${escapeSlack(spark)}\`\`\``),
    },
  });
  const alerts = d.alerts.top.map((a) => `• [${a.severity}] \`${escapeSlack(a.rule)}\` ${escapeSlack(a.summary)}`);
  if (d.alerts.open > d.alerts.top.length) alerts.push(`…and ${d.alerts.open - d.alerts.top.length} more`);
  blocks.push({
    type: 'section',
    text: {
      type: 'mrkdwn',
      text: truncate(`*Open alerts: ${d.alerts.open}*${alerts.length ? `\n${alerts.join('\n')}` : ''}`),
    },
  });
  if (d.cutover_chart)
    blocks.push({
      type: 'image',
      image_url: d.cutover_chart.url,
      alt_text:
        `Cutover curve: daily revenue per platform (${d.cutover_chart.legend}); dashed lines: start and cutover`.slice(
          0,
          2000,
        ),
      title: { type: 'plain_text', text: `Revenue per day — ${d.cutover_chart.legend}`.slice(0, 2000) },
    });
  if (d.dashboard_url)
    blocks.push({
      type: 'section',
      // Slack reads `&` in a link as `&amp;` (escapeSlack); a `|` or `>` would end the link, and a
      // presigned S3 URL has neither.
      text: {
        type: 'mrkdwn',
        text: `<${escapeSlack(d.dashboard_url)}|*Open the migration dashboard*> (charts of the move)`,
      },
    });
  return { text: escapeSlack(d.headline), blocks };
}

function truncate(s: string): string {
  return s.length <= 2900 ? s : `${s.slice(0, 2899)}…`;
}
