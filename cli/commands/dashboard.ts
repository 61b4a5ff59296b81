import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { listAlerts } from '#shared/alerts/store.js';
import { dashboardData, renderDashboard } from '#shared/migration/dashboard.js';
import { instantFlag, parseArgs } from '../args.js';
import { type CliCommand, type CliContext, UsageError } from '../context.js';

const USAGE = `usage: dualtrack dashboard [--at T] [--out FILE.html]
       dualtrack dashboard --serve [--port N]

Writes the migration dashboard: one self-contained HTML page (no external requests; opens from a
file or an e-mail attachment) with the cutover curve (revenue and conversions per platform per day,
start and cutover marked), affiliates by migration state per day, each wave's progress against its
due date, open alerts by rule with money at risk, the top affiliates still on a legacy platform,
and the parallel-run reconciliation per mapped offer. The numbers are those of \`report revenue\`,
\`report migration\` and \`report reconcile\`.

  --at T       the moment to show (ISO-8601 with a zone; default: now)
  --out FILE   where to write it (default: dualtrack-dashboard-<day>.html in the current folder)
  --serve      serve it on http://127.0.0.1:PORT instead, rendered afresh on every reload
  --port N     the port for --serve (default 8080; 0 picks a free one)`;

/** The page at `at` (or now), from the database. */
async function page(ctx: CliContext, at?: Date): Promise<string> {
  const when = at ?? ctx.clock.now();
  const open = await listAlerts(ctx.db(), ctx.names(), 'open');
  return renderDashboard(await dashboardData(ctx.db(), ctx.names(), ctx.config(), when, open, ctx.clock.now()));
}

/** Serves `render()` on 127.0.0.1:`port`, afresh for every request; resolves once listening. */
export async function serveDashboard(
  render: () => Promise<string>,
  port: number,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/' && req.url !== '/index.html')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the dashboard is at /\n');
      return;
    }
    render().then(
      (html) =>
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html),
      (e: unknown) =>
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`dashboard failed: ${(e as Error).message}\n`),
    );
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

export const command: CliCommand = {
  name: 'dashboard',
  summary: 'the migration dashboard as one HTML page (written, or served locally)',
  usage: USAGE,
  async run(argv, ctx) {
    const args = parseArgs(argv, { at: 'string', out: 'string', serve: 'boolean', port: 'string' });
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const at = instantFlag(args, 'at');
    if (args.flags.serve) {
      if (args.flags.out !== undefined) throw new UsageError('give --out or --serve, not both');
      const raw = args.flags.port === undefined ? '8080' : String(args.flags.port);
      const port = Number(raw);
      if (!/^\d+$/.test(raw) || port > 65_535) throw new UsageError(`--port ${raw}: expected a port number 0–65535`);
      const s = await serveDashboard(() => page(ctx, at), port);
      ctx.stdout.write(`dashboard at ${s.url} (rendered on every reload; Ctrl-C stops)\n`);
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void s.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      return 0;
    }
    if (args.flags.port !== undefined) throw new UsageError('--port goes with --serve');
    const html = await page(ctx, at);
    const when = (at ?? ctx.clock.now()).toISOString().slice(0, 10);
    const file = resolve(String(args.flags.out ?? `dualtrack-dashboard-${when}.html`));
    writeFileSync(file, html);
    ctx.stdout.write(`dashboard written to ${file} (${Math.round(html.length / 1024)} KiB)\n`);
    return 0;
  },
};
