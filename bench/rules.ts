import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import type { RuleId } from '#shared/config/schema.js';
import { evaluateRulesDetailed, RULES } from '#shared/rules/engine.js';
import { benchConfig, freshBenchDatabase, log, rawConnection } from './common.js';
import { h32, hex32 } from './synthetic.js';

/**
 * Rules benchmark (issue "Rules engine"): `evaluateRules` over 30 days of data at a given click
 * volume, conversions ~3% of clicks. No rule reads raw clicks (docs/design.md §6: they read
 * hourly_rollups and indexed conversion keys; checked with grep over shared/rules), so the
 * generator writes `hourly_rollups` and `conversions` of three platforms (HitPath and CAKE legacy,
 * Everflow target) plus the crosswalk, entity names and a migration plan, with LOAD DATA LOCAL
 * INFILE. Generation is not measured.
 *
 * The network: 200 affiliates × 5 offers each (of 50), skewed volume, each affiliate on one legacy
 * platform and moving to Everflow on its own day (2 days of dual running), 95% of affiliates and
 * every offer mapped. Planted problems (so the rules have work): 0.3% of target conversions reuse a
 * legacy order id, 0.1% reuse an order id on their own platform, 0.1% copy a legacy conversion's
 * IP and offer within minutes; one Everflow offer stops converting for the last 12 hours.
 *
 * Rollup rows are bounded by affiliates × offers × hours, so they grow sublinearly with clicks
 * once most pair-hours have traffic; conversions grow linearly. Both counts are reported.
 */

export const RULE_DAYS = 30;
const START_MS = Date.UTC(2026, 9, 1);
const HOUR = 3_600_000;
const PLATFORMS = ['hitpath', 'cake', 'everflow'] as const;
type P = (typeof PLATFORMS)[number];
const AFF = 200;
const OFFERS = 50;
const PER_AFF = 5;

const affId = (p: P, a: number) => String(p === 'everflow' ? a : p === 'hitpath' ? 1000 + a : 5000 + a);
const offerId = (p: P, o: number) => String(p === 'everflow' ? o : p === 'hitpath' ? 100 + o : 500 + o);

function sqlTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Generated {
  rollups: Record<P, Buffer[]>;
  conversions: Record<P, Buffer[]>;
  counts: { rollups: number; conversions: number; clicks: number };
}

