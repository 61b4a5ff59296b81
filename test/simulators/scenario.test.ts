import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  crosswalkCsv,
  demoScenarioOptions,
  generateScenario,
  LEGACY_SILENCE_DAYS,
  ScenarioOptionsError,
  smallScenarioOptions,
} from '../../dev/simulators/scenario/generate.js';
import { Prng } from '../../dev/simulators/scenario/prng.js';
import {
  statusAt,
  type GroundTruthIncident,
  type Scenario,
  type ScenarioClick,
  type ScenarioConversion,
} from '../../dev/simulators/scenario/types.js';

const DAY = 86_400_000;
// SCENARIO_SEED=n (and SCENARIO_SIZE=demo) run every property check against another network;
// CI runs the default small one.
const seedOverride = process.env.SCENARIO_SEED ? { seed: Number(process.env.SCENARIO_SEED) } : {};
const checkedOptions = process.env.SCENARIO_SIZE === 'demo' ? demoScenarioOptions : smallScenarioOptions;
const HOUR = 3_600_000;

function digest(s: Scenario): string {
  const h = createHash('sha256');
  const { clicks, conversions, ...rest } = s;
  h.update(JSON.stringify(rest));
  for (const [p, list] of Object.entries(clicks)) h.update(p + JSON.stringify(list));
  for (const [p, list] of Object.entries(conversions)) h.update(p + JSON.stringify(list));
  return h.digest('hex');
}

/** Collects problems instead of calling `expect` per row (hundreds of thousands of rows). */
class Problems {
  readonly list: string[] = [];
  check(ok: boolean, what: () => string): void {
    if (!ok && this.list.length < 20) this.list.push(what());
  }
}

const day = (t: number) => Math.floor(t / DAY);
const cents = (s: string) => Math.round(Number(s) * 100);

/** Lookups over one scenario, shared by the checks. */
class View {
  readonly legacy: string[];
  readonly target: string;
  readonly start: number;
  readonly end: number;
  readonly cutover: number;
  /** platform → platform id → canonical key, per entity type. */
  readonly canon: Record<'affiliate' | 'offer' | 'advertiser', Record<string, Map<string, string>>> = {
    affiliate: {},
    offer: {},
    advertiser: {},
  };
  readonly clickById: Record<string, Map<string, ScenarioClick>> = {};

  constructor(readonly s: Scenario) {
    this.legacy = s.options.legacy;
    this.target = s.options.target;
    this.start = Date.parse(`${s.options.startDate}T00:00:00Z`);
    this.end = this.start + s.options.days * DAY;
    this.cutover = Date.parse(`${s.options.cutoverDate}T00:00:00Z`);
    for (const r of s.crosswalk) (this.canon[r.entity][r.platform] ??= new Map()).set(r.platform_id, r.canonical_key);
    for (const [p, list] of Object.entries(s.clicks)) this.clickById[p] = new Map(list.map((c) => [c.clickId, c]));
  }

  aff(platform: string, id: string): string {
    return this.canon.affiliate[platform].get(id)!;
  }
  offer(platform: string, id: string): string {
    return this.canon.offer[platform].get(id)!;
  }
  incident(
    rule: GroundTruthIncident['rule'],
    match: (i: GroundTruthIncident) => boolean = () => true,
  ): GroundTruthIncident {
    const found = this.s.incidents.filter((i) => i.rule === rule && match(i));
    expect(found, `one ${rule} incident`).toHaveLength(1);
    return found[0];
  }
  allConversions(): ScenarioConversion[] {
    return Object.values(this.s.conversions).flat();
  }
  /** Clicks per canonical affiliate × canonical offer × UTC day × side ('legacy' | 'target'). */
  clickDays(): Map<string, { legacy: number; target: number }> {
    const m = new Map<string, { legacy: number; target: number }>();
    for (const [p, list] of Object.entries(this.s.clicks)) {
      const side = p === this.target ? 'target' : 'legacy';
      for (const c of list) {
        const k = `${this.aff(p, c.affiliateId)}|${this.offer(p, c.offerId)}|${day(c.clickedAt)}`;
        const e = m.get(k) ?? { legacy: 0, target: 0 };
        e[side]++;
        m.set(k, e);
      }
    }
    return m;
  }
}

/** Base conversions / clicks per side, counting conversions by click time, over [from, to). */
function rates(v: View, offerKey: string, from: number, to: number, affiliateKey?: string) {
  const out: Record<string, { clicks: number; conversions: number }> = {};
  for (const [p, list] of Object.entries(v.s.clicks)) {
    const e = (out[p] ??= { clicks: 0, conversions: 0 });
    for (const c of list)
      if (
        c.clickedAt >= from &&
        c.clickedAt < to &&
        v.offer(p, c.offerId) === offerKey &&
        (!affiliateKey || v.aff(p, c.affiliateId) === affiliateKey)
      )
        e.clicks++;
    for (const c of v.s.conversions[p])
      if (
        c.eventName === null &&
        c.clickedAt >= from &&
        c.clickedAt < to &&
        v.offer(p, c.offerId) === offerKey &&
        (!affiliateKey || v.aff(p, c.affiliateId) === affiliateKey)
      )
        e.conversions++;
  }
  return out;
}

