import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { serveDashboard } from '../../cli/commands/dashboard.js';
import { crosswalkCsv } from '../../dev/simulators/scenario/generate.js';
import { DATABASE_URL } from '../helpers/db.js';
import { type Harness, startHarness } from '../helpers/pipeline-harness.js';
import { loadScenarioWindow } from './load-scenario.js';

/**
 * The migration dashboard on the simulated network (small scenario, loaded with the pipeline's
 * loader): its data is the reports' JSON, it opens in a real browser (headless Chromium) with every
 * chart drawn, no console error and no request leaving the file, and `--serve` renders afresh.
 * The screenshot is kept under test-output/ for a person to look at.
 */

const DAY = 86_400_000;
const OUTPUT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-output');
const CHROMIUM = process.env.CHROME_PATH ?? '/usr/bin/chromium';
let h: Harness;
let dir: string;
let endMs: number;

async function cli(...argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => {
    out += d;
  });
  stderr.on('data', (d) => {
    err += d;
  });
  const code = await main(['--config', join(dir, 'config.json'), ...argv], {
    stdout,
    stderr,
    env: { ...h.network.env, DATABASE_URL },
  });
  return { code, out, err };
}
const lines = (out: string) =>
  out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const dataOf = (html: string) =>
  JSON.parse(/<script type="application\/json" id="dashboard-data">([\s\S]*?)<\/script>/.exec(html)![1]);

beforeAll(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), 'dt-dashboard-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(h.config));
  const startMs = Date.parse(`${h.scenario.options.startDate}T00:00:00Z`);
  endMs = startMs + h.scenario.options.days * DAY;
  await loadScenarioWindow(h, startMs, endMs);
  writeFileSync(join(dir, 'crosswalk.csv'), crosswalkCsv(h.scenario));
  expect((await cli('mappings', 'import', join(dir, 'crosswalk.csv'))).code).toBe(0);
  // Alert state as the deployed schedule would leave it.
  expect((await cli('evaluate', '--at', new Date(endMs).toISOString(), '--json')).code).toBe(0);
}, 600_000);
afterAll(async () => h?.close());

describe('dualtrack dashboard', () => {
  it('shows exactly what the reports say', async () => {
    const at = new Date(endMs).toISOString();
    const file = join(dir, 'dashboard.html');
    const r = await cli('dashboard', '--at', at, '--out', file);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`dashboard written to ${file}`);
    const html = readFileSync(file, 'utf8');
    const d = dataOf(html);
    const from = new Date(Date.parse(`${h.config.migration.startDate}T00:00:00Z`) - 7 * DAY).toISOString();
    expect(d.revenue).toEqual(lines((await cli('report', 'revenue', '--from', from, '--to', at, '--json')).out));
    expect(d.migration).toEqual(lines((await cli('report', 'migration', '--at', at, '--json')).out));
    expect(d.by_day).toEqual(lines((await cli('report', 'migration', '--at', at, '--by-day', '--json')).out));
    const reconcile = lines((await cli('report', 'reconcile', '--at', at, '--json')).out);
    expect(d.reconcile).toEqual(reconcile.filter((x) => x.affiliate === null));
    expect(d.reconcile.length).toBeGreaterThan(0);
    const alerts = lines((await cli('alerts', 'list', '--json')).out);
    expect(d.alerts.reduce((n: number, a: { open: number }) => n + a.open, 0)).toBe(alerts.length);
    expect(d.alerts.length).toBeGreaterThan(0);
    // Self-contained: no script to run, nothing fetched from elsewhere.
    expect(html).not.toMatch(/<script(?! type="application\/json")/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('opens in headless Chromium with every chart drawn and no console error; the screenshot is kept', async () => {
    expect(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROME_PATH)`).toBe(true);
    const file = join(dir, 'dashboard.html');
    if (!existsSync(file))
      expect((await cli('dashboard', '--at', new Date(endMs).toISOString(), '--out', file)).code).toBe(0);
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(String(e)));
      page.on('request', (req) => requests.push(req.url()));
      await page.setViewport({ width: 960, height: 1200 });
      await page.goto(`file://${file}`, { waitUntil: 'load' });
      const charts = await page.$$eval('section svg', (svgs) =>
        svgs.map((s) => ({
          shapes: s.querySelectorAll('path, rect, text').length,
          width: s.getBoundingClientRect().width,
        })),
      );
      expect(charts.length).toBeGreaterThanOrEqual(6);
      for (const c of charts) {
        expect(c.shapes).toBeGreaterThan(5);
        expect(c.width).toBeGreaterThan(300);
      }
      expect(await page.$$eval('section table tbody tr', (rows) => rows.length)).toBeGreaterThan(0);
      expect(problems).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      mkdirSync(OUTPUT, { recursive: true });
      const shot = join(OUTPUT, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    } finally {
      await browser.close();
    }
  }, 120_000);

  it('--serve renders the page afresh on every reload', async () => {
    let n = 0;
    const s = await serveDashboard(async () => `<p>render ${++n}</p>`, 0);
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(await (await fetch(s.url)).text()).toBe('<p>render 1</p>');
      expect(await (await fetch(s.url)).text()).toBe('<p>render 2</p>');
      expect((await fetch(`${s.url}other`)).status).toBe(404);
    } finally {
      await s.close();
    }
  });

  it('refuses flags that do not go together, naming them', async () => {
    expect((await cli('dashboard', '--serve', '--out', 'x.html')).err).toContain('give --out or --serve, not both');
    expect((await cli('dashboard', '--port', '80')).err).toContain('--port goes with --serve');
    expect((await cli('dashboard', '--serve', '--port', 'abc')).err).toContain('--port abc: expected a port number');
  });
});