function generate(targetClicks: number): Generated {
  const rand = rng(42);
  const stochastic = (x: number) => {
    const f = Math.floor(x);
    return f + (rand() < x - f ? 1 : 0);
  };
  const affWeight = Array.from({ length: AFF + 1 }, (_, a) => (a === 0 ? 0 : 1 / a ** 0.8));
  const offerWeight = [0.4, 0.25, 0.15, 0.12, 0.08];
  const migDay = Array.from({ length: AFF + 1 }, (_, a) => 3 + (h32(7, a) % 38)); // some never move within 30 days
  const legacyOf = (a: number): P => (a % 2 ? 'hitpath' : 'cake');
  const diurnal = (hourOfDay: number) => 0.4 + 0.6 * Math.sin((Math.PI * hourOfDay) / 24) ** 2;
  // Normalize so the expected total is targetClicks.
  let z = 0;
  for (let h = 0; h < RULE_DAYS * 24; h++) {
    const day = Math.floor(h / 24);
    for (let a = 1; a <= AFF; a++) {
      const platforms = (day < migDay[a] ? 1 : 0) + (day >= migDay[a] - 2 ? 1 : 0);
      z += diurnal(h % 24) * affWeight[a] * platforms;
    }
  }
  const scale = targetClicks / z;
  const lines = {
    rollups: { hitpath: [], cake: [], everflow: [] } as Record<P, string[]>,
    conversions: { hitpath: [], cake: [], everflow: [] } as Record<P, string[]>,
  };
  const out: Generated = {
    rollups: { hitpath: [], cake: [], everflow: [] },
    conversions: { hitpath: [], cake: [], everflow: [] },
    counts: { rollups: 0, conversions: 0, clicks: 0 },
  };
  const flush = (kind: 'rollups' | 'conversions', p: P, force = false) => {
    const l = lines[kind][p];
    if (l.length >= 5_000 || (force && l.length)) {
      out[kind][p].push(Buffer.from(`${l.join('\n')}\n`));
      lines[kind][p] = [];
    }
  };
  const recentLegacy: { order: string; ip: string; offer: number; at: number }[] = [];
  const recentOwn: Record<P, string[]> = { hitpath: [], cake: [], everflow: [] };
  let seq = 0;
  const outageOffer = 1 + ((1 * 7) % OFFERS); // the biggest affiliate's first offer
  const outageFrom = START_MS + (RULE_DAYS * 24 - 12) * HOUR;
  for (let h = 0; h < RULE_DAYS * 24; h++) {
    const hourMs = START_MS + h * HOUR;
    const day = Math.floor(h / 24);
    for (let a = 1; a <= AFF; a++) {
      const active: P[] = [];
      if (day < migDay[a]) active.push(legacyOf(a));
      if (day >= migDay[a] - 2) active.push('everflow');
      for (const p of active) {
        for (let k = 0; k < PER_AFF; k++) {
          const o = 1 + ((a * 7 + k) % OFFERS);
          const clicks = stochastic(scale * diurnal(h % 24) * affWeight[a] * offerWeight[k] * (0.6 + 0.8 * rand()));
          if (clicks === 0) continue;
          out.counts.clicks += clicks;
          const outage = p === 'everflow' && o === outageOffer && hourMs >= outageFrom;
          const conv = outage ? 0 : stochastic(clicks * 0.03 * (0.7 + 0.6 * rand()));
          let counted = 0;
          let revenue = 0;
          let payout = 0;
          for (let c = 0; c < conv; c++) {
            const i = seq++;
            const at = hourMs + Math.floor(rand() * HOUR);
            const r = rand();
            const status = r < 0.85 ? 'approved' : r < 0.95 ? 'pending' : 'rejected';
            const pay = 200 + Math.floor(rand() * 4800);
            const rev = pay + 100 + Math.floor(rand() * 1000);
            let order = `O${p[0]}${i.toString(36)}`;
            let ip = `${10 + (h32(1, i) >>> 28)}.${(h32(2, i) >>> 8) & 255}.${h32(3, i) & 255}.${(h32(4, i) >>> 16) & 255}`;
            let convAt = at;
            const d = rand();
            if (p === 'everflow' && recentLegacy.length > 0 && d < 0.003)
              order = recentLegacy[Math.floor(rand() * recentLegacy.length)].order;
            else if (recentOwn[p].length > 0 && d < 0.004)
              order = recentOwn[p][Math.floor(rand() * recentOwn[p].length)];
            else if (p === 'everflow' && recentLegacy.length > 0 && d < 0.005) {
              const src = recentLegacy[recentLegacy.length - 1];
              ip = src.ip;
              convAt = Math.max(convAt, src.at + 60_000);
            }
            if (p !== 'everflow') {
              recentLegacy.push({ order, ip, offer: o, at: convAt });
              if (recentLegacy.length > 2_000) recentLegacy.shift();
            }
            recentOwn[p].push(order);
            if (recentOwn[p].length > 2_000) recentOwn[p].shift();
            const clickId = p === 'cake' ? `req-${hex32(500, i).slice(0, 20)}` : hex32(600, i);
            const sub2 = p === 'cake' ? `s2-${h32(8, i) % 100_000}` : String(a);
            // conversion_id, click_id, transaction_id, order_id, converted_at, clicked_at, affiliate_id, offer_id, advertiser_id, sub1, sub2,
            // event_name, is_event, status, revenue, payout, currency, ip, user_agent_hash, country_code, first_seen_at, updated_at
            lines.conversions[p].push(
              [
                hex32(700, i),
                clickId,
                clickId,
                order,
                sqlTime(convAt),
                sqlTime(convAt - 600_000),
                affId(p, a),
                offerId(p, o),
                String(1 + (o % 20)),
                `s1-${h32(9, i) % 100_000}`,
                sub2,
                '\\N',
                0,
                status,
                `${(rev / 100).toFixed(2)}`,
                `${(pay / 100).toFixed(2)}`,
                'USD',
                ip,
                hex32(800, h32(10, i) % 24) + hex32(900, h32(10, i) % 24),
                'US',
                sqlTime(convAt + 3_600_000),
                sqlTime(convAt + 3_600_000),
              ].join('\t'),
            );
            flush('conversions', p);
            out.counts.conversions++;
            if (status !== 'rejected' && convAt < hourMs + HOUR) {
              counted++;
              revenue += rev;
              payout += pay;
            }
          }
          // hour, affiliate_id, offer_id, clicks, unique_clicks, conversions, events, revenue, payout
          lines.rollups[p].push(
            [
              sqlTime(hourMs).slice(0, 19),
              affId(p, a),
              offerId(p, o),
              clicks,
              Math.round(clicks * 0.9),
              counted,
              0,
              (revenue / 100).toFixed(2),
              (payout / 100).toFixed(2),
            ].join('\t'),
          );
          flush('rollups', p);
          out.counts.rollups++;
        }
      }
    }
  }
  for (const p of PLATFORMS) {
    flush('rollups', p, true);
    flush('conversions', p, true);
  }
  return out;
}

export interface RuleSizeResult {
  clicks: number;
  rollupRows: number;
  conversionRows: number;
  generateSeconds: number;
  /** Whole evaluateRules runs, seconds (first after loading, then again). */
  evaluations: number[];
  perRule: Record<string, number>;
  findings: Record<string, number>;
  loadAvg: number;
}