function twoProportionZ(
  a: { clicks: number; conversions: number },
  b: { clicks: number; conversions: number },
): number {
  const p1 = a.conversions / a.clicks;
  const p2 = b.conversions / b.clicks;
  const p = (a.conversions + b.conversions) / (a.clicks + b.clicks);
  const se = Math.sqrt(p * (1 - p) * (1 / a.clicks + 1 / b.clicks));
  return se === 0 ? 0 : (p1 - p2) / se;
}

describe('prng', () => {
  it('is reproducible per seed and samples plausibly', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(new Prng(43).next()).not.toBe(xs[0]);
    const r = new Prng(1);
    const n = 20_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += r.poisson(4);
    expect(sum / n).toBeGreaterThan(3.9);
    expect(sum / n).toBeLessThan(4.1);
    let big = 0;
    for (let i = 0; i < 2000; i++) big += r.poisson(200);
    expect(big / 2000).toBeGreaterThan(198);
    expect(big / 2000).toBeLessThan(202);
    expect(r.binomial(1000, 0.3)).toBeGreaterThan(240);
    expect(new Set(r.sampleIndexes(10, 10))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(r.hexId(1, 7)).toMatch(/^[0-9a-f]{32}$/);
    expect(r.int(3, 3)).toBe(3);
  });
});

