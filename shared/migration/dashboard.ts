import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkLineComponent, TitleComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import type { AlertRecord } from '../alerts/types.js';
import type { Config } from '../config/schema.js';
import type { DbNames } from '../db/names.js';
import type { Db } from '../db/port.js';
import { divMicros, formatMoney, fromMicros, sumMoney, toMicros } from '../rules/money.js';
import { DAY_MS } from '../util/time.js';
import { type CutoverSeries, cutoverPng } from './cutover-png.js';
import {
  type MigrationReportRow,
  migrationReport,
  type ReconcileRow,
  type RevenueDayRow,
  reconcileReport,
  revenueReport,
  type TransitionDayRow,
  transitionsByDay,
} from './reports.js';

/**
 * The migration dashboard (`dualtrack dashboard`, and the page the daily digest links to): one
 * self-contained HTML file (no script, no font, no request when opened: it works from a file or an
 * e-mail attachment) with the pictures a manager follows the move by.
 *
 * Charts are rendered on the server by Apache ECharts' SSR SVG renderer: a kept library whose
 * output is plain SVG text inlined in the page, with no browser needed to draw it and no JavaScript
 * needed to view it. (Vega-Lite compiles to SVG too, but needs its own runtime and a headless
 * canvas to do so.) Every number comes from the same functions as `report revenue|migration|
 * reconcile` (shared/migration/reports.ts) and the alert store; the page embeds that data as JSON
 * (`<script type="application/json" id="dashboard-data">`), so a test or a tool can check it.
 * Money stays decimal text; only the chart geometry uses numbers.
 */

export interface DashboardData {
  at: string;
  /** config.baseCurrency: the currency of money at risk. */
  base_currency: string;
  target: string;
  legacy: string[];
  start_date: string;
  cutover_date: string;
  /** `report revenue` over [start − 7 days, at's day end). */
  revenue: RevenueDayRow[];
  /** `report migration` rows at `at`. */
  migration: MigrationReportRow[];
  /** `report migration --by-day`. */
  by_day: TransitionDayRow[];
  /** Open alerts by rule, with money at risk summed exactly. */
  alerts: { rule: string; open: number; money_at_risk: string }[];
  /** `report reconcile` rows (per mapped offer: affiliate null). */
  reconcile: ReconcileRow[];
}

export async function dashboardData(
  db: Db,
  names: DbNames,
  config: Config,
  at: Date,
  openAlerts: readonly AlertRecord[],
  now: Date = at,
): Promise<DashboardData> {
  const start = Date.parse(`${config.migration.startDate}T00:00:00Z`);
  const to = new Date(Math.ceil(at.getTime() / DAY_MS) * DAY_MS);
  const from = new Date(Math.min(start - 7 * DAY_MS, to.getTime() - DAY_MS));
  const report = await migrationReport(db, names, config, at, now);
  const byRule = new Map<string, AlertRecord[]>();
  for (const a of openAlerts) byRule.set(a.rule, [...(byRule.get(a.rule) ?? []), a]);
  return {
    at: at.toISOString(),
    base_currency: config.baseCurrency,
    target: config.migration.target,
    legacy: [...config.migration.legacy],
    start_date: config.migration.startDate,
    cutover_date: config.migration.cutoverDate,
    revenue: await revenueReport(db, names, config, from, to),
    migration: report.rows,
    by_day: transitionsByDay(report, config),
    alerts: [...byRule.entries()]
      .map(([rule, list]) => ({
        rule,
        open: list.length,
        money_at_risk: fromMicros(sumMoney(list.map((a) => a.money_at_risk)), 2),
      }))
      .sort((a, b) => b.open - a.open || a.rule.localeCompare(b.rule)),
    reconcile: (await reconcileReport(db, names, config, at)).rows.filter((r) => r.affiliate === null),
  };
}

// ---- rendering ----------------------------------------------------------------------------------

// Only what the page draws (the full build would triple the digest Lambda's bundle).
echarts.use([LineChart, BarChart, GridComponent, LegendComponent, MarkLineComponent, TitleComponent, SVGRenderer]);

const WIDTH = 880;
export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#9c755f'];