export async function runRulesSize(clicks: number): Promise<RuleSizeResult> {
  const g0 = performance.now();
  const { bdb, config, at, counts } = await loadRulesData(clicks);
  try {
    const generateSeconds = (performance.now() - g0) / 1000;
    log(
      `  ${counts.rollups.toLocaleString('en-US')} rollup rows, ${counts.conversions.toLocaleString('en-US')} conversions, ${counts.clicks.toLocaleString('en-US')} clicks in rollups (${generateSeconds.toFixed(0)} s); evaluating`,
    );
    const evaluations: number[] = [];
    let findings: Record<string, number> = {};
    for (let run = 0; run < 2; run++) {
      const t0 = performance.now();
      const r = await evaluateRulesDetailed({ db: bdb.db, names: bdb.names, config, at });
      evaluations.push((performance.now() - t0) / 1000);
      findings = {};
      for (const f of r.findings) findings[f.rule] = (findings[f.rule] ?? 0) + 1;
    }
    const perRule: Record<string, number> = {};
    for (const rule of RULES) {
      const t0 = performance.now();
      await evaluateRulesDetailed({ db: bdb.db, names: bdb.names, config, at, only: [rule.id as RuleId] });
      perRule[rule.id] = (performance.now() - t0) / 1000;
    }
    log(`  evaluate: ${evaluations.map((s) => s.toFixed(2)).join(' s, ')} s`);
    return {
      clicks: counts.clicks,
      rollupRows: counts.rollups,
      conversionRows: counts.conversions,
      generateSeconds,
      evaluations,
      perRule,
      findings,
      loadAvg: loadavg()[0],
    };
  } finally {
    if (!process.env.BENCH_KEEP_DB) await bdb.drop();
    else await bdb.db.close();
  }
}

/** A fresh install holding `clicks` worth of 30-day data (see the module comment). The caller drops it. */
export async function loadRulesData(clicks: number) {
  const bdb = await freshBenchDatabase([...PLATFORMS]);
  const at = new Date(START_MS + RULE_DAYS * 24 * HOUR);
  const config = benchConfig(bdb.names.prefix, { startDate: '2026-10-01', cutoverDate: '2026-10-25' }, [
    'hitpath',
    'cake',
    'everflow',
  ]);
  try {
    log(`rules ${clicks.toLocaleString('en-US')} clicks: generating`);
    const data = generate(clicks);
    const conn = await rawConnection();
    try {
      for (const p of PLATFORMS) {
        const db = bdb.names.platform(p);
        await conn.query({
          sql: `LOAD DATA LOCAL INFILE 'r.tsv' INTO TABLE ${db}.hourly_rollups (hour, affiliate_id, offer_id, clicks, unique_clicks, conversions, events, revenue, payout)`,
          infileStreamFactory: () => Readable.from(data.rollups[p]),
        } as never);
        await conn.query({
          sql: `LOAD DATA LOCAL INFILE 'c.tsv' INTO TABLE ${db}.conversions (conversion_id, click_id, transaction_id, order_id, converted_at, clicked_at, affiliate_id, offer_id, advertiser_id, sub1, sub2, event_name, is_event, status, revenue, payout, currency, ip, user_agent_hash, country_code, first_seen_at, updated_at)`,
          infileStreamFactory: () => Readable.from(data.conversions[p]),
        } as never);
        const ents = (n: number, id: (k: number) => string, label: string) =>
          Array.from(
            { length: n },
            (_, k) =>
              `(${conn.escape(id(k + 1))}, ${conn.escape(`${label} ${k + 1}`)}, 'active', '2026-10-01 00:00:00')`,
          ).join(',');
        await conn.query(
          `INSERT INTO ${db}.affiliates (id, name, status, updated_at) VALUES ${ents(AFF, (a) => affId(p, a), 'Affiliate')}`,
        );
        await conn.query(
          `INSERT INTO ${db}.offers (id, name, status, updated_at) VALUES ${ents(OFFERS, (o) => offerId(p, o), 'Offer')}`,
        );
        const map: string[] = [];
        for (let a = 1; a <= AFF; a++)
          if (h32(13, a) % 20 !== 0)
            map.push(`('affiliate', '${p}', '${affId(p, a)}', 'aff-${a}', 'imported', '2026-10-01 00:00:00')`);
        for (let o = 1; o <= OFFERS; o++)
          map.push(`('offer', '${p}', '${offerId(p, o)}', 'off-${o}', 'imported', '2026-10-01 00:00:00')`);
        await conn.query(
          `INSERT INTO ${bdb.names.core}.entity_map (entity_type, platform, platform_id, canonical_key, source, updated_at) VALUES ${map.join(',')}`,
        );
      }
      const plan = Array.from(
        { length: AFF },
        (_, k) =>
          `('aff-${k + 1}', ${1 + (k % 3)}, '${['2026-10-08', '2026-10-15', '2026-10-22'][k % 3]}', ${(1000 - k).toFixed(2)}, 'auto', '2026-10-01 00:00:00')`,
      );
      await conn.query(
        `INSERT INTO ${bdb.names.core}.migration_plan (canonical_key, tier, due_date, legacy_revenue, source, updated_at) VALUES ${plan.join(',')}`,
      );
      for (const p of PLATFORMS)
        await conn.query(`ANALYZE TABLE ${bdb.names.platform(p)}.conversions, ${bdb.names.platform(p)}.hourly_rollups`);
    } finally {
      await conn.end();
    }
    return { bdb, config, at, counts: data.counts };
  } catch (e) {
    await bdb.drop();
    throw e;
  }
}
