import type { Finding, RuleContext, RuleDefinition } from './types.js';
import { fingerprintOf, severityFor } from './types.js';
import { isoFromSql, orderedPlatforms, sqlTime } from './common.js';

/**
 * stale-source (docs/design.md §6): per configured platform, no successful fetch (a fetch_slices row in
 * status `fetched` or `done`, timed by COALESCE(finished_at, fetched_at)) within
 * `scheduleFactor` × platforms.<p>.scheduleMinutes before `at`. Any stream counts as a fetch.
 * A successful fetch made AFTER `at` counts as fresh: evaluating a past `at` (a backfill, a replay)
 * must not report an outage that today's data already disproves.
 *
 * The finding says why (metrics.reason):
 *  - `api-error`: slices failed since the last success (or, with no success ever, before `at`) —
 *    the error kind and the latest error message (truncated; connectors never put keys in errors);
 *  - `no-fetch`: nothing failed, the platform simply has not been fetched (scheduler stopped,
 *    queue stuck, never configured in the scheduler);
 *  - `gap`: the platform is fetched, but a window more than `maxBehindDays` back was skipped by the
 *    schedule (recorded as a failed slice with error_kind `gap`) and no backfill has loaded it yet:
 *    the summary names the window and the backfill to run.
 * A platform that is fresh does not fire even if one recent slice failed: the retry policy and the
 * DLQ handle single failures; only a platform that stays unfetched is an outage.
 */

const ERROR_PREVIEW = 200;

export const staleSource: RuleDefinition = {
  id: 'stale-source',
  defaultSeverity: 'critical',
  async evaluate(ctx: RuleContext): Promise<Finding[]> {
    const cfg = ctx.config.rules['stale-source'];
    const out: Finding[] = [];
    for (const platform of orderedPlatforms(ctx.config)) {
      const maxAgeMinutes = cfg.scheduleFactor * ctx.config.platforms[platform].scheduleMinutes;
      const freshFrom = new Date(ctx.at.getTime() - maxAgeMinutes * 60_000);
      const [fresh] = await ctx.db.query<{ n: number | string }>(
        `SELECT COUNT(*) AS n FROM ${ctx.names.core}.fetch_slices
         WHERE platform = :p AND status IN ('fetched', 'done') AND COALESCE(finished_at, fetched_at) >= :fresh`,
        { p: platform, fresh: sqlTime(freshFrom) },
      );
      if (Number(fresh.n) > 0) {
        const gap = await openGaps(ctx, platform);
        if (gap) out.push(gap);
        continue;
      }
      const [last] = await ctx.db.query<{ last_ok: string | null }>(
        `SELECT MAX(COALESCE(finished_at, fetched_at)) AS last_ok FROM ${ctx.names.core}.fetch_slices
         WHERE platform = :p AND status IN ('fetched', 'done') AND COALESCE(finished_at, fetched_at) < :at`,
        { p: platform, at: sqlTime(ctx.at) },
      );
      const lastOk = last?.last_ok ?? null;
      const failedWhen = `COALESCE(finished_at, started_at, planned_at)`;
      const failures = await ctx.db.query<{
        stream: string;
        error_kind: string | null;
        error: string | null;
        failed_at: string;
        window_from: string;
        window_to: string;
      }>(
        `SELECT stream, error_kind, error, ${failedWhen} AS failed_at, window_from, window_to FROM ${ctx.names.core}.fetch_slices
         WHERE platform = :p AND status = 'failed' AND COALESCE(error_kind, '') <> 'gap' AND ${failedWhen} < :at ${lastOk ? `AND ${failedWhen} >= :last` : ''}
         ORDER BY ${failedWhen} DESC, slice_id LIMIT 50`,
        { p: platform, at: sqlTime(ctx.at), last: lastOk },
      );
      const lastOkIso = isoFromSql(lastOk);
      const since = lastOkIso ? `since ${lastOkIso.slice(0, 16).replace('T', ' ')} UTC` : 'ever';
      const budget = `${maxAgeMinutes} minutes (${cfg.scheduleFactor} × its ${ctx.config.platforms[platform].scheduleMinutes}-minute schedule)`;
      let summary: string;
      let reason: 'api-error' | 'no-fetch';
      if (failures.length > 0) {
        reason = 'api-error';
        const kinds = [...new Set(failures.map((f) => f.error_kind ?? 'unknown'))].sort();
        const latest = preview(failures[0].error);
        summary = `${platform}: no successful fetch ${since} — its API is answering errors (${failures.length >= 50 ? '50+' : failures.length} failed fetches, ${kinds.join(', ')}; latest: ${latest ?? 'no message'}). Data older than ${budget} is all alerts can see.`;
      } else {
        reason = 'no-fetch';
        summary = `${platform}: no successful fetch ${since} and no failed ones either — the platform is not being fetched (scheduler or queue stopped?). Allowed age is ${budget}.`;
      }
      out.push({
        rule: staleSource.id,
        severity: severityFor(ctx.config, staleSource),
        fingerprint: fingerprintOf(staleSource.id, { platforms: [platform] }),
        subject: { platforms: [platform] },
        summary,
        metrics: {
          reason,
          last_success_at: lastOkIso,
          max_age_minutes: maxAgeMinutes,
          failed_fetches: failures.length,
          error_kinds: failures.length
            ? [...new Set(failures.map((f) => f.error_kind ?? 'unknown'))].sort().join(',')
            : null,
        },
        evidence: failures.slice(0, 5).map((f) => ({
          stream: f.stream,
          failed_at: isoFromSql(f.failed_at),
          window_from: isoFromSql(f.window_from),
          window_to: isoFromSql(f.window_to),
          error_kind: f.error_kind,
          error: preview(f.error),
        })),
        money_at_risk: null,
      });
    }
    return out;
  },
};