function svg(option: echarts.EChartsCoreOption, height = 300): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: WIDTH, height });
  try {
    chart.setOption({ animation: false, color: PALETTE, textStyle: { fontFamily: 'sans-serif' }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const ids = (o: Record<string, string> | null) =>
  o
    ? Object.entries(o)
        .map(([p, id]) => `${p} ${id}`)
        .join(' / ')
    : '';

/** The cutover curve: daily revenue per platform, with the start and cutover dates marked. */
function cutoverChart(d: DashboardData, metric: 'revenue' | 'conversions'): string {
  const days = [...new Set(d.revenue.map((r) => r.day))].sort();
  const platforms = [...new Set(d.revenue.map((r) => r.platform))];
  const value = (p: string, day: string) => {
    const r = d.revenue.find((x) => x.platform === p && x.day === day);
    return r ? Number(metric === 'revenue' ? r.revenue : r.conversions) : 0;
  };
  const marks = [
    { name: 'start', xAxis: d.start_date },
    { name: 'cutover', xAxis: d.cutover_date },
  ].filter((m) => days.includes(m.xAxis));
  return svg({
    title: { text: metric === 'revenue' ? 'Revenue per day' : 'Conversions per day', left: 8, top: 4 },
    legend: { top: 6, right: 8 },
    grid: { left: 64, right: 24, top: 44, bottom: 36 },
    xAxis: { type: 'category', data: days },
    yAxis: { type: 'value' },
    series: platforms.map((p, i) => ({
      name: p,
      type: 'line',
      showSymbol: false,
      data: days.map((day) => value(p, day)),
      ...(i === 0
        ? {
            markLine: {
              symbol: 'none',
              label: { formatter: '{b}' },
              lineStyle: { type: 'dashed', color: '#555' },
              data: marks,
            },
          }
        : {}),
    })),
  });
}

const STATES = [
  ['legacy_only', 'legacy-only'],
  ['dual', 'dual'],
  ['migrated', 'migrated'],
  ['retired', 'retired'],
] as const;

/** Affiliates by migration state at the end of each day (all waves). */
function statesChart(d: DashboardData): string {
  const days = [...new Set(d.by_day.map((r) => r.day))].sort();
  return svg({
    title: { text: 'Affiliates by migration state', left: 8, top: 4 },
    legend: { top: 6, right: 8 },
    grid: { left: 48, right: 24, top: 44, bottom: 36 },
    xAxis: { type: 'category', data: days },
    yAxis: { type: 'value', minInterval: 1 },
    series: STATES.map(([col, name]) => ({
      name,
      type: 'line',
      stack: 'states',
      areaStyle: {},
      showSymbol: false,
      data: days.map((day) => d.by_day.filter((r) => r.day === day).reduce((n, r) => n + r[col], 0)),
    })),
  });
}

/** Each wave's affiliates on the target (migrated or retired) against its due date. */
function wavesChart(d: DashboardData): string {
  const waves = new Map<number, { due: string; total: number; done: number }>();
  for (const r of d.migration) {
    if (r.tier === null || r.due_date === null) continue;
    const w = waves.get(r.tier) ?? { due: r.due_date, total: 0, done: 0 };
    w.total++;
    if (r.state === 'migrated' || r.state === 'retired') w.done++;
    waves.set(r.tier, w);
  }
  const list = [...waves.entries()].sort(([a], [b]) => a - b);
  return svg(
    {
      title: { text: 'Waves: partners on the target', left: 8, top: 4 },
      legend: { top: 6, right: 8 },
      grid: { left: 150, right: 24, top: 44, bottom: 28 },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', inverse: true, data: list.map(([t, w]) => `wave ${t} (due ${w.due})`) },
      series: [
        { name: 'on target', type: 'bar', stack: 'w', data: list.map(([, w]) => w.done), label: { show: true } },
        { name: 'not yet', type: 'bar', stack: 'w', data: list.map(([, w]) => w.total - w.done) },
      ],
    },
    Math.max(160, 60 + 36 * list.length),
  );
}

/** Open alerts by rule, labelled with their money at risk. */
function alertsChart(d: DashboardData): string {
  return svg(
    {
      title: { text: 'Open alerts by rule (money at risk)', left: 8, top: 4 },
      grid: { left: 220, right: 120, top: 40, bottom: 28 },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', inverse: true, data: d.alerts.map((a) => a.rule) },
      series: [
        {
          type: 'bar',
          data: d.alerts.map((a) => ({
            value: a.open,
            label: {
              show: true,
              position: 'right',
              formatter: `${a.open} · ${formatMoney(toMicros(a.money_at_risk))}`,
            },
          })),
        },
      ],
    },
    Math.max(140, 60 + 30 * d.alerts.length),
  );
}

/**
 * The cutover curve's data for the PNG Slack shows (shared/migration/cutover-png.ts): daily revenue
 * per platform in the chart's order, and the day indexes of the start and the cutover.
 */
export function cutoverCurve(d: DashboardData): { series: CutoverSeries[]; marks: number[]; days: string[] } {
  const days = [...new Set(d.revenue.map((r) => r.day))].sort();
  const platforms = [...new Set(d.revenue.map((r) => r.platform))];
  const series = platforms.map((platform) => ({
    platform,
    values: days.map((day) => Number(d.revenue.find((r) => r.platform === platform && r.day === day)?.revenue ?? 0)),
  }));
  const marks = [d.start_date, d.cutover_date].map((m) => days.indexOf(m)).filter((i) => i >= 0);
  return { series, marks, days };
}

/** The cutover curve as PNG bytes, and its legend (colour names by platform). */
export function cutoverImage(d: DashboardData): { png: Buffer; legend: string } {
  const { series, marks } = cutoverCurve(d);
  const names = ['blue', 'orange', 'green', 'red', 'teal', 'yellow', 'purple', 'brown'];
  return {
    png: cutoverPng(series, PALETTE, marks),
    legend: series.map((s, i) => `${names[i % names.length]}: ${s.platform}`).join(', '),
  };
}

/** The affiliates still on a legacy platform (legacy-only or dual), by legacy revenue before the start. */
export function stillOnLegacy(d: DashboardData, n = 10): MigrationReportRow[] {
  return d.migration
    .filter((r) => r.state === 'legacy-only' || r.state === 'dual')
    .sort((a, b) => {
      const x = toMicros(a.legacy_revenue_before_start);
      const y = toMicros(b.legacy_revenue_before_start);
      return x === y ? 0 : x > y ? -1 : 1;
    })
    .slice(0, n);
}

function legacyChart(d: DashboardData): string {
  const top = stillOnLegacy(d);
  return svg(
    {
      title: { text: 'Top affiliates still on a legacy platform (legacy revenue before the start)', left: 8, top: 4 },
      grid: { left: 260, right: 110, top: 40, bottom: 28 },
      xAxis: { type: 'value' },
      yAxis: {
        type: 'category',
        inverse: true,
        data: top.map((r) => `${r.canonical_key ?? ids(r.affiliate)} (${r.state})`),
      },
      series: [
        {
          type: 'bar',
          data: top.map((r) => ({
            value: Number(r.legacy_revenue_before_start),
            label: { show: true, position: 'right', formatter: formatMoney(toMicros(r.legacy_revenue_before_start)) },
          })),
        },
      ],
    },
    Math.max(140, 60 + 30 * top.length),
  );
}

/** Revenue per conversion, exactly (two decimals), or '-' without conversions. */
function aov(revenue: string, conversions: number): string {
  return conversions > 0 ? formatMoney(divMicros(toMicros(revenue), conversions)) : '-';
}

function reconcileTable(d: DashboardData): string {
  if (d.reconcile.length === 0)
    return '<p class="empty">No mapped offer has volume on two platforms in the window.</p>';
  const head = ['offer', 'platforms', 'conversions', 'revenue', 'revenue / conversion', 'rate difference', 'verdict'];
  const rows = d.reconcile.map((r) => {
    const cells = [
      esc(r.offer_key || ids(r.offer)),
      `${esc(r.platform_a)} / ${esc(r.platform_b)}`,
      `${r.conversions_a} / ${r.conversions_b}`,
      `${formatMoney(toMicros(r.revenue_a))} / ${formatMoney(toMicros(r.revenue_b))}`,
      `${aov(r.revenue_a, r.conversions_a)} / ${aov(r.revenue_b, r.conversions_b)}`,
      r.rate_difference === null ? '-' : `${(r.rate_difference * 100).toFixed(1)}%`,
      `<span class="v-${esc(r.verdict)}">${esc(r.verdict)}</span>`,
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The whole page. Data JSON is embedded with `<` escaped, so no value can end the script element. */
export function renderDashboard(d: DashboardData): string {
  const data = JSON.stringify(d).replace(/</g, '\\u003c');
  const totals = d.legacy.concat(d.target).map((p) => {
    const rev = d.revenue.filter((r) => r.platform === p).map((r) => r.revenue);
    return `${esc(p)} ${formatMoney(sumMoney(rev))}`;
  });
  const onTarget = d.migration.filter((r) => r.state === 'migrated' || r.state === 'retired').length;
  const risk = formatMoney(sumMoney(d.alerts.map((a) => a.money_at_risk)));
  const section = (title: string, body: string) => `<section><h2>${esc(title)}</h2>${body}</section>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dualtrack migration dashboard ${esc(d.at.slice(0, 10))}</title>
<style>
body{font-family:sans-serif;margin:24px auto;max-width:${WIDTH + 40}px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.sub{color:#555;margin:0 0 16px}.kpi{display:flex;gap:24px;flex-wrap:wrap;margin:8px 0 0}
.kpi div{background:#f4f6f8;border-radius:6px;padding:8px 12px}.kpi b{display:block;font-size:18px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left}
.v-discrepancy{color:#c0392b;font-weight:bold}.v-ok,.v-within-tolerance{color:#27ae60}.empty{color:#777}
svg{display:block;max-width:100%;height:auto}
</style></head><body>
<h1>Migration to ${esc(d.target)}</h1>
<p class="sub">At ${esc(d.at)} · start ${esc(d.start_date)} · cutover ${esc(d.cutover_date)}</p>
<div class="kpi"><div><b>${onTarget}/${d.migration.length}</b>partners on ${esc(d.target)}</div>
<div><b>${d.alerts.reduce((n, a) => n + a.open, 0)}</b>open alerts</div><div><b>${risk} ${esc(d.base_currency)}</b>money at risk</div>
<div><b>${totals.join('<br>')}</b>revenue in the window</div></div>
${section('The cutover curve', cutoverChart(d, 'revenue') + cutoverChart(d, 'conversions'))}
${section('Partners', statesChart(d) + wavesChart(d))}
${section('Alerts', d.alerts.length ? alertsChart(d) : '<p class="empty">No open alerts.</p>')}
${section('Still on a legacy platform', stillOnLegacy(d).length ? legacyChart(d) : '<p class="empty">Every planned partner is on the target.</p>')}
${section('Parallel-run reconciliation per mapped offer', reconcileTable(d))}
<script type="application/json" id="dashboard-data">${data}</script>
</body></html>
`;
}