describe('generateScenario (small options)', () => {
  let s: Scenario;
  let v: View;
  beforeAll(() => {
    const t0 = performance.now();
    s = generateScenario(checkedOptions(seedOverride));
    console.log(
      `small scenario: ${(performance.now() - t0).toFixed(0)} ms, ${Object.values(s.clicks).reduce((a, l) => a + l.length, 0)} clicks, ${Object.values(s.conversions).reduce((a, l) => a + l.length, 0)} conversions`,
    );
    v = new View(s);
  });

  it('is deterministic: same options give the same scenario, another seed a different one', () => {
    const again = generateScenario(checkedOptions(seedOverride));
    expect(digest(again)).toBe(digest(s));
    expect(digest(generateScenario(checkedOptions({ seed: s.options.seed + 1 })))).not.toBe(digest(s));
  }, 300_000);

  it('has every entity on the platforms it should, with its own id format, and a crosswalk row for each', () => {
    const { platforms, target, legacy } = s.options;
    for (const p of Object.keys(platforms)) {
      expect(s.offers[p]).toHaveLength(s.options.offers);
      expect(s.advertisers[p]).toHaveLength(s.options.advertisers);
      for (const e of [...s.offers[p], ...s.advertisers[p], ...s.affiliates[p]]) {
        expect(e.name.length).toBeGreaterThan(0);
        expect(e.createdAt).toBeLessThan(v.end);
        expect(new Set(['active', 'inactive', 'pending']).has(e.status)).toBe(true);
      }
      for (const a of s.affiliates[p]) expect(a.email).toMatch(/^[a-z]+@[a-z0-9]+\.example$/);
      for (const o of s.offers[p]) {
        expect(s.advertisers[p].some((a) => a.id === o.advertiserId)).toBe(true);
        expect(o.revenue).toMatch(/^\d+\.\d{2}$/);
        expect(o.payout).toMatch(/^\d+\.\d{2}$/);
      }
    }
    expect(s.offers.everflow.every((o) => /^\d{1,3}$/.test(o.id))).toBe(true);
    expect(s.offers.cake.every((o) => /^\d{4}$/.test(o.id))).toBe(true);
    // Every affiliate has exactly one legacy account; all but the lagging partner a target one.
    const legacyCount = legacy.reduce((n, p) => n + s.affiliates[p].length, 0);
    expect(legacyCount).toBe(s.options.affiliates);
    expect(s.affiliates[legacy[0]].length).toBeGreaterThan(s.affiliates[legacy[1]].length);
    expect(s.affiliates[target]).toHaveLength(s.options.affiliates - 1);
    const entityCount =
      Object.values(s.affiliates).flat().length +
      Object.values(s.offers).flat().length +
      Object.values(s.advertisers).flat().length;
    expect(s.crosswalk).toHaveLength(entityCount);
    const csv = crosswalkCsv(s).trimEnd().split('\n');
    expect(csv[0]).toBe('entity,platform,platform_id,canonical_key');
    expect(csv).toHaveLength(entityCount + 1);
    expect(csv).toContain(`offer,everflow,${s.offers.everflow[0].id},${s.offers.everflow[0].canonicalKey}`);
    // Ids are unique per platform and entity type; canonical keys map one-to-one per platform.
    for (const kind of ['affiliate', 'offer', 'advertiser'] as const) {
      for (const p of Object.keys(platforms)) {
        const rows = s.crosswalk.filter((r) => r.entity === kind && r.platform === p);
        expect(new Set(rows.map((r) => r.platform_id)).size).toBe(rows.length);
        expect(new Set(rows.map((r) => r.canonical_key)).size).toBe(rows.length);
      }
    }
  });

  it('clicks and conversions reference existing entities and clicks on their own platform, sorted, inside the range', () => {
    const bad = new Problems();
    for (const p of Object.keys(s.options.platforms)) {
      const affs = new Set(s.affiliates[p].map((a) => a.id));
      const offers = new Map(s.offers[p].map((o) => [o.id, o]));
      let last = -Infinity;
      for (const c of s.clicks[p]) {
        const where = () => `${p} click ${c.clickId}`;
        bad.check(c.platform === p, where);
        bad.check(affs.has(c.affiliateId), () => `${where()}: unknown affiliate ${c.affiliateId}`);
        bad.check(
          offers.get(c.offerId)?.advertiserId === c.advertiserId,
          () => `${where()}: offer ${c.offerId} / advertiser ${c.advertiserId}`,
        );
        bad.check(
          c.clickedAt >= last && c.clickedAt >= v.start && c.clickedAt < v.end,
          () => `${where()}: out of order or range`,
        );
        last = c.clickedAt;
      }
      bad.check(
        new Set(s.clicks[p].map((c) => c.clickId)).size === s.clicks[p].length,
        () => `${p}: duplicate click ids`,
      );
      last = -Infinity;
      for (const c of s.conversions[p]) {
        const where = () => `${p} conversion ${c.conversionId}`;
        const click = v.clickById[p].get(c.clickId);
        if (!click) {
          bad.check(false, () => `${where()}: no click ${c.clickId}`);
          continue;
        }
        bad.check(c.clickedAt === click.clickedAt && c.convertedAt >= c.clickedAt, () => `${where()}: times`);
        bad.check(c.convertedAt - c.clickedAt <= 7 * DAY + 48 * HOUR, () => `${where()}: delay`);
        bad.check(
          c.affiliateId === click.affiliateId &&
            c.offerId === click.offerId &&
            c.advertiserId === click.advertiserId &&
            c.ip === click.ip,
          () => `${where()}: differs from its click`,
        );
        bad.check(c.convertedAt >= last && c.convertedAt < v.end, () => `${where()}: out of order or range`);
        last = c.convertedAt;
        bad.check(
          /^\d+\.\d{2}$/.test(c.revenue) && /^\d+\.\d{2}$/.test(c.payout) && c.currency === 'USD',
          () => `${where()}: money`,
        );
        const offer = offers.get(c.offerId)!;
        if (c.eventName === null)
          bad.check(
            c.revenue === offer.revenue && c.payout === offer.payout,
            () => `${where()}: revenue/payout not the offer's`,
          );
        else
          bad.check(
            offer.events?.some((e) => e.name === c.eventName && e.revenue === c.revenue && e.payout === c.payout) ===
              true,
            () => `${where()}: event money`,
          );
        for (const ch of c.changes) {
          bad.check(
            c.status === 'pending' && ch.at - c.convertedAt >= DAY && ch.at - c.convertedAt <= 5 * DAY && ch.at < v.end,
            () => `${where()}: change ${JSON.stringify(ch)}`,
          );
        }
        if (s.options.platforms[p] === 'everflow')
          bad.check(c.transactionId === c.clickId, () => `${where()}: Everflow transaction_id is the click id`);
      }
      bad.check(
        new Set(s.conversions[p].map((c) => c.conversionId)).size === s.conversions[p].length,
        () => `${p}: duplicate conversion ids`,
      );
    }
    expect(bad.list).toEqual([]);
    expect(s.clicks.everflow.every((c) => /^[0-9a-f]{32}$/.test(c.clickId))).toBe(true);
    const all = v.allConversions();
    expect(all.some((c) => c.eventName !== null)).toBe(true);
    expect(all.some((c) => c.saleAmount !== null)).toBe(true);
    expect(all.some((c) => c.changes.some((ch) => ch.status === 'rejected'))).toBe(true);
    expect(all.some((c) => c.changes.some((ch) => ch.status === 'approved'))).toBe(true);
    expect(all.some((c) => c.convertedAt - c.clickedAt > DAY)).toBe(true);
  });

  it('has unique order ids except the injected duplicates, and unique IPs except the injected IP match', () => {
    const byOrder = new Map<string, ScenarioConversion[]>();
    for (const c of v.allConversions()) byOrder.set(c.orderId, [...(byOrder.get(c.orderId) ?? []), c]);
    const dups = [...byOrder].filter(([, l]) => l.length > 1);
    const crossOrder = v.incident('cross-platform-duplicate', (i) => i.orderId !== undefined);
    const platformDup = v.incident('platform-duplicate');
    expect(dups.map(([o]) => o).sort()).toEqual([crossOrder.orderId, platformDup.orderId].sort());
    const cross = byOrder.get(crossOrder.orderId!)!;
    expect(cross.map((c) => c.platform).sort()).toEqual([...crossOrder.platforms].sort());
    expect(cross.map((c) => c.status)).toEqual(['approved', 'approved']);
    expect(cross.every((c) => c.changes.length === 0)).toBe(true);
    const pd = byOrder.get(platformDup.orderId!)!;
    expect(pd.map((c) => c.platform)).toEqual([s.options.target, s.options.target]);
    expect(pd.map((c) => statusAt(c, v.end).status)).toEqual(['approved', 'approved']);
    expect(pd[0].clickId).not.toBe(pd[1].clickId);

    const byIp = new Map<string, ScenarioClick[]>();
    for (const list of Object.values(s.clicks)) for (const c of list) byIp.set(c.ip, [...(byIp.get(c.ip) ?? []), c]);
    const shared = [...byIp].filter(([, l]) => l.length > 1);
    expect(shared).toHaveLength(1);
    const ipInc = v.incident('cross-platform-duplicate', (i) => i.description.startsWith('Same IP'));
    const [, pair] = shared[0];
    expect(pair.map((c) => c.platform).sort()).toEqual([...ipInc.platforms].sort());
    expect(pair[0].userAgent).toBe(pair[1].userAgent);
    expect(new Set(pair.map((c) => v.offer(c.platform, c.offerId)))).toEqual(new Set([ipInc.offerKey]));
    expect(Math.abs(pair[0].clickedAt - pair[1].clickedAt)).toBeLessThan(10 * 60_000);
    const convs = v.allConversions().filter((c) => c.ip === pair[0].ip);
    expect(convs).toHaveLength(2);
    expect(Math.abs(convs[0].convertedAt - convs[1].convertedAt)).toBeLessThan(10 * 60_000);
    expect(convs[0].orderId).not.toBe(convs[1].orderId);
    expect(ipInc.conversionIds).toEqual(Object.fromEntries(convs.map((c) => [c.platform, [c.conversionId]])));
  });

  it('links one CAKE conversion to an Everflow conversion through s2 = transaction_id, and nothing else', () => {
    const inc = v.incident('cross-platform-duplicate', (i) => i.description.startsWith('Transaction-id bridge'));
    const efTx = new Map(s.conversions.everflow.map((c) => [c.transactionId, c]));
    const bridged = s.conversions.cake.filter((c) => c.subs[1] !== null && efTx.has(c.subs[1]));
    expect(bridged).toHaveLength(1);
    const cake = bridged[0];
    const ef = efTx.get(cake.subs[1]!)!;
    expect(inc.conversionIds).toEqual({ cake: [cake.conversionId], everflow: [ef.conversionId] });
    expect(v.offer('cake', cake.offerId)).toBe(v.offer('everflow', ef.offerId));
    expect(cake.orderId).not.toBe(ef.orderId);
    expect(cake.ip).not.toBe(ef.ip);
    expect(Math.abs(cake.convertedAt - ef.convertedAt)).toBeLessThan(5 * 60_000);
    // And no Everflow sub carries a CAKE request id (the other direction of the bridge).
    const cakeTx = new Set(s.conversions.cake.map((c) => c.transactionId));
    expect(s.conversions.everflow.some((c) => c.subs.some((x) => x !== null && cakeTx.has(x)))).toBe(false);
  });

  it('dual running: one partner runs one offer on both sides ≥ 20 clicks a day for ≥ 7 days, a quiet one several small offers; every other overlap ends within hours of the move', () => {
    const big = v.incident('dual-running', (i) => i.offerKey !== undefined);
    const quiet = v.incident('dual-running', (i) => i.offerKey === undefined);
    const days = v.clickDays();
    let dualDays = 0;
    for (let d = day(big.from) + 1; d < day(big.to); d++) {
      const e = days.get(`${big.affiliateKey}|${big.offerKey}|${d}`)!;
      expect(e.legacy).toBeGreaterThanOrEqual(20);
      expect(e.target).toBeGreaterThanOrEqual(20);
      dualDays++;
    }
    expect(dualDays).toBeGreaterThanOrEqual(6);
    // Per affiliate × offer: first target click, and legacy clicks after it (with their times).
    const firstTarget = new Map<string, number>();
    const t = s.options.target;
    for (const c of s.clicks[t]) {
      const k = `${v.aff(t, c.affiliateId)}|${v.offer(t, c.offerId)}`;
      if (!firstTarget.has(k) || c.clickedAt < firstTarget.get(k)!) firstTarget.set(k, c.clickedAt);
    }
    const lateLegacy = new Map<string, number[]>();
    for (const p of s.options.legacy)
      for (const c of s.clicks[p]) {
        const k = `${v.aff(p, c.affiliateId)}|${v.offer(p, c.offerId)}`;
        const f = firstTarget.get(k);
        if (f !== undefined && c.clickedAt >= f) lateLegacy.set(k, [...(lateLegacy.get(k) ?? []), c.clickedAt - f]);
      }
    const quietOffers = [...lateLegacy.keys()].filter((k) => k.startsWith(`${quiet.affiliateKey}|`));
    expect(quietOffers.length).toBeGreaterThanOrEqual(2);
    // The quiet partner: across its offers enough clicks, but some offer under 20 a day per side.
    const quietDays = [...days].filter(([k]) => quietOffers.some((o) => k.startsWith(`${o}|`)));
    expect(quietDays.some(([, e]) => e.legacy > 0 && e.legacy < 20)).toBe(true);
    // Mid-day moves with tails: many partners have a UTC day with new clicks on both sides (the
    // migration), but outside the two dual runners every legacy click after the first target click
    // comes within a day (the tail), except the bridge's single forwarded CAKE click.
    const bridge = v.incident('cross-platform-duplicate', (i) => i.description.startsWith('Transaction-id bridge'));
    const bothSidesDays = [...days].filter(([, e]) => e.legacy > 0 && e.target > 0).length;
    let tails = 0;
    for (const [k, offsets] of lateLegacy) {
      const aff = k.split('|')[0];
      if (aff === big.affiliateKey || aff === quiet.affiliateKey) continue;
      if (k === `${bridge.affiliateKey}|${bridge.offerKey}` && offsets.length === 1) continue;
      tails++;
      expect(Math.max(...offsets), `${k} ${offsets.length} legacy clicks after its move`).toBeLessThan(DAY);
    }
    expect(tails).toBeGreaterThan(0);
    expect(bothSidesDays).toBeGreaterThan(dualDays * 2);
  });

  it('tracking outage: the offer gets target clicks but no target conversions for 12 hours, against a ≥ 2/hour baseline', () => {
    const inc = v.incident('tracking-outage');
    expect(inc.to - inc.from).toBe(12 * HOUR);
    expect(inc.from).toBeGreaterThan(v.cutover);
    const t = s.options.target;
    const isOffer = (c: { offerId: string }) => v.offer(t, c.offerId) === inc.offerKey;
    for (let h = inc.from; h < inc.to; h += HOUR) {
      expect(
        s.clicks[t].filter((c) => isOffer(c) && c.clickedAt >= h && c.clickedAt < h + HOUR).length,
      ).toBeGreaterThan(5);
    }
    expect(
      s.conversions[t].filter((c) => isOffer(c) && c.convertedAt >= inc.from && c.convertedAt < inc.to),
    ).toHaveLength(0);
    // The same 12 hours on each of the four previous weeks (the hour-of-week baseline, which still
    // covers the migration's ramp-up): target traffic in every one, ≥ 2 conversions an hour on average.
    const migrationStart = Date.parse(`${s.options.migrationStart}T00:00:00Z`);
    expect(inc.from - 28 * DAY).toBeGreaterThanOrEqual(migrationStart);
    const weeks = [1, 2, 3, 4].map(
      (w) =>
        s.conversions[t].filter(
          (c) => isOffer(c) && c.convertedAt >= inc.from - w * 7 * DAY && c.convertedAt < inc.to - w * 7 * DAY,
        ).length,
    );
    for (const n of weeks) expect(n).toBeGreaterThan(0);
    expect(weeks.reduce((a, b) => a + b, 0) / 4).toBeGreaterThanOrEqual(24);
    expect(weeks[0]).toBeGreaterThanOrEqual(24);
    // Conversions come back after the window.
    expect(
      s.conversions[t].some((c) => isOffer(c) && c.convertedAt >= inc.to && c.convertedAt < inc.to + 3 * HOUR),
    ).toBe(true);
  });

  it('conversion rates: the discrepancy offer converts at ~half on the target; every other comparison is within binomial noise', () => {
    const inc = v.incident('conversion-rate-discrepancy');
    expect(inc.to - inc.from).toBe(14 * DAY);
    const r = rates(v, inc.offerKey!, inc.from, inc.to);
    const legacySides = s.options.legacy.filter((p) => r[p].clicks >= 500);
    expect(legacySides.length).toBeGreaterThan(0);
    const tgt = r[s.options.target];
    expect(tgt.clicks).toBeGreaterThanOrEqual(2000);
    expect(tgt.conversions).toBeGreaterThanOrEqual(20);
    const main = legacySides.reduce((a, b) => (r[a].clicks >= r[b].clicks ? a : b));
    expect(r[main].clicks).toBeGreaterThanOrEqual(2000);
    const ratio = tgt.conversions / tgt.clicks / (r[main].conversions / r[main].clicks);
    expect(ratio).toBeGreaterThan(0.4);
    expect(ratio).toBeLessThan(0.6);
    expect(Math.abs(twoProportionZ(r[main], tgt))).toBeGreaterThan(5);

    // Every other (offer, 14-day window) with ≥ 500 clicks on a legacy platform and the target.
    let compared = 0;
    const offerKeys = s.offers[s.options.target].map((o) => o.canonicalKey);
    for (let from = v.start; from + 14 * DAY <= v.end; from += 7 * DAY) {
      for (const key of offerKeys) {
        const rr = rates(v, key, from, from + 14 * DAY);
        const overlapsIncident = key === inc.offerKey && from < inc.to && from + 14 * DAY > inc.from;
        for (const p of s.options.legacy) {
          if (overlapsIncident || rr[p].clicks < 500 || rr[s.options.target].clicks < 500) continue;
          compared++;
          const z = twoProportionZ(rr[p], rr[s.options.target]);
          expect(
            Math.abs(z),
            `${key} ${p} vs target from ${new Date(from).toISOString()}: ${JSON.stringify(rr)}`,
          ).toBeLessThan(2.5);
        }
      }
    }
    expect(compared).toBeGreaterThan(0);
  });

  it('offer × affiliate conversion rates agree across platforms outside the injected discrepancy', () => {
    const inc = v.incident('conversion-rate-discrepancy');
    const t = s.options.target;
    // Per affiliate × offer × side, over the whole scenario outside the incident window.
    const tally = new Map<string, { clicks: number; conversions: number }>();
    const add = (
      p: string,
      c: { affiliateId: string; offerId: string; clickedAt: number },
      field: 'clicks' | 'conversions',
    ) => {
      const offer = v.offer(p, c.offerId);
      if (offer === inc.offerKey && c.clickedAt >= inc.from && c.clickedAt < inc.to) return;
      const k = `${v.aff(p, c.affiliateId)}|${offer}|${p}`;
      const e = tally.get(k) ?? { clicks: 0, conversions: 0 };
      e[field]++;
      tally.set(k, e);
    };
    for (const [p, list] of Object.entries(s.clicks)) for (const c of list) add(p, c, 'clicks');
    for (const [p, list] of Object.entries(s.conversions))
      for (const c of list) if (c.eventName === null) add(p, c, 'conversions');
    let compared = 0;
    const bad = new Problems();
    for (const [k, tgt] of tally) {
      const [aff, offer, p] = k.split('|');
      if (p !== t) continue;
      for (const l of s.options.legacy) {
        const leg = tally.get(`${aff}|${offer}|${l}`);
        if (!leg || leg.clicks < 500 || tgt.clicks < 500) continue;
        compared++;
        const z = twoProportionZ(leg, tgt);
        bad.check(
          Math.abs(z) < 3,
          () => `${aff} × ${offer}: ${l} ${JSON.stringify(leg)} vs ${t} ${JSON.stringify(tgt)} z=${z.toFixed(2)}`,
        );
      }
    }
    expect(bad.list).toEqual([]);
    expect(compared).toBeGreaterThan(5);
  });

  it('no stream goes quiet by chance: only the injected outage has ≥ 6 conversion-free hours where ≥ 6.9 were expected', () => {
    const out = v.incident('tracking-outage');
    const disc = v.incident('conversion-rate-discrepancy');
    const rateOf = new Map<string, number>();
    // The offer's true rate, estimated over the whole scenario on all platforms (it depends on the offer only).
    for (const o of s.offers[s.options.target]) {
      const r = rates(v, o.canonicalKey, v.start, v.end);
      const sum = Object.values(r).reduce(
        (a, x) => ({ clicks: a.clicks + x.clicks, conversions: a.conversions + x.conversions }),
        { clicks: 0, conversions: 0 },
      );
      rateOf.set(o.canonicalKey, sum.conversions / sum.clicks);
    }
    const hours = s.options.days * 24;
    const bad = new Problems();
    let runsSeen = 0;
    for (const [p, list] of Object.entries(s.clicks)) {
      // Expected conversions and actual conversions per hour, per offer and per affiliate × offer.
      const expectedPerHour = new Map<string, Float64Array>();
      const convPerHour = new Map<string, Uint16Array>();
      const keysOf = (c: { affiliateId: string; offerId: string }) => [
        v.offer(p, c.offerId),
        `${v.aff(p, c.affiliateId)}|${v.offer(p, c.offerId)}`,
      ];
      for (const c of list) {
        const offer = v.offer(p, c.offerId);
        const half =
          p === s.options.target && offer === disc.offerKey && c.clickedAt >= disc.from && c.clickedAt < disc.to;
        const h = Math.floor((c.clickedAt - v.start) / HOUR);
        for (const k of keysOf(c)) {
          let a = expectedPerHour.get(k);
          if (!a) expectedPerHour.set(k, (a = new Float64Array(hours)));
          a[h] += rateOf.get(offer)! * (half ? 0.5 : 1);
        }
      }
      for (const c of s.conversions[p]) {
        const h = Math.floor((c.convertedAt - v.start) / HOUR);
        for (const k of keysOf(c)) {
          let a = convPerHour.get(k);
          if (!a) convPerHour.set(k, (a = new Uint16Array(hours)));
          a[h]++;
        }
      }
      for (const [k, exp] of expectedPerHour) {
        const conv = convPerHour.get(k) ?? new Uint16Array(hours);
        let runStart = 0;
        let runExpected = 0;
        for (let h = 0; h <= hours; h++) {
          if (h < hours && conv[h] === 0) {
            runExpected += exp[h];
            continue;
          }
          const from = v.start + runStart * HOUR;
          const to = v.start + h * HOUR;
          if (h - runStart >= 6 && runExpected >= 6.9) {
            runsSeen++;
            const isOutage = p === s.options.target && k.endsWith(out.offerKey!) && from < out.to && to > out.from;
            bad.check(
              isOutage,
              () =>
                `${p} ${k}: no conversions ${new Date(from).toISOString()}–${new Date(to).toISOString()}, ${runExpected.toFixed(1)} expected`,
            );
          }
          runStart = h + 1;
          runExpected = 0;
        }
      }
    }
    expect(bad.list).toEqual([]);
    expect(runsSeen).toBeGreaterThan(0); // the outage itself is found by the same scan
  });

  it('migration: tiers follow legacy revenue before the start, partners move by their due date, the lagging one never does', () => {
    const migrationStart = Date.parse(`${s.options.migrationStart}T00:00:00Z`);
    const n = s.options.affiliates;
    // Recompute legacy revenue two ways (without rejected, and all statuses): same tiers.
    for (const includeRejected of [false, true]) {
      const rev = new Map<string, number>();
      for (const p of s.options.legacy) {
        for (const c of s.conversions[p]) {
          if (c.convertedAt >= migrationStart) continue;
          if (!includeRejected && statusAt(c, v.end).status === 'rejected') continue;
          const k = v.aff(p, c.affiliateId);
          rev.set(k, (rev.get(k) ?? 0) + cents(c.revenue));
        }
      }
      const ranked = [...rev].sort((a, b) => b[1] - a[1]).map(([k]) => k);
      const tierOf = new Map(ranked.map((k, i) => [k, 1 + Math.floor((i * 3) / n)]));
      for (const w of s.waves)
        expect(w.tier, `${w.canonicalKey} includeRejected=${includeRejected}`).toBe(tierOf.get(w.canonicalKey));
      if (!includeRejected)
        for (const w of s.waves) expect(cents(w.legacyRevenueBeforeStart!)).toBe(rev.get(w.canonicalKey));
    }
    expect(s.waves).toHaveLength(n);
    for (const t of [1, 2, 3]) expect(s.waves.filter((w) => w.tier === t)).toHaveLength(n / 3);
    const lagging = v.incident('migration-lagging-partner');
    const dual = v.incident('dual-running', (i) => i.offerKey !== undefined);
    for (const w of s.waves) {
      if (w.canonicalKey === lagging.affiliateKey) {
        expect(w.tier).toBe(2);
        expect(w.movedOn).toBeNull();
        expect(w.legacyStoppedOn).toBeNull();
        continue;
      }
      expect(w.movedOn! < w.dueDate!, `${w.canonicalKey} moved ${w.movedOn}, due ${w.dueDate}`).toBe(true);
      expect(w.movedOn! >= s.options.migrationStart).toBe(true);
      expect(w.legacyStoppedOn).not.toBeNull();
    }
    const dualWave = s.waves.find((w) => w.canonicalKey === dual.affiliateKey)!;
    expect(dualWave.tier).toBe(1);
    expect(
      Date.parse(`${dualWave.legacyStoppedOn}T00:00:00Z`) - Date.parse(`${dualWave.movedOn}T00:00:00Z`),
    ).toBeGreaterThanOrEqual(6 * DAY);
    // The lagging partner: no target account, no target traffic, legacy traffic to the end.
    const t = s.options.target;
    expect(s.affiliates[t].some((a) => a.canonicalKey === lagging.affiliateKey)).toBe(false);
    expect(lagging.from).toBe(
      Date.parse(`${s.waves.find((w) => w.canonicalKey === lagging.affiliateKey)!.dueDate}T00:00:00Z`) + DAY,
    );
  });

  it('legacy traffic after the cutover comes only from the lagging and the stray partner, with new clicks', () => {
    const incs = s.incidents.filter((i) => i.rule === 'legacy-traffic-after-cutover');
    expect(incs).toHaveLength(2);
    const lagging = v.incident('migration-lagging-partner');
    expect(incs.map((i) => i.affiliateKey)).toContain(lagging.affiliateKey);
    const expected = new Set(incs.map((i) => i.affiliateKey));
    const after = new Map<string, { convs: number; newClickConvs: number }>();
    for (const p of s.options.legacy) {
      for (const c of s.conversions[p]) {
        if (c.convertedAt < v.cutover) continue;
        const k = v.aff(p, c.affiliateId);
        const e = after.get(k) ?? { convs: 0, newClickConvs: 0 };
        e.convs++;
        if (c.clickedAt >= v.cutover) e.newClickConvs++;
        after.set(k, e);
      }
    }
    expect(new Set(after.keys())).toEqual(expected);
    for (const [, e] of after) expect(e.newClickConvs).toBeGreaterThanOrEqual(3);
    // Every other partner's last legacy click is ≥ LEGACY_SILENCE_DAYS before the cutover.
    const bad = new Problems();
    for (const p of s.options.legacy) {
      for (const c of s.clicks[p]) {
        if (expected.has(v.aff(p, c.affiliateId))) continue;
        bad.check(
          c.clickedAt < v.cutover - LEGACY_SILENCE_DAYS * DAY,
          () => `${p} click ${c.clickId} of ${v.aff(p, c.affiliateId)} at ${new Date(c.clickedAt).toISOString()}`,
        );
      }
    }
    expect(bad.list).toEqual([]);
    // The stray partner's legacy offer is one it does not run on the target.
    const stray = incs.find((i) => i.affiliateKey !== lagging.affiliateKey)!;
    const t = s.options.target;
    expect(
      s.clicks[t].some(
        (c) => v.aff(t, c.affiliateId) === stray.affiliateKey && v.offer(t, c.offerId) === stray.offerKey,
      ),
    ).toBe(false);
  });

  it('total revenue per day is stable: no same-weekday drop over 20 %', () => {
    const perDay = new Map<number, number>();
    for (const c of v.allConversions())
      perDay.set(day(c.convertedAt), (perDay.get(day(c.convertedAt)) ?? 0) + cents(c.revenue));
    const first = day(v.start);
    const last = day(v.end) - 1;
    let checked = 0;
    for (let d = first + 7; d <= last; d++) {
      const prev = [1, 2, 3, 4].map((w) => perDay.get(d - 7 * w)).filter((x): x is number => x !== undefined);
      const mean = prev.reduce((a, b) => a + b, 0) / prev.length;
      expect(perDay.get(d)! / mean, `day ${new Date(d * DAY).toISOString().slice(0, 10)}`).toBeGreaterThan(0.8);
      checked++;
    }
    expect(checked).toBe(s.options.days - 7);
  });

  it('records each incident with the ids of its subject on each platform', () => {
    const rules = s.incidents.map((i) => i.rule).sort();
    expect(rules).toEqual([
      'conversion-rate-discrepancy',
      'cross-platform-duplicate',
      'cross-platform-duplicate',
      'cross-platform-duplicate',
      'dual-running',
      'dual-running',
      'legacy-traffic-after-cutover',
      'legacy-traffic-after-cutover',
      'migration-lagging-partner',
      'platform-duplicate',
      'tracking-outage',
    ]);
    for (const i of s.incidents) {
      expect(i.from).toBeLessThan(i.to);
      expect(i.to).toBeLessThanOrEqual(v.end);
      for (const [p, id] of Object.entries(i.affiliateIds ?? {})) expect(v.aff(p, id)).toBe(i.affiliateKey);
      for (const [p, id] of Object.entries(i.offerIds ?? {})) expect(v.offer(p, id)).toBe(i.offerKey);
      for (const p of i.platforms) expect(s.options.platforms[p]).toBeDefined();
      for (const [p, ids] of Object.entries(i.conversionIds ?? {})) {
        for (const id of ids) expect(s.conversions[p].some((c) => c.conversionId === id)).toBe(true);
      }
    }
  });

  it('rejects bad options with an error naming the option', () => {
    const bad = (o: Parameters<typeof smallScenarioOptions>[0], option: string) => {
      expect(() => generateScenario(smallScenarioOptions(o))).toThrow(ScenarioOptionsError);
      expect(() => generateScenario(smallScenarioOptions(o))).toThrow(`scenario option ${option}:`);
    };
    bad({ cutoverDate: '2026-03-20' }, 'cutoverDate');
    bad({ migrationStart: '2026-03-04' }, 'migrationStart');
    bad({ days: 35 }, 'days');
    bad({ startDate: '2026-02-30' }, 'startDate');
    bad({ target: 'nope' }, 'target');
    bad({ legacy: ['hitpath', 'everflow'] }, 'target');
    bad({ clicksPerDay: 800 }, 'clicksPerDay');
    bad({ affiliates: 6 }, 'affiliates');
    bad(
      { platforms: { hitpath: 'hitpath', cake: 'cake', everflow: 'everflow', extra: 'partnerize' } },
      'platforms.extra',
    );
  });

  it('works with one legacy platform of another kind (Partnerize → Everflow, no CAKE bridge)', () => {
    const one = generateScenario(
      smallScenarioOptions({
        platforms: { partnerize: 'partnerize', everflow: 'everflow' },
        legacy: ['partnerize'],
        seed: 11,
      }),
    );
    expect(one.affiliates.partnerize).toHaveLength(18);
    expect(one.affiliates.everflow).toHaveLength(17);
    expect(one.offers.partnerize.every((o) => /^\d+l\d+$/.test(o.id))).toBe(true);
    expect(one.clicks.partnerize.every((c) => c.subs[1] === null)).toBe(true);
    expect(one.incidents.filter((i) => i.rule === 'cross-platform-duplicate')).toHaveLength(2);
  });
});

describe('generateScenario (demo options)', () => {
  it('generates the demo network (timing printed, not asserted) with every incident', () => {
    const t0 = performance.now();
    const s = generateScenario(demoScenarioOptions());
    const ms = performance.now() - t0;
    const clicks = Object.values(s.clicks).reduce((a, l) => a + l.length, 0);
    console.log(
      `demo scenario: ${ms.toFixed(0)} ms, ${clicks} clicks, ${Object.values(s.conversions).reduce((a, l) => a + l.length, 0)} conversions`,
    );
    expect(clicks / s.options.days).toBeGreaterThan(s.options.clicksPerDay * 0.9);
    expect(clicks / s.options.days).toBeLessThan(s.options.clicksPerDay * 1.1);
    expect(s.incidents).toHaveLength(11);
    const orders = new Map<string, number>();
    for (const list of Object.values(s.conversions))
      for (const c of list) orders.set(c.orderId, (orders.get(c.orderId) ?? 0) + 1);
    expect([...orders.values()].filter((n) => n > 1)).toEqual([2, 2]);
  });
});