/** Windows the schedule skipped (too far behind) that no backfill has loaded yet, as one finding. */
async function openGaps(ctx: RuleContext, platform: string): Promise<Finding | null> {
  const gaps = await ctx.db.query<{ stream: string; window_from: string; window_to: string; error: string | null }>(
    `SELECT stream, window_from, window_to, error FROM ${ctx.names.core}.fetch_slices
      WHERE platform = :p AND status = 'failed' AND error_kind = 'gap' AND planned_at <= :at ORDER BY window_from, stream`,
    { p: platform, at: sqlTime(ctx.at) },
  );
  if (gaps.length === 0) return null;
  const from = isoFromSql(gaps[0].window_from);
  const to = isoFromSql(
    gaps
      .map((g) => g.window_to)
      .sort()
      .at(-1) ?? null,
  );
  const streams = [...new Set(gaps.map((g) => g.stream))].sort();
  const day = (iso: string | null) => (iso ?? '?').slice(0, 16).replace('T', ' ');
  return {
    rule: staleSource.id,
    severity: severityFor(ctx.config, staleSource),
    fingerprint: fingerprintOf(staleSource.id, { platforms: [platform] }),
    subject: { platforms: [platform] },
    summary: `${platform}: ${streams.join(', ')} between ${day(from)} and ${day(to)} UTC were never loaded — the schedule was more than maxBehindDays (${ctx.config.platforms[platform].maxBehindDays}) behind and reads only recent days. Load the gap with: dualtrack backfill --platform ${platform} --from ${from} --to ${to}`,
    metrics: {
      reason: 'gap',
      gap_from: from,
      gap_to: to,
      streams: streams.join(','),
      failed_fetches: 0,
    },
    evidence: gaps.slice(0, 5).map((g) => ({
      stream: g.stream,
      window_from: isoFromSql(g.window_from),
      window_to: isoFromSql(g.window_to),
      error: preview(g.error),
    })),
    money_at_risk: null,
  };
}

function preview(s: string | null): string | null {
  if (s === null) return null;
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > ERROR_PREVIEW ? `${one.slice(0, ERROR_PREVIEW - 1)}…` : one;
}
