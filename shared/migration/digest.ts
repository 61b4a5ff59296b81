import type { Config } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import type { AlertRecord } from '../alerts/types.js';
import { migrationReport, revenueReport, stateCounts } from './reports.js';
import { ids, MAX_LISTED, sparkline, type DailyDigest, type DigestPlatformRevenue } from './digest-format.js';
import { formatMoney, fromMicros, toMicros } from '../rules/money.js';
import { DAY_MS } from '../util/time.js';

/**
 * The daily digest (docs/design.md §9): migration progress, the last 30 days of revenue per platform as a
 * text sparkline (▁▂▃▄▅▆▇█, readable in Slack and in a plain-text email), and the open alerts.
 * Built from the same reports as the CLI, at `at` (the days shown are the 30 whole UTC days before
 * `at`'s day), with the open alerts the caller read (alerts/store.ts `listAlerts`). Sent through the
 * notifier port like alerts (alerts/notify/port.ts): in AWS one SNS message whose email body is the
 * text and whose Slack body is the JSON (`kind: "digest"`, formatted by `digestSlackPayload`).
 */

export async function buildDailyDigest(
  db: Db,
  names: DbNames,
  config: Config,
  at: Date,
  open: readonly AlertRecord[],
  now: Date = at,
): Promise<DailyDigest> {
  const report = await migrationReport(db, names, config, at, now);
  const dayStart = Math.floor(at.getTime() / DAY_MS) * DAY_MS;
  const from = new Date(dayStart - 30 * DAY_MS);
  const to = new Date(dayStart);
  const rev = await revenueReport(db, names, config, from, to);
  const platforms = [...new Set(rev.map((r) => r.platform))];
  const revenue: DigestPlatformRevenue[] = platforms.map((p) => {
    const daily = rev.filter((r) => r.platform === p).map((r) => r.revenue);
    const total = daily.reduce((a, v) => a + toMicros(v), 0n);
    return {
      platform: p,
      daily,
      sparkline: sparkline(daily.map((v) => Number(v))),
      total: fromMicros(total, 2),
      last_day: daily.at(-1) ?? '0.00',
    };
  });
  const states = stateCounts(report);
  const onTarget = states.migrated + states.retired;
  const yesterday = new Date(dayStart - DAY_MS).toISOString().slice(0, 10);
  const changed = report.states.affiliates.flatMap((a) =>
    a.changes
      .filter((c) => c.on === yesterday)
      .map((c) => ({ canonical_key: a.canonical_key, affiliate: a.ids, from: c.from, to: c.to })),
  );
  const overdue = report.rows
    .filter((r) => r.overdue)
    .map((r) => ({
      canonical_key: r.canonical_key,
      affiliate: r.affiliate,
      tier: r.tier,
      due_date: r.due_date,
      state: r.state,
      legacy_revenue_before_start: r.legacy_revenue_before_start,
    }));
  const waveMap = new Map<number, { tier: number; due_date: string; affiliates: number; on_target: number }>();
  for (const r of report.rows) {
    if (r.tier === null || r.due_date === null) continue;
    const w = waveMap.get(r.tier) ?? { tier: r.tier, due_date: r.due_date, affiliates: 0, on_target: 0 };
    w.affiliates++;
    if (r.state === 'migrated' || r.state === 'retired') w.on_target++;
    waveMap.set(r.tier, w);
  }
  const bySeverity: Record<string, number> = {};
  for (const a of open) bySeverity[a.severity] = (bySeverity[a.severity] ?? 0) + 1;
  const target = config.migration.target;
  const day = to.toISOString().slice(0, 10);
  const sev = ['critical', 'warning', 'info']
    .filter((s) => bySeverity[s])
    .map((s) => `${bySeverity[s]} ${s}`)
    .join(', ');
  const headline = `dualtrack digest ${new Date(dayStart - DAY_MS).toISOString().slice(0, 10)}: ${onTarget}/${report.rows.length} partners on ${target}, ${overdue.length} overdue, ${open.length} open alert${open.length === 1 ? '' : 's'}${sev ? ` (${sev})` : ''}`;
  const digest: Omit<DailyDigest, 'text'> = {
    source: 'dualtrack',
    version: 1,
    kind: 'digest',
    at: at.toISOString(),
    days: { from: from.toISOString().slice(0, 10), to: day },
    headline,
    migration: {
      affiliates: report.rows.length,
      states,
      on_target: onTarget,
      overdue,
      changed_yesterday: changed,
      waves: [...waveMap.values()].sort((a, b) => a.tier - b.tier),
    },
    revenue,
    alerts: {
      open: open.length,
      by_severity: bySeverity,
      top: open
        .slice(0, MAX_LISTED)
        .map((a) => ({ severity: a.severity, rule: a.rule, summary: a.summary, first_seen_at: a.first_seen_at })),
    },
  };
  return { ...digest, text: digestText(digest) };
}

function digestText(d: Omit<DailyDigest, 'text'>): string {
  const m = d.migration;
  const lines = [d.headline, ''];
  lines.push(
    `Migration: ${m.states['legacy-only']} legacy-only, ${m.states.dual} dual, ${m.states.migrated} migrated, ${m.states.retired} retired (of ${m.affiliates}).`,
  );
  for (const w of m.waves)
    lines.push(`  wave ${w.tier} (due ${w.due_date}): ${w.on_target}/${w.affiliates} on the target`);
  if (m.overdue.length) {
    lines.push(`Overdue (${m.overdue.length}):`);
    for (const o of m.overdue.slice(0, MAX_LISTED))
      lines.push(
        `  ${o.canonical_key ?? ids(o.affiliate)} [${ids(o.affiliate)}] tier ${o.tier ?? '-'}, due ${o.due_date ?? '-'}, ${o.state}, legacy revenue ${formatMoney(toMicros(o.legacy_revenue_before_start))}`,
      );
    if (m.overdue.length > MAX_LISTED) lines.push(`  …and ${m.overdue.length - MAX_LISTED} more`);
  }
  if (m.changed_yesterday.length) {
    lines.push('Changed yesterday:');
    for (const c of m.changed_yesterday.slice(0, MAX_LISTED))
      lines.push(`  ${c.canonical_key ?? ids(c.affiliate)}: ${c.from} → ${c.to}`);
    if (m.changed_yesterday.length > MAX_LISTED) lines.push(`  …and ${m.changed_yesterday.length - MAX_LISTED} more`);
  }
  lines.push('', `Revenue per day, ${d.days.from} – ${d.days.to} (exclusive):`);
  const w = Math.max(...d.revenue.map((r) => r.platform.length), 0);
  for (const r of d.revenue)
    lines.push(
      `  ${r.platform.padEnd(w)} ${r.sparkline}  last day ${formatMoney(toMicros(r.last_day))}, 30 days ${formatMoney(toMicros(r.total))}`,
    );
  lines.push('', `Open alerts: ${d.alerts.open}`);
  for (const a of d.alerts.top) lines.push(`  [${a.severity}] ${a.rule}: ${a.summary}`);
  if (d.alerts.open > d.alerts.top.length)
    lines.push(`  …and ${d.alerts.open - d.alerts.top.length} more (dualtrack alerts list)`);
  return lines.join('\n');
}

export { sparkline, digestSlackPayload, SPARK, type DailyDigest } from './digest-format.js';
