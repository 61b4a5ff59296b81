/**
 * The deterministic simulated network (docs/design.md §6 rules, §9 migration): advertisers, offers and
 * affiliates on every platform, hourly click traffic, conversions with delays, status changes and
 * post-conversion events, a migration in three waves, and a fixed set of injected incidents, each
 * recorded as ground truth. `generateScenario(options)` is a pure function of its options.
 *
 * How the data is made so that the injected incidents fire and nothing else does (under the
 * docs/design.md §6 rules with the `config/schema.ts` defaults):
 *
 * - Traffic: clicks per affiliate × offer × hour follow an hour-of-week shape (diurnal × weekday)
 *   with no trend; each hour varies by ±30 % but a running accumulator keeps every day's count within
 *   a few percent of expectation (Poisson days made a small network's revenue swing ±15 %). The
 *   platform a click lands on only decides where it is counted, so total traffic and revenue per
 *   same weekday stay flat through the migration (revenue-discrepancy stays quiet; the injected
 *   incidents touch cheap offers and cost a few percent of a day at most).
 * - Conversions: the rate depends on the offer only. Which clicks convert is decided per
 *   platform × affiliate × offer stream with a running accumulator (`acc += clicks × rate`, convert
 *   `floor(acc)` random clicks of the hour) rather than an independent coin per click. Counts are
 *   then within ±1 of expectation in every window: cross-platform rate comparisons never differ by
 *   chance (no false conversion-rate-discrepancy even after hundreds of offer × affiliate tests),
 *   and a stream never goes quiet for hours by chance (no false tracking-outage). Real networks are
 *   noisier; the rules are built for them, the scenario just must not cry wolf.
 * - Delays: 80 % within minutes, 15 % within 1–8 h, 5 % late (1–7 days, never more than
 *   `MAX_DELAY_DAYS`), so late legacy conversions keep arriving for a week after a partner moves.
 *   Those are not dual running: the dual-running rule must look at new CLICKS, not at conversion
 *   arrival.
 * - Migration: affiliates are ranked by legacy revenue earned before `migrationStart` (computed from
 *   the generated conversions), thirds are due by +7/+14/+21 days (docs/design.md §9 defaults), and each
 *   partner swaps its links at a random hour of a day before its due date; half of them keep a tail
 *   of old links that brings a stray legacy click now and then for 3–20 hours after the swap. So
 *   every mover has hours, often two UTC days, with new clicks on both sides: the migration, not
 *   dual running. Two partners really run both: one big offer for DUAL_RUNNING_DAYS, and a quiet
 *   partner whose several small offers each stay under 20 clicks a day per side.
 * - "After the cutover": every partner that moves normally sends its last legacy click at least
 *   `LEGACY_SILENCE_DAYS` (10) days before `cutoverDate`, and conversion delays (plus a
 *   post-conversion event's own delay of ≤ 2 days) stay under that, so no normal partner has ANY
 *   legacy conversion after the cutover; only status changes of older legacy conversions arrive
 *   after it. The legacy-traffic-after-cutover rule may therefore count conversions converted after
 *   the cutover; counting only conversions whose click is also after the cutover (safer on real
 *   data, where delays can be longer) gives the same answer here, because both injected cases send
 *   new clicks after it.
 */
import { mix32, mix24, Prng } from './prng.js';
import {
  statusAt,
  type CrosswalkRow,
  type GroundTruthIncident,
  type MigrationWaveTruth,
  type Scenario,
  type ScenarioClick,
  type ScenarioConversion,
  type ScenarioEntity,
  type ScenarioOptions,
  type ScenarioStatusChange,
} from './types.js';
import { PLATFORM_KINDS, type ConversionStatus, type PlatformKind } from '#shared/model/canonical.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Days of legacy history before `migrationStart` that the wave ranking needs. */
export const MIN_PRESTART_DAYS = 7;
/** docs/design.md §9 default waves: thirds due this many days after the migration start. */
export const WAVE_DUE_DAYS = [7, 14, 21] as const;
/** Normal partners send their last legacy click at least this long before the cutover. */
export const LEGACY_SILENCE_DAYS = 10;
/** Longest delay between a click and its conversion. */
export const MAX_DELAY_DAYS = 7;
/** The dual-running partner runs its offer on both platforms for this many whole UTC days. */
export const DUAL_RUNNING_DAYS = 8;
/** The tracking outage: hours without conversions, and the target history it needs before it. */
export const OUTAGE_HOURS = 12;
export const OUTAGE_START_HOUR_UTC = 10;
export const OUTAGE_BASELINE_DAYS = 28;
/** The conversion-rate discrepancy lasts one comparison window (docs/design.md §6: 14 days). */
export const DISCREPANCY_DAYS = 14;
/** Stray legacy traffic after the cutover lasts this many days. */
const STRAY_DAYS = 3;
const STRAY_CLICKS_PER_DAY = 12;

export class ScenarioOptionsError extends Error {
  constructor(option: string, message: string) {
    super(`scenario option ${option}: ${message}`);
    this.name = 'ScenarioOptionsError';
  }
}

// ---------------------------------------------------------------------------------------------
// Options

/** The demo network: ~60 days, HitPath + CAKE legacy → Everflow, ~24k clicks a day. */
export function demoScenarioOptions(overrides: Partial<ScenarioOptions> = {}): ScenarioOptions {
  return {
    seed: 20260803,
    startDate: '2026-08-03',
    days: 63,
    platforms: { hitpath: 'hitpath', cake: 'cake', everflow: 'everflow' },
    legacy: ['hitpath', 'cake'],
    target: 'everflow',
    migrationStart: '2026-08-31',
    cutoverDate: '2026-09-28',
    clicksPerDay: 24_000,
    affiliates: 30,
    offers: 12,
    advertisers: 5,
    ...overrides,
  };
}

/**
 * A small network for tests: 36 days, fewer partners and clicks, every incident still present.
 * (Dates are tied together: override them together.)
 */
export function smallScenarioOptions(overrides: Partial<ScenarioOptions> = {}): ScenarioOptions {
  return {
    seed: 7,
    startDate: '2026-03-02',
    days: 36,
    platforms: { hitpath: 'hitpath', cake: 'cake', everflow: 'everflow' },
    legacy: ['hitpath', 'cake'],
    target: 'everflow',
    migrationStart: '2026-03-09',
    cutoverDate: '2026-04-03',
    clicksPerDay: 5_000,
    affiliates: 18,
    offers: 8,
    advertisers: 3,
    ...overrides,
  };
}

function parseDay(value: unknown, option: string): number {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    throw new ScenarioOptionsError(option, `expected a date YYYY-MM-DD (got ${JSON.stringify(value)})`);
  }
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new ScenarioOptionsError(option, `not a calendar date (got ${JSON.stringify(value)})`);
  }
  return ms;
}

export function dayString(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function positiveInt(value: unknown, option: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ScenarioOptionsError(option, `expected an integer ≥ ${min} (got ${JSON.stringify(value)})`);
  }
  return value;
}

interface Timeline {
  start: number;
  end: number;
  migrationStart: number;
  cutover: number;
  outageDay: number;
}

function validateOptions(o: ScenarioOptions): Timeline {
  if (typeof o.seed !== 'number' || !Number.isFinite(o.seed))
    throw new ScenarioOptionsError('seed', `expected a number (got ${JSON.stringify(o.seed)})`);
  const start = parseDay(o.startDate, 'startDate');
  const days = positiveInt(o.days, 'days', 1);
  const end = start + days * DAY;
  positiveInt(o.affiliates, 'affiliates', 12);
  positiveInt(o.offers, 'offers', 6);
  positiveInt(o.advertisers, 'advertisers', 1);
  if (o.advertisers > o.offers) throw new ScenarioOptionsError('advertisers', `must not exceed offers (${o.offers})`);
  if (typeof o.clicksPerDay !== 'number' || !(o.clicksPerDay > 0))
    throw new ScenarioOptionsError(
      'clicksPerDay',
      `expected a positive number (got ${JSON.stringify(o.clicksPerDay)})`,
    );
  if (o.clicksPerDay * days > 14_000_000)
    throw new ScenarioOptionsError(
      'clicksPerDay',
      `clicksPerDay × days must stay under 14,000,000 (counter-based IPs are unique per platform up to 2^24)`,
    );

  if (!o.platforms || typeof o.platforms !== 'object')
    throw new ScenarioOptionsError('platforms', 'expected an object of platform key → kind');
  for (const [key, kind] of Object.entries(o.platforms)) {
    if (!/^[a-z][a-z0-9]{0,19}$/.test(key))
      throw new ScenarioOptionsError(`platforms.${key}`, 'platform keys are lower-case letters and digits');
    if (!(PLATFORM_KINDS as readonly string[]).includes(kind))
      throw new ScenarioOptionsError(
        `platforms.${key}`,
        `unknown kind ${JSON.stringify(kind)} (expected one of ${PLATFORM_KINDS.join(', ')})`,
      );
  }
  if (!Array.isArray(o.legacy) || o.legacy.length === 0)
    throw new ScenarioOptionsError('legacy', 'expected at least one legacy platform key');
  if (new Set(o.legacy).size !== o.legacy.length) throw new ScenarioOptionsError('legacy', 'lists a platform twice');
  for (const [i, key] of o.legacy.entries()) {
    if (!(key in o.platforms)) throw new ScenarioOptionsError(`legacy[${i}]`, `platform "${key}" is not in platforms`);
  }
  if (!(o.target in o.platforms))
    throw new ScenarioOptionsError('target', `platform "${o.target}" is not in platforms`);
  if (o.legacy.includes(o.target)) throw new ScenarioOptionsError('target', `"${o.target}" is also listed as legacy`);
  for (const key of Object.keys(o.platforms)) {
    if (key !== o.target && !o.legacy.includes(key))
      throw new ScenarioOptionsError(
        `platforms.${key}`,
        'is neither legacy nor the target (every simulated platform carries traffic)',
      );
  }

  const migrationStart = parseDay(o.migrationStart, 'migrationStart');
  const cutover = parseDay(o.cutoverDate, 'cutoverDate');
  if (migrationStart < start + MIN_PRESTART_DAYS * DAY) {
    throw new ScenarioOptionsError(
      'migrationStart',
      `must be at least ${MIN_PRESTART_DAYS} days after startDate ${o.startDate} (legacy revenue before it ranks the waves)`,
    );
  }
  if (migrationStart >= end)
    throw new ScenarioOptionsError(
      'migrationStart',
      `is not inside [startDate, startDate + days) = [${o.startDate}, ${dayString(end)})`,
    );
  // The last wave starts moving at +14 days and every normal partner must be silent on legacy for
  // LEGACY_SILENCE_DAYS before the cutover.
  const minCutover = migrationStart + (WAVE_DUE_DAYS[1] + LEGACY_SILENCE_DAYS) * DAY;
  if (cutover < minCutover) {
    throw new ScenarioOptionsError(
      'cutoverDate',
      `must be at least ${WAVE_DUE_DAYS[1] + LEGACY_SILENCE_DAYS} days after migrationStart (${dayString(minCutover)}): the last wave moves from +${WAVE_DUE_DAYS[1]} days and legacy must be quiet ${LEGACY_SILENCE_DAYS} days before the cutover`,
    );
  }
  if (cutover >= end)
    throw new ScenarioOptionsError(
      'cutoverDate',
      `is not inside [startDate, startDate + days) = [${o.startDate}, ${dayString(end)})`,
    );
  const outageDay = Math.max(cutover + DAY, migrationStart + OUTAGE_BASELINE_DAYS * DAY);
  if (outageDay + DAY > end) {
    throw new ScenarioOptionsError(
      'days',
      `too short: the tracking outage needs a day after the cutover with ${OUTAGE_BASELINE_DAYS} days of target history before it (${dayString(outageDay)}), so days must be ≥ ${(outageDay + DAY - start) / DAY}`,
    );
  }
  return { start, end, migrationStart, cutover, outageDay };
}

// ---------------------------------------------------------------------------------------------
// Ids, names, money

function cents(c: number): string {
  const neg = c < 0;
  const a = Math.abs(Math.round(c));
  return `${neg ? '-' : ''}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

/** Entity id sequences in each platform's own style (Everflow "12", HitPath "77", CAKE "1203", Partnerize "1011l270"). */
function entityIds(kind: PlatformKind, entity: 'affiliate' | 'offer' | 'advertiser', n: number, rng: Prng): string[] {
  const ranges: Record<PlatformKind, Record<typeof entity, [number, number, number]>> = {
    // [first id lo, first id hi, max gap]
    everflow: { affiliate: [3, 40, 4], offer: [1, 9, 3], advertiser: [1, 6, 3] },
    hitpath: { affiliate: [1001, 1060, 6], offer: [20, 70, 5], advertiser: [2, 9, 3] },
    cake: { affiliate: [20100, 20400, 9], offer: [1200, 1260, 7], advertiser: [100, 150, 4] },
    partnerize: { affiliate: [4000, 4900, 9], offer: [270, 330, 6], advertiser: [12, 40, 3] },
  };
  const [lo, hi, gap] = ranges[kind][entity];
  const prefix = kind === 'partnerize' ? `${rng.int(1000, 1110)}l` : '';
  const out: string[] = [];
  let next = rng.int(lo, hi);
  for (let i = 0; i < n; i++) {
    out.push(`${prefix}${next}`);
    next += rng.int(1, gap);
  }
  return out;
}

/** Click / conversion id makers per platform, counter-based so they are unique by construction. */
interface IdMaker {
  click(counter: number): string;
  conversion(counter: number): string;
  /** The platform's own transaction id of a conversion on this click. */
  transaction(clickId: string): string;
}

/** CAKE's request (session) id of a click: a number derived from the click id, so a simulator can render it on the click too. */
export function cakeRequestId(clickId: string): string {
  return String(Number(clickId) + 700_000_000);
}

function idMaker(kind: PlatformKind, rng: Prng): IdMaker {
  const key1 = rng.uint32();
  const key2 = rng.uint32();
  const hex32 = (counter: number, key: number) => rng.hexId(counter, key);
  switch (kind) {
    case 'everflow':
      // transaction_id is Everflow's 32-character click id; conversions carry it as their transaction id.
      return { click: (c) => hex32(c, key1), conversion: (c) => hex32(c, key2), transaction: (id) => id };
    case 'hitpath': {
      const clickBase = rng.int(40_000_000, 49_000_000);
      const saleBase = rng.int(600_000, 900_000);
      return { click: (c) => String(clickBase + c), conversion: (c) => String(saleBase + c), transaction: (id) => id };
    }
    case 'cake': {
      const clickBase = rng.int(100_000_000, 190_000_000);
      const convBase = rng.int(3_000_000, 3_900_000);
      return {
        click: (c) => String(clickBase + c),
        conversion: (c) => String(convBase + c),
        transaction: cakeRequestId,
      };
    }
    case 'partnerize': {
      const prefix = rng.int(1000, 1110);
      const clickBase = rng.int(1_000_000_000, 1_400_000_000);
      const convBase = rng.int(20_000_000, 29_000_000);
      return {
        click: (c) => `${prefix}l${clickBase + c}`,
        conversion: (c) => `${prefix}l${convBase + c}`,
        transaction: (id) => id,
      };
    }
  }
}

const ADVERTISER_NAMES = [
  'Northwind Health',
  'Bluepeak Insurance',
  'Lumen Finance',
  'Cedar & Finch',
  'Orbit Mobile',
  'Harborline Travel',
  'Vantage Solar',
  'Kite Learning',
  'Juniper Home',
  'Atlas Pet Supply',
];
const PRODUCTS = [
  'Trial Signup',
  'Quote Request',
  'Starter Kit',
  'Annual Plan',
  'Free Consultation',
  'Sweepstakes Entry',
  'App Install',
  'Credit Check',
  'Sample Box',
  'Webinar Seat',
  'Newsletter Lead',
  'Premium Bundle',
];
const GEOS = ['US', 'US/CA', 'UK', 'US', 'AU', 'US'];
const AFF_FIRST = [
  'Bright',
  'Blue',
  'Red',
  'Silver',
  'North',
  'Prime',
  'Clever',
  'Swift',
  'Green',
  'Golden',
  'Apex',
  'Summit',
  'Lucky',
  'Urban',
  'Coastal',
];
const AFF_SECOND = [
  'Path Media',
  'Leads',
  'Performance',
  'Digital',
  'Deals',
  'Ads',
  'Traffic Co',
  'Reach',
  'Rewards',
  'Commerce',
];
const SOURCES = ['fb', 'ig', 'gads', 'native', 'email', 'push', 'seo', 'tiktok', 'yt', 'bing'];
const PLACEMENTS = ['feed', 'video', 'story', 'search', 'list', 'banner', 'widget'];
const COUNTRIES = ['US', 'US', 'US', 'US', 'US', 'US', 'CA', 'CA', 'GB', 'GB', 'AU', 'DE', 'IE', 'NZ'];
const EVENT_NAMES = ['upsell', 'subscription', 'deposit'];
const UA_TEMPLATES: [string, string][] = [
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.', ' Safari/537.36'],
  [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E',
    ' Safari/604.1',
  ],
  [
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.',
    ' Mobile Safari/537.36',
  ],
  [
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.',
    ' Safari/605.1.15',
  ],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0.', ''],
  [
    'Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0.',
    ' Chrome/117.0.0.0 Mobile Safari/537.36',
  ],
];
/** First IP octet per platform index: distinct ranges, so an IP never repeats across platforms by accident. */
const IP_FIRST_OCTET = [73, 98, 104, 142, 174, 184, 203, 68];

/**
 * User agents come from a pool of realistic variants (shared strings), not one per click: a unique
 * ~130-character string per click was 40 % of the scenario's memory and most of its garbage
 * collection time at demo size. Duplicate matching stays exact because IPs are unique per click
 * (counter-based, a distinct first octet per platform), and real traffic shares user agents too.
 */
const USER_AGENTS: string[] = [];
for (const [head, tail] of UA_TEMPLATES) {
  for (let build = 0; build < 40; build++) USER_AGENTS.push(`${head}${6312 + build * 7}.${(build * 37) % 200}${tail}`);
}

function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/&/g, 'and')
    .replace(/[^a-z0-9]+/g, '');
}

// ---------------------------------------------------------------------------------------------
// Traffic shape

/** Relative traffic by hour of week (index = UTC weekday × 24 + UTC hour), mean 1. */
function hourOfWeekShape(): number[] {
  // Sunday first (getUTCDay order). Weekdays a little busier than weekends.
  const weekday = [0.88, 1.05, 1.07, 1.06, 1.04, 1.0, 0.9];
  const shape: number[] = [];
  for (let d = 0; d < 7; d++) {
    for (let h = 0; h < 24; h++) {
      // Mostly North American traffic: peak around 19:00 UTC, trough in the European morning.
      shape.push(weekday[d] * (1 + 0.55 * Math.cos((2 * Math.PI * (h - 19)) / 24)));
    }
  }
  const mean = shape.reduce((a, b) => a + b, 0) / shape.length;
  return shape.map((x) => x / mean);
}

function hourOfWeek(t: number): number {
  const d = new Date(t);
  return d.getUTCDay() * 24 + d.getUTCHours();
}

// ---------------------------------------------------------------------------------------------
// The network's hidden parameters

interface OfferDesign {
  key: string;
  name: string;
  advertiser: number;
  revenueCents: number;
  payoutCents: number;
  rate: number;
  popularity: number;
  event: { name: string; rate: number; revenueCents: number; payoutCents: number } | null;
  /** Sale-based offer: conversions carry a sale amount. */
  sale: boolean;
  role: 'outage' | 'discrepancy' | 'plain';
}

interface AffiliateDesign {
  key: string;
  name: string;
  email: string;
  home: number;
  /** Offer indexes and their share of this affiliate's clicks. */
  mix: { offer: number; share: number }[];
  dailyClicks: number;
  subs: Record<string, [string | null, string | null, string | null, string | null, string | null][]>;
  /** First moment on the target (00:00 UTC of the move day); Infinity while on legacy. */
  moveAt: number;
}

interface Stream {
  affiliate: number;
  offer: number;
  dailyClicks: number;
}

interface InjectedClick {
  platform: number;
  affiliate: number;
  offer: number;
  clickedAt: number;
  ip?: string;
  userAgent?: string;
  click?: ScenarioClick;
}

// ---------------------------------------------------------------------------------------------

export function generateScenario(options: ScenarioOptions): Scenario {
  const tl = validateOptions(options);
  const rng = new Prng(options.seed);
  const platformKeys = [...options.legacy, options.target];
  const kinds = platformKeys.map((k) => options.platforms[k]);
  const T = platformKeys.length - 1; // target index
  const L = options.legacy.length;
  const shape = hourOfWeekShape();

  // --- Advertisers and offers -----------------------------------------------------------------
  const advertiserNames = Array.from({ length: options.advertisers }, (_, i) =>
    i < ADVERTISER_NAMES.length
      ? ADVERTISER_NAMES[i]
      : `${ADVERTISER_NAMES[i % ADVERTISER_NAMES.length]} ${Math.floor(i / ADVERTISER_NAMES.length) + 1}`,
  );
  rng.shuffle(advertiserNames);
  const orderPrefixes = advertiserNames.map(
    (n, i) =>
      `${n
        .replace(/[^A-Za-z]/g, '')
        .slice(0, 2)
        .toUpperCase()}${i + 1}`,
  );

  const roles: OfferDesign['role'][] = [
    'outage',
    'discrepancy',
    ...Array.from({ length: options.offers - 2 }, () => 'plain' as const),
  ];
  rng.shuffle(roles);
  let plainIndex = 0;
  const products = rng.shuffle([...PRODUCTS]);
  const offers: OfferDesign[] = roles.map((role, i) => {
    const advertiser = i % options.advertisers;
    let revenueCents: number;
    let rate: number;
    let popularity: number;
    let event: OfferDesign['event'] = null;
    let sale = false;
    if (role === 'outage') {
      // A busy lead-gen offer: many conversions an hour (so 12 silent hours are impossible by
      // chance) but cheap ones, so losing half a day of it barely moves total revenue.
      revenueCents = rng.int(250, 400);
      rate = 0.1;
      popularity = 0.75;
    } else if (role === 'discrepancy') {
      // Busy (the z-test needs volume on both sides) but cheap, so converting at half the rate on
      // the target for two weeks costs only a few percent of total revenue.
      revenueCents = rng.int(200, 350);
      rate = 0.06;
      popularity = 0.7;
    } else {
      revenueCents = rng.int(1200, 4500);
      rate = rng.float(0.025, 0.06);
      popularity = rng.float(0.4, 1.0);
      // Every third plain offer has a post-conversion event, every second one is sale-based (so
      // even a small network has both).
      sale = plainIndex % 2 === 1;
      if (plainIndex++ % 3 === 0) {
        const evRevenue = Math.round(revenueCents * rng.float(0.25, 0.4));
        event = {
          name: rng.pick(EVENT_NAMES),
          rate: rng.float(0.12, 0.3),
          revenueCents: evRevenue,
          payoutCents: Math.round(evRevenue * rng.float(0.55, 0.75)),
        };
      }
    }
    const product = products[i % products.length];
    return {
      key: `off-${String(i + 1).padStart(3, '0')}`,
      name: `${advertiserNames[advertiser]} - ${product}${i >= products.length ? ` ${Math.floor(i / products.length) + 1}` : ''} (${rng.pick(GEOS)})`,
      advertiser,
      revenueCents,
      payoutCents: Math.round(revenueCents * rng.float(0.6, 0.8)),
      rate,
      popularity,
      event,
      sale,
      role,
    };
  });
  const outageOffer = offers.findIndex((o) => o.role === 'outage');
  const discrepancyOffer = offers.findIndex((o) => o.role === 'discrepancy');

  // --- Affiliates (design) --------------------------------------------------------------------
  const nAff = options.affiliates;
  const names: string[] = [];
  for (const a of AFF_FIRST) for (const b of AFF_SECOND) names.push(`${a} ${b}`);
  rng.shuffle(names);
  // Designed revenue weights by design rank: geometric, with a clear step (×0.65) at each tier
  // boundary so that the realized ranking puts the same partners in each third whichever revenue a
  // report sums (all statuses or approved only, base conversions or with events).
  const tierOfRank = (r: number) => 1 + Math.floor((r * 3) / nAff);
  const revenueWeight: number[] = [];
  for (let r = 0; r < nAff; r++) revenueWeight.push(0.9 ** r * 0.65 ** (tierOfRank(r) - 1));
  const designRank = rng.shuffle(Array.from({ length: nAff }, (_, i) => i)); // affiliate i has design rank designRank[i]
  const affiliates: AffiliateDesign[] = [];
  for (let i = 0; i < nAff; i++) {
    const r = designRank[i];
    const name = i < names.length ? names[i] : `${names[i % names.length]} ${Math.floor(i / names.length) + 1}`;
    // The first legacy platform gets most partners: pattern [0, 0, 1, …, L-1] over design ranks.
    const slot = r % (L + 1);
    const home = L === 1 ? 0 : slot < 2 ? 0 : slot - 1;
    // Offer mix: the busy outage and discrepancy offers are run by many partners (always by the top
    // three), the rest chosen by popularity.
    const k = rng.int(3, Math.min(5, options.offers - 1));
    const chosen: number[] = [];
    // (Spread over every design rank, so the discrepancy offer also has legacy volume from the later
    // waves while the first ones are already on the target.)
    if (r < 3 || r % 3 === 2 || rng.chance(0.4)) chosen.push(outageOffer);
    if (r < 3 || r % 3 === 1 || rng.chance(0.4)) chosen.push(discrepancyOffer);
    while (chosen.length < k) {
      const w = offers.map((o, oi) => (chosen.includes(oi) ? 0 : o.popularity));
      chosen.push(rng.weightedIndex(w));
    }
    chosen.sort((a, b) => a - b);
    const raw = chosen.map((oi) => offers[oi].popularity * rng.float(0.6, 1.4));
    // The top partner leans on one plain offer: that pair becomes the dual-running case, which needs
    // ≥ 20 clicks a day on each platform even on a small network.
    if (r === 0) {
      const j = chosen.findIndex((oi) => offers[oi].role === 'plain');
      raw[j] *= 2.5;
    }
    const sum = raw.reduce((a, b) => a + b, 0);
    const subs: AffiliateDesign['subs'] = {};
    const tags = Array.from({ length: rng.int(2, 3) }, () => `${rng.pick(SOURCES)}-${rng.pick(PLACEMENTS)}`);
    const campaign = rng.chance(0.5) ? `cmp${rng.int(10, 99)}` : null;
    for (const kind of new Set(kinds)) {
      // Partnerize has one sub id (clickref); the others take sub1/sub2. Shared, frozen tuples:
      // thousands of clicks reuse the same few (memory), and nobody may edit them in place.
      subs[kind] = tags.map(
        (t) => Object.freeze([t, kind === 'partnerize' ? null : campaign, null, null, null]) as ScenarioClick['subs'],
      );
    }
    affiliates.push({
      key: `aff-${String(i + 1).padStart(3, '0')}`,
      name,
      email: `partners@${slug(name)}.example`,
      home,
      mix: chosen.map((offer, j) => ({ offer, share: raw[j] / sum })),
      dailyClicks: 0,
      subs,
      moveAt: Infinity,
    });
  }
  // Clicks follow from the designed revenue: clicks = revenue weight / revenue per click of the mix.
  const revenuePerClick = (a: AffiliateDesign) =>
    a.mix.reduce((s, m) => {
      const o = offers[m.offer];
      return s + m.share * o.rate * (o.revenueCents + (o.event ? o.event.rate * o.event.revenueCents : 0));
    }, 0);
  const clickWeights = affiliates.map((a, i) => revenueWeight[designRank[i]] / revenuePerClick(a));
  const totalWeight = clickWeights.reduce((a, b) => a + b, 0);
  for (const [i, a] of affiliates.entries()) a.dailyClicks = (options.clicksPerDay * clickWeights[i]) / totalWeight;
  const streams: Stream[] = [];
  for (const [ai, a] of affiliates.entries())
    for (const m of a.mix) streams.push({ affiliate: ai, offer: m.offer, dailyClicks: a.dailyClicks * m.share });

  // --- Entities per platform ------------------------------------------------------------------
  const advIds = kinds.map((k) => entityIds(k, 'advertiser', options.advertisers, rng));
  const offerIds = kinds.map((k) => entityIds(k, 'offer', options.offers, rng));
  const affIdSeq = kinds.map((k) => entityIds(k, 'affiliate', nAff, rng));
  /** affiliate index → its id on platform p (only where it has an account). */
  const affId: (string | null)[][] = kinds.map(() => Array(nAff).fill(null));
  for (const [i, a] of affiliates.entries()) affId[a.home][i] = affIdSeq[a.home][i];
  const legacyCreatedAt = () => tl.start - rng.int(60, 900) * DAY - rng.int(0, DAY - 1);
  const advCreated = kinds.map((_, p) =>
    advIds[p].map(() =>
      p === T ? tl.migrationStart - rng.int(10, 40) * DAY - rng.int(0, DAY - 1) : legacyCreatedAt(),
    ),
  );
  const offerCreated = kinds.map((_, p) =>
    offerIds[p].map(() =>
      p === T ? tl.migrationStart - rng.int(7, 30) * DAY - rng.int(0, DAY - 1) : legacyCreatedAt(),
    ),
  );
  const affLegacyCreated = affiliates.map(() => legacyCreatedAt());

  // --- Output buffers -------------------------------------------------------------------------
  const ids = kinds.map((k) => idMaker(k, rng));
  const clicks: ScenarioClick[][] = kinds.map(() => []);
  const conversions: ScenarioConversion[][] = kinds.map(() => []);
  const clickCounter = kinds.map(() => 0);
  const conversionCounter = kinds.map(() => 0);
  let orderCounter = 0;
  const orderKey = rng.uint32();
  const ipCounter = kinds.map(() => 0);
  const nextIp = (p: number) => {
    const h = mix24(ipCounter[p]++);
    return `${IP_FIRST_OCTET[p % IP_FIRST_OCTET.length]}.${(h >>> 16) & 255}.${(h >>> 8) & 255}.${h & 255}`;
  };
  const nextOrderId = (offer: number) =>
    `${orderPrefixes[offers[offer].advertiser]}-${mix32(orderCounter++ ^ orderKey)
      .toString(36)
      .toUpperCase()
      .padStart(7, '0')}`;
  /** Stream accumulators per platform (see the file comment), random phase. */
  const acc = kinds.map(() => streams.map(() => rng.next()));
  const clickAcc = streams.map(() => rng.next());

  // Filled in by the migration plan (after the pre-start traffic exists).
  let dualAffiliate = -1;
  let dualOffer = -1;
  let dualEnd = 0;
  /** The low-volume dual runner: every offer it runs (but the outage and discrepancy offers) on both sides. */
  let lowDualAffiliate = -1;
  let lowDualEnd = 0;
  const lowDualOffers = new Set<number>();
  /** Per affiliate: until when old legacy links still bring a stray click now and then after its move. */
  const tailUntil: number[] = [];
  let discrepancyFrom = Infinity;
  let discrepancyTo = -Infinity;
  const outageFrom = tl.outageDay + OUTAGE_START_HOUR_UTC * HOUR;
  const outageTo = outageFrom + OUTAGE_HOURS * HOUR;
  const injectedByHour = new Map<number, InjectedClick[]>();

  const rateOf = (p: number, offer: number, t: number) => {
    const o = offers[offer];
    if (p === T && offer === discrepancyOffer && t >= discrepancyFrom && t < discrepancyTo) return o.rate / 2;
    return o.rate;
  };
  /** Whether the target's postback for the outage offer was down at `t` (the conversion is lost). */
  const lostInOutage = (p: number, offer: number, t: number) =>
    p === T && offer === outageOffer && t >= outageFrom && t < outageTo;

  function makeClick(p: number, ai: number, oi: number, clickedAt: number): ScenarioClick {
    const a = affiliates[ai];
    const tuples = a.subs[kinds[p]];
    return {
      platform: platformKeys[p],
      clickId: '',
      clickedAt,
      affiliateId: affId[p][ai] as string,
      offerId: offerIds[p][oi],
      advertiserId: advIds[p][offers[oi].advertiser],
      subs: tuples[Math.floor(rng.next() * tuples.length)],
      ip: '',
      userAgent: '',
      countryCode: COUNTRIES[Math.floor(rng.next() * COUNTRIES.length)],
      isUnique: rng.next() < 0.93,
    };
  }

  function conversionDelay(): number {
    const r = rng.next();
    if (r < 0.8) return Math.max(20_000, Math.round(rng.exponential(25 * MIN)));
    if (r < 0.95) return Math.round(rng.float(1, 8) * HOUR);
    return Math.round(rng.float(1, MAX_DELAY_DAYS) * DAY);
  }

  function statusHistory(convertedAt: number): { status: ConversionStatus; changes: ScenarioStatusChange[] } {
    const r = rng.next();
    if (r < 0.72) return { status: 'approved', changes: [] };
    if (r < 0.97) {
      const at = convertedAt + Math.round(rng.float(1, 5) * DAY);
      const to: ConversionStatus = rng.next() < 0.85 ? 'approved' : 'rejected';
      return { status: 'pending', changes: at < tl.end ? [{ at, status: to }] : [] };
    }
    return { status: 'rejected', changes: [] };
  }

  function pushConversion(
    p: number,
    click: ScenarioClick,
    oi: number,
    convertedAt: number,
    extra: {
      eventName?: string | null;
      status?: ConversionStatus;
      changes?: ScenarioStatusChange[];
      orderId?: string;
      subs?: ScenarioClick['subs'];
    } = {},
  ): ScenarioConversion {
    const o = offers[oi];
    const isEvent = extra.eventName != null;
    const st = extra.status ? { status: extra.status, changes: extra.changes ?? [] } : statusHistory(convertedAt);
    const c: ScenarioConversion = {
      platform: platformKeys[p],
      conversionId: ids[p].conversion(conversionCounter[p]++),
      clickId: click.clickId,
      clickedAt: click.clickedAt,
      convertedAt,
      affiliateId: click.affiliateId,
      offerId: click.offerId,
      advertiserId: click.advertiserId,
      orderId: extra.orderId ?? nextOrderId(oi),
      transactionId: ids[p].transaction(click.clickId),
      subs: extra.subs ?? click.subs,
      eventName: isEvent ? (extra.eventName as string) : null,
      status: st.status,
      changes: st.changes,
      revenue: cents(isEvent ? o.event!.revenueCents : o.revenueCents),
      payout: cents(isEvent ? o.event!.payoutCents : o.payoutCents),
      saleAmount: o.sale && !isEvent ? cents(rng.int(2500, 25000)) : null,
      currency: 'USD',
      ip: click.ip,
      userAgent: click.userAgent,
      countryCode: click.countryCode,
    };
    conversions[p].push(c);
    return c;
  }

  /** A natural conversion of `click` (with its delay, status, maybe a post-conversion event). */
  function convert(p: number, click: ScenarioClick, oi: number): void {
    const convertedAt = click.clickedAt + conversionDelay();
    if (convertedAt >= tl.end || lostInOutage(p, oi, convertedAt)) return;
    pushConversion(p, click, oi, convertedAt);
    const ev = offers[oi].event;
    if (ev && rng.next() < ev.rate) {
      const at = convertedAt + Math.round(rng.float(1, 48) * HOUR);
      if (at < tl.end && !lostInOutage(p, oi, at)) {
        pushConversion(p, click, oi, at, {
          eventName: ev.name,
          ...(rng.next() < 0.9 ? { status: 'approved' as const } : {}),
        });
      }
    }
  }

  /** Assigns ids, IPs and user agents in time order (so HitPath/CAKE numeric ids ascend with time). */
  function finishBatch(p: number, batch: ScenarioClick[]): void {
    batch.sort((a, b) => a.clickedAt - b.clickedAt);
    const out = clicks[p];
    for (const c of batch) {
      c.clickId = ids[p].click(clickCounter[p]++);
      if (c.ip === '') c.ip = nextIp(p);
      if (c.userAgent === '') c.userAgent = USER_AGENTS[Math.floor(rng.next() * USER_AGENTS.length)];
      out.push(c);
    }
  }

  const SPLIT = -1;
  const routeOf = (s: Stream, t: number): number => {
    const a = affiliates[s.affiliate];
    if (t < a.moveAt) return a.home;
    if (s.affiliate === dualAffiliate && s.offer === dualOffer && t < dualEnd) return SPLIT;
    if (s.affiliate === lowDualAffiliate && lowDualOffers.has(s.offer) && t < lowDualEnd) return SPLIT;
    return T;
  };

  function runHours(from: number, to: number): void {
    const batches: ScenarioClick[][] = kinds.map(() => []);
    const groups: { s: number; p: number; clicks: ScenarioClick[] }[] = [];
    for (let t = from; t < to; t += HOUR) {
      const shapeNow = shape[hourOfWeek(t)] / 24;
      for (let si = 0; si < streams.length; si++) {
        const s = streams[si];
        // Click counts come from a per-stream accumulator with a jittered increment rather than a
        // Poisson draw: an hour still varies by ±30 %, but a day's total stays within a few percent
        // of its expectation even for small streams (see the file comment on false alarms).
        const c = clickAcc[si] + s.dailyClicks * shapeNow * (0.7 + 0.6 * rng.next());
        const n = Math.floor(c);
        clickAcc[si] = c - n;
        if (n === 0) continue;
        const route = routeOf(s, t);
        if (route === SPLIT) {
          // The dual-running partner alternates its links: half the clicks on each platform.
          const home = affiliates[s.affiliate].home;
          const sides: ScenarioClick[][] = [[], []];
          const first = rng.next() < 0.5 ? 0 : 1;
          for (let i = 0; i < n; i++) {
            const side = (i + first) % 2;
            const p = side === 0 ? home : T;
            const c = makeClick(p, s.affiliate, s.offer, t + Math.floor(rng.next() * HOUR));
            sides[side].push(c);
            batches[p].push(c);
          }
          if (sides[0].length) groups.push({ s: si, p: home, clicks: sides[0] });
          if (sides[1].length) groups.push({ s: si, p: T, clicks: sides[1] });
        } else {
          // A tail of old links (an email, a page cached somewhere): in the hours after its move, now
          // and then one click of the partner still lands on its legacy platform.
          const home = affiliates[s.affiliate].home;
          const stray = route === T && t < (tailUntil[s.affiliate] ?? 0) && rng.chance(0.3) ? 1 : 0;
          const list: ScenarioClick[] = [];
          for (let i = stray; i < n; i++) {
            const c = makeClick(route, s.affiliate, s.offer, t + Math.floor(rng.next() * HOUR));
            list.push(c);
            batches[route].push(c);
          }
          if (list.length) groups.push({ s: si, p: route, clicks: list });
          if (stray) {
            const c = makeClick(home, s.affiliate, s.offer, t + Math.floor(rng.next() * HOUR));
            batches[home].push(c);
            groups.push({ s: si, p: home, clicks: [c] });
          }
        }
      }
      for (const inj of injectedByHour.get(t) ?? []) {
        const c = makeClick(inj.platform, inj.affiliate, inj.offer, inj.clickedAt);
        if (inj.ip) c.ip = inj.ip;
        if (inj.userAgent) c.userAgent = inj.userAgent;
        inj.click = c;
        batches[inj.platform].push(c);
      }
      for (let p = 0; p < batches.length; p++) {
        if (batches[p].length) finishBatch(p, batches[p]);
        batches[p] = [];
      }
      for (const g of groups) {
        const s = streams[g.s];
        const n = g.clicks.length;
        let a = acc[g.p][g.s] + n * rateOf(g.p, s.offer, t);
        const k = Math.min(n, Math.floor(a));
        a -= k;
        acc[g.p][g.s] = a;
        if (k === 0) continue;
        const chosen = k === n ? g.clicks : rng.sampleIndexes(n, k).map((i) => g.clicks[i]);
        for (const c of chosen) convert(g.p, c, s.offer);
      }
      groups.length = 0;
    }
  }

  // --- Phase 1: legacy-only traffic before the migration start --------------------------------
  runHours(tl.start, tl.migrationStart);

  // Rank by legacy revenue earned before the start: conversions converted before it, not rejected
  // (status as of the scenario end), base conversions and events alike.
  const idToAff = kinds.map((_, p) => new Map(affId[p].map((id, i) => [id, i] as const).filter(([id]) => id !== null)));
  const legacyRevenue = affiliates.map(() => 0);
  for (let p = 0; p < L; p++) {
    for (const c of conversions[p]) {
      if (c.convertedAt >= tl.migrationStart) continue;
      const st = statusAt(c, tl.end).status;
      if (st === 'rejected' || st === 'invalid') continue;
      legacyRevenue[idToAff[p].get(c.affiliateId)!] += Math.round(Number(c.revenue) * 100);
    }
  }
  const ranking = affiliates
    .map((_, i) => i)
    .sort((a, b) => legacyRevenue[b] - legacyRevenue[a] || (affiliates[a].key < affiliates[b].key ? -1 : 1));
  const tier = affiliates.map(() => 0);
  const rankOf = affiliates.map(() => 0);
  ranking.forEach((ai, r) => {
    tier[ai] = tierOfRank(r);
    rankOf[ai] = r;
  });
  const dueDay = (ai: number) => tl.migrationStart + WAVE_DUE_DAYS[tier[ai] - 1] * DAY;

  // --- Migration plan and incident actors -----------------------------------------------------
  const byTier = (t: number) => ranking.filter((ai) => tier[ai] === t);
  const tier2 = byTier(2);
  const laggingAffiliate = tier2[Math.floor(tier2.length / 2)];
  const lastMoveDay = tl.cutover - LEGACY_SILENCE_DAYS * DAY;
  affiliates.forEach((a, ai) => {
    if (ai === laggingAffiliate) return;
    const lo = tl.migrationStart + (WAVE_DUE_DAYS[tier[ai] - 1] - 7) * DAY;
    // (A day short of the last move day: the move hour and a tail of old links can add ~1.5 days.)
    const hi = Math.max(lo, Math.min(dueDay(ai) - DAY, lastMoveDay - DAY));
    // Partners swap their links at some hour of the move day, not at midnight.
    a.moveAt = lo + rng.int(0, (hi - lo) / DAY) * DAY + rng.int(0, 23) * HOUR;
  });
  // The outage (≥ 4 weeks after the migration start) needs target history for its whole 4-week
  // hour-of-week baseline: the biggest tier-1 partner running the outage offer moves on day one.
  const outageStreams = streams.filter(
    (st) => st.offer === outageOffer && tier[st.affiliate] === 1 && st.affiliate !== laggingAffiliate,
  );
  if (outageStreams.length)
    affiliates[outageStreams.reduce((a, b) => (b.dailyClicks > a.dailyClicks ? b : a)).affiliate].moveAt =
      tl.migrationStart;
  const minDayFactor = Math.min(
    ...Array.from({ length: 7 }, (_, d) => shape.slice(d * 24, d * 24 + 24).reduce((x, y) => x + y, 0) / 24),
  );

  // Dual running: the tier-1 partner × offer with the most traffic (not the outage or discrepancy
  // offers, to keep each incident about one thing).
  let best = -1;
  for (const [si, s] of streams.entries()) {
    if (tier[s.affiliate] !== 1 || s.offer === outageOffer || s.offer === discrepancyOffer) continue;
    if (best < 0 || s.dailyClicks > streams[best].dailyClicks) best = si;
  }
  if (best < 0)
    throw new ScenarioOptionsError(
      'offers',
      'no tier-1 partner runs an offer besides the outage and discrepancy offers; use more offers',
    );
  dualAffiliate = streams[best].affiliate;
  dualOffer = streams[best].offer;
  // Its clicks alternate between the platforms, so ≥ 41 a day give ≥ 20 a side; an expected 80 on
  // the quietest day makes fewer than 41 a ~1e-6 event.
  if (streams[best].dailyClicks * minDayFactor < 80) {
    throw new ScenarioOptionsError(
      'clicksPerDay',
      `too low for the dual-running incident: its busiest partner × offer gets ${Math.round(streams[best].dailyClicks * minDayFactor)} clicks on the quietest day, ≥ 80 are needed (≥ 20 a day on each platform)`,
    );
  }
  const dualStart = affiliates[dualAffiliate].moveAt;
  dualEnd = dualStart + DUAL_RUNNING_DAYS * DAY;

  // The other actors: partners that move normally, one incident each where there are enough.
  const used = new Set([laggingAffiliate, dualAffiliate]);
  const pool = rng.shuffle(ranking.filter((ai) => !used.has(ai)));
  const take = (what: string, ok: (ai: number) => boolean = () => true): number => {
    const ai = pool.find((x) => !used.has(x) && ok(x));
    if (ai === undefined)
      throw new ScenarioOptionsError('affiliates', `too few partners to place the ${what} incident`);
    used.add(ai);
    return ai;
  };
  const home = (ai: number) => affiliates[ai].home;
  const mixOffers = (ai: number) => affiliates[ai].mix.map((m) => m.offer);
  const plainOffer = (ai: number) => {
    const own = mixOffers(ai).filter((o) => o !== outageOffer && o !== discrepancyOffer);
    return own.length ? own[Math.floor(rng.next() * own.length)] : mixOffers(ai)[0];
  };
  // Stray legacy traffic after the cutover goes to an offer the partner does not run on the target
  // (an old legacy link still live), and that the lagging partner does not run either, so it
  // cannot pair with target clicks into dual running or skew a legacy conversion rate.
  // (`safe`: also not run by the lagging partner on the same legacy platform; the fallback only
  // matters for tiny networks, where a dozen extra clicks barely move that offer's legacy rate.)
  const strayOfferFor = (ai: number, safe: boolean) => {
    const lag = safe && home(ai) === home(laggingAffiliate) ? mixOffers(laggingAffiliate) : [];
    const taken = new Set([...mixOffers(ai), ...lag, outageOffer, discrepancyOffer]);
    return offers.findIndex((_, oi) => !taken.has(oi));
  };
  const movedAfterStart = (ai: number) => affiliates[ai].moveAt > tl.migrationStart;
  const straySafe = pool.some((ai) => !used.has(ai) && strayOfferFor(ai, true) >= 0);
  const strayAffiliate = take('legacy-traffic-after-cutover', (ai) => strayOfferFor(ai, straySafe) >= 0);
  const strayOffer = strayOfferFor(strayAffiliate, straySafe);
  const cakeIndex = kinds.findIndex((k, p) => k === 'cake' && p < L);
  // (Its forwarded CAKE click comes on the move day, so that day must still be ≥ LEGACY_SILENCE_DAYS
  // before the cutover.)
  const bridgeAffiliate =
    cakeIndex >= 0
      ? take(
          'CAKE transaction-id bridge',
          (ai) => affiliates[ai].home === cakeIndex && affiliates[ai].moveAt < lastMoveDay,
        )
      : -1;
  // Their injected legacy clicks come just before the move, inside the migration phase.
  const orderDupAffiliate = take('cross-platform order-id duplicate', movedAfterStart);
  const ipDupAffiliate = take('cross-platform IP duplicate', movedAfterStart);
  const platformDupAffiliate = take('platform-duplicate');

  // The low-volume dual runner: a partner that keeps several small offers running on both platforms
  // for DUAL_RUNNING_DAYS after its move, too few clicks per offer for any one offer to stand out
  // (the affiliate-level judgement must catch it). The quietest partner whose eligible offers still
  // carry enough clicks to tell it from a tail of old links; it must stop by the last move day.
  {
    const eligible = (ai: number) =>
      affiliates[ai].mix.filter((m) => m.offer !== outageOffer && m.offer !== discrepancyOffer);
    // After the 36 h grace period, half the clicks land on each side: ≥ 60 a side expected over the rest.
    const sideClicks = (ai: number) =>
      eligible(ai).reduce((x, m) => x + m.share, 0) *
      affiliates[ai].dailyClicks *
      minDayFactor *
      0.5 *
      (DUAL_RUNNING_DAYS - 1.5);
    const fits = (ai: number) =>
      affiliates[ai].moveAt !== Infinity &&
      affiliates[ai].moveAt + DUAL_RUNNING_DAYS * DAY <= lastMoveDay &&
      eligible(ai).length >= 2 &&
      sideClicks(ai) >= 60;
    const perOfferMax = (ai: number) => Math.max(...eligible(ai).map((m) => m.share * affiliates[ai].dailyClicks));
    const cands = pool
      .filter((ai) => !used.has(ai) && fits(ai))
      .sort((a, b) => perOfferMax(a) - perOfferMax(b) || a - b);
    if (cands.length === 0)
      throw new ScenarioOptionsError('affiliates', 'too few partners to place the low-volume dual-running incident');
    lowDualAffiliate = cands[0];
    used.add(lowDualAffiliate);
    for (const m of eligible(lowDualAffiliate)) lowDualOffers.add(m.offer);
    lowDualEnd = affiliates[lowDualAffiliate].moveAt + DUAL_RUNNING_DAYS * DAY;
  }
  // Tails of old links: half of the partners that move normally still get a stray legacy click now
  // and then for a few hours after their move.
  for (const [ai, a] of affiliates.entries()) {
    tailUntil[ai] = 0;
    if (a.moveAt === Infinity || ai === dualAffiliate || ai === lowDualAffiliate || ai === laggingAffiliate) continue;
    if (rng.chance(0.5)) tailUntil[ai] = Math.min(a.moveAt + rng.int(3, 20) * HOUR, lastMoveDay);
  }

  // Conversion-rate discrepancy: the 14-day window (starting on or after the migration start, ending
  // by the cutover) where the discrepancy offer has the most volume on its smaller side.
  const expectedClicks = (oi: number, p: number, from: number, to: number) => {
    let total = 0;
    for (const s of streams) {
      if (s.offer !== oi) continue;
      for (let t = from; t < to; t += HOUR) {
        const r = routeOf(s, t);
        const share = r === SPLIT ? 0.5 : r === p ? 1 : 0;
        if (share) total += share * s.dailyClicks * (shape[hourOfWeek(t)] / 24);
      }
    }
    return total;
  };
  let bestWindow = { from: 0, legacy: 0, target: 0 };
  for (let w = tl.migrationStart; w + DISCREPANCY_DAYS * DAY <= tl.cutover; w += DAY) {
    let legacy = 0;
    for (let p = 0; p < L; p++)
      legacy = Math.max(legacy, expectedClicks(discrepancyOffer, p, w, w + DISCREPANCY_DAYS * DAY));
    const target = expectedClicks(discrepancyOffer, T, w, w + DISCREPANCY_DAYS * DAY);
    if (Math.min(legacy, target) > Math.min(bestWindow.legacy, bestWindow.target))
      bestWindow = { from: w, legacy, target };
  }
  {
    const { legacy, target } = bestWindow;
    const r1 = offers[discrepancyOffer].rate;
    const r2 = r1 / 2;
    const pooled = (legacy * r1 + target * r2) / (legacy + target);
    const z = (r1 - r2) / Math.sqrt(pooled * (1 - pooled) * (1 / legacy + 1 / target));
    if (Math.min(legacy, target) < 2000 || target * r2 < 40 || z < 5) {
      throw new ScenarioOptionsError(
        'clicksPerDay',
        `too low for the conversion-rate-discrepancy incident: its best 14-day window has ~${Math.round(legacy)} legacy and ~${Math.round(target)} target clicks (≥ 2000 each and a clear z-test are needed)`,
      );
    }
  }
  discrepancyFrom = bestWindow.from;
  discrepancyTo = bestWindow.from + DISCREPANCY_DAYS * DAY;

  // Tracking outage: the outage offer must be busy enough on the target that 12 silent hours are
  // impossible by chance: ≥ 2 expected conversions an hour both in the window itself and in its
  // 4-week hour-of-week baseline (the same 12 hours of the four previous weeks, which still include
  // the migration's ramp-up on the target).
  {
    const rate = offers[outageOffer].rate;
    const perHour = (from: number) =>
      (expectedClicks(outageOffer, T, from, from + OUTAGE_HOURS * HOUR) * rate) / OUTAGE_HOURS;
    const now = perHour(outageFrom);
    const baseline = [1, 2, 3, 4].reduce((a, w) => a + perHour(outageFrom - w * 7 * DAY), 0) / 4;
    if (now < 2 || baseline < 2) {
      throw new ScenarioOptionsError(
        'clicksPerDay',
        `too low for the tracking-outage incident: the outage offer expects ${now.toFixed(2)} target conversions an hour in the outage window and ${baseline.toFixed(2)} in its 4-week baseline (≥ 2 needed)`,
      );
    }
  }

  // Target accounts: created a few days before each partner's first target click.
  affiliates.forEach((a, ai) => {
    if (a.moveAt !== Infinity) affId[T][ai] = affIdSeq[T][ai];
  });
  const affTargetCreated = affiliates.map((a) =>
    a.moveAt === Infinity ? 0 : a.moveAt - rng.int(1, 6) * DAY + rng.int(0, DAY - 1),
  );

  // --- Injected clicks ------------------------------------------------------------------------
  const inject = (inj: InjectedClick): InjectedClick => {
    const hour = inj.clickedAt - ((inj.clickedAt - tl.start) % HOUR);
    const list = injectedByHour.get(hour) ?? [];
    list.push(inj);
    injectedByHour.set(hour, list);
    return inj;
  };
  const jitter = (maxMs: number) => rng.int(0, maxMs);

  // 1. Same order id on legacy and target: the partner's last legacy click (the evening before its
  //    move) and a target click the next morning end in one sale that both platforms record.
  const od = {
    ai: orderDupAffiliate,
    offer: plainOffer(orderDupAffiliate),
    move: affiliates[orderDupAffiliate].moveAt,
  };
  const odLegacyClick = inject({
    platform: affiliates[od.ai].home,
    affiliate: od.ai,
    offer: od.offer,
    clickedAt: od.move - 5 * HOUR + jitter(30 * MIN),
  });
  const odTargetClick = inject({
    platform: T,
    affiliate: od.ai,
    offer: od.offer,
    clickedAt: od.move + 9 * HOUR + 30 * MIN + jitter(5 * MIN),
  });

  // 2. Same IP and user agent on legacy and target within 10 minutes, different order ids: the
  //    user clicked the old link just before midnight and the new one just after.
  const ipd = { ai: ipDupAffiliate, offer: plainOffer(ipDupAffiliate), move: affiliates[ipDupAffiliate].moveAt };
  const sharedIp = nextIp(affiliates[ipd.ai].home);
  const sharedUa = rng.pick(USER_AGENTS);
  const ipLegacyClick = inject({
    platform: affiliates[ipd.ai].home,
    affiliate: ipd.ai,
    offer: ipd.offer,
    clickedAt: ipd.move - 4 * MIN - jitter(MIN),
    ip: sharedIp,
    userAgent: sharedUa,
  });
  const ipTargetClick = inject({
    platform: T,
    affiliate: ipd.ai,
    offer: ipd.offer,
    clickedAt: ipd.move + 2 * MIN + jitter(MIN),
    ip: sharedIp,
    userAgent: sharedUa,
  });

  // 3. The CAKE ↔ Everflow transaction-id bridge. In CAKE's Everflow integration the Everflow
  //    tracking link forwards the visitor to the CAKE offer link with Everflow's {transaction_id}
  //    (its 32-character click id) in CAKE's sub id 2 (`s2`); CAKE's own request id (#oreqid#) can
  //    go the other way into an Everflow sub. When both platforms' pixels fire for the sale, CAKE's
  //    conversion carries s2 = the Everflow conversion's transaction_id: the one reliable join key,
  //    here on purpose the only one (the CAKE pixel got no order id, so CAKE's order id is its own,
  //    and CAKE saw the forwarding hop's IP, not the visitor's).
  let bridge: { ai: number; offer: number; ef: InjectedClick; cake: InjectedClick } | null = null;
  if (bridgeAffiliate >= 0) {
    const offer = plainOffer(bridgeAffiliate);
    const at = affiliates[bridgeAffiliate].moveAt + 13 * HOUR + jitter(20 * MIN);
    bridge = {
      ai: bridgeAffiliate,
      offer,
      ef: inject({ platform: T, affiliate: bridgeAffiliate, offer, clickedAt: at }),
      cake: inject({ platform: cakeIndex, affiliate: bridgeAffiliate, offer, clickedAt: at + 2_000 + jitter(1_000) }),
    };
  }

  // 5. Platform duplicate: two target clicks of one partner, both converting with the same order id
  //    (the advertiser re-fired the postback for a second click), both approved.
  const pd = {
    ai: platformDupAffiliate,
    offer: plainOffer(platformDupAffiliate),
    move: affiliates[platformDupAffiliate].moveAt,
  };
  const pdClickA = inject({
    platform: T,
    affiliate: pd.ai,
    offer: pd.offer,
    clickedAt: pd.move + 2 * DAY + 15 * HOUR + jitter(10 * MIN),
  });
  const pdClickB = inject({
    platform: T,
    affiliate: pd.ai,
    offer: pd.offer,
    clickedAt: pd.move + 2 * DAY + 15 * HOUR + 30 * MIN + jitter(10 * MIN),
  });

  // 9. Stray legacy clicks after the cutover on an offer the partner no longer runs.
  const strayEnd = Math.min(tl.cutover + STRAY_DAYS * DAY, tl.end);
  const strayClicks: InjectedClick[] = [];
  for (let d = tl.cutover; d < strayEnd; d += DAY) {
    for (let i = 0; i < STRAY_CLICKS_PER_DAY; i++) {
      strayClicks.push(
        inject({
          platform: affiliates[strayAffiliate].home,
          affiliate: strayAffiliate,
          offer: strayOffer,
          clickedAt: d + 6 * HOUR + jitter(16 * HOUR),
        }),
      );
    }
  }

  // --- Phase 2: the migration -----------------------------------------------------------------
  runHours(tl.migrationStart, tl.end);

  // --- Injected conversions -------------------------------------------------------------------
  const approved = { status: 'approved' as const, changes: [] };
  const sharedOrder = nextOrderId(od.offer);
  const odLegacyConv = pushConversion(
    home(od.ai),
    odLegacyClick.click!,
    od.offer,
    od.move + 10 * HOUR + jitter(20 * MIN),
    { ...approved, orderId: sharedOrder },
  );
  const odTargetConv = pushConversion(
    T,
    odTargetClick.click!,
    od.offer,
    odTargetClick.click!.clickedAt + 18 * MIN + jitter(4 * MIN),
    { ...approved, orderId: sharedOrder },
  );
  const ipLegacyConv = pushConversion(
    home(ipd.ai),
    ipLegacyClick.click!,
    ipd.offer,
    ipd.move + 4 * MIN + jitter(MIN),
    approved,
  );
  const ipTargetConv = pushConversion(T, ipTargetClick.click!, ipd.offer, ipd.move + 7 * MIN + jitter(MIN), approved);
  let bridgeConvs: { ef: ScenarioConversion; cake: ScenarioConversion } | null = null;
  if (bridge) {
    const efClick = bridge.ef.click!;
    const cakeClick = bridge.cake.click!;
    cakeClick.subs = [cakeClick.subs[0], efClick.clickId, null, null, null];
    const at = efClick.clickedAt + 25 * MIN + jitter(5 * MIN);
    const ef = pushConversion(T, efClick, bridge.offer, at, approved);
    const cake = pushConversion(cakeIndex, cakeClick, bridge.offer, at + 30_000 + jitter(30_000), approved);
    bridgeConvs = { ef, cake };
  }
  const pdOrder = nextOrderId(pd.offer);
  const pdConvA = pushConversion(T, pdClickA.click!, pd.offer, pdClickA.click!.clickedAt + 12 * MIN + jitter(5 * MIN), {
    ...approved,
    orderId: pdOrder,
  });
  const pdConvB = pushConversion(T, pdClickB.click!, pd.offer, pdClickB.click!.clickedAt + 9 * MIN + jitter(5 * MIN), {
    ...approved,
    orderId: pdOrder,
  });
  // A few stray conversions (three, on clicks of the first two stray days).
  const strayConvs: ScenarioConversion[] = [];
  {
    const early = strayClicks.filter((c) => c.clickedAt < tl.cutover + 2 * DAY);
    for (const i of rng.sampleIndexes(early.length, 3)) {
      const c = early[i].click!;
      strayConvs.push(
        pushConversion(home(strayAffiliate), c, strayOffer, c.clickedAt + 10 * MIN + jitter(80 * MIN), approved),
      );
    }
  }

  // --- Sort, entities, crosswalk, waves, incidents --------------------------------------------
  // Clicks come out of the hour loop already in time order per platform (injected ones included);
  // conversions are made at click time and need sorting.
  for (let p = 0; p < kinds.length; p++) conversions[p].sort((a, b) => a.convertedAt - b.convertedAt);

  // Waves from the data itself (first target click day, last legacy click day).
  const firstTarget = affiliates.map(() => Infinity);
  const lastLegacy = affiliates.map(() => -Infinity);
  for (let p = 0; p < kinds.length; p++) {
    const m = new Map<string, number>();
    for (const [i, id] of affId[p].entries()) if (id !== null) m.set(id, i);
    for (const c of clicks[p]) {
      const ai = m.get(c.affiliateId)!;
      if (p === T) firstTarget[ai] = Math.min(firstTarget[ai], c.clickedAt);
      else lastLegacy[ai] = Math.max(lastLegacy[ai], c.clickedAt);
    }
  }
  const lastDay = tl.end - DAY;
  const waves: MigrationWaveTruth[] = ranking.map((ai) => ({
    canonicalKey: affiliates[ai].key,
    tier: tier[ai],
    movedOn: firstTarget[ai] === Infinity ? null : dayString(firstTarget[ai]),
    legacyStoppedOn: lastLegacy[ai] >= lastDay ? null : dayString(lastLegacy[ai]),
    rank: rankOf[ai] + 1,
    dueDate: dayString(dueDay(ai)),
    legacyRevenueBeforeStart: cents(legacyRevenue[ai]),
  }));

  const normalMover = (ai: number) =>
    !used.has(ai) || ai === orderDupAffiliate || ai === ipDupAffiliate || ai === platformDupAffiliate;
  const entities = {
    advertisers: {} as Record<string, ScenarioEntity[]>,
    offers: {} as Record<string, ScenarioEntity[]>,
    affiliates: {} as Record<string, ScenarioEntity[]>,
  };
  const crosswalk: CrosswalkRow[] = [];
  for (let p = 0; p < kinds.length; p++) {
    const key = platformKeys[p];
    entities.advertisers[key] = advertiserNames.map((name, i) => ({
      platform: key,
      id: advIds[p][i],
      name,
      email: `affiliates@${slug(name)}.example`,
      status: 'active',
      canonicalKey: `adv-${String(i + 1).padStart(3, '0')}`,
      createdAt: advCreated[p][i],
    }));
    entities.offers[key] = offers.map((o, i) => ({
      platform: key,
      id: offerIds[p][i],
      name: o.name,
      email: null,
      status: 'active',
      canonicalKey: o.key,
      advertiserId: advIds[p][o.advertiser],
      revenue: cents(o.revenueCents),
      payout: cents(o.payoutCents),
      events: o.event
        ? [{ name: o.event.name, revenue: cents(o.event.revenueCents), payout: cents(o.event.payoutCents) }]
        : [],
      createdAt: offerCreated[p][i],
    }));
    const affs: ScenarioEntity[] = [];
    affiliates.forEach((a, ai) => {
      const id = affId[p][ai];
      if (id === null) return;
      // Top-tier partners who moved cleanly have had their legacy account closed (report: "retired").
      const inactive = p !== T && tier[ai] === 1 && normalMover(ai) && a.moveAt !== Infinity;
      affs.push({
        platform: key,
        id,
        name: a.name,
        email: a.email,
        status: inactive ? 'inactive' : 'active',
        canonicalKey: a.key,
        createdAt: p === T ? affTargetCreated[ai] : affLegacyCreated[ai],
      });
    });
    entities.affiliates[key] = affs;
  }
  for (const [entity, list] of [
    ['affiliate', entities.affiliates],
    ['offer', entities.offers],
    ['advertiser', entities.advertisers],
  ] as const) {
    const rows: CrosswalkRow[] = [];
    for (const key of platformKeys)
      for (const e of list[key]) rows.push({ entity, platform: key, platform_id: e.id, canonical_key: e.canonicalKey });
    rows.sort((a, b) =>
      a.canonical_key < b.canonical_key
        ? -1
        : a.canonical_key > b.canonical_key
          ? 1
          : platformKeys.indexOf(a.platform) - platformKeys.indexOf(b.platform),
    );
    crosswalk.push(...rows);
  }

  const affIdsOf = (ai: number, ps: number[]) =>
    Object.fromEntries(ps.filter((p) => affId[p][ai] !== null).map((p) => [platformKeys[p], affId[p][ai] as string]));
  const offerIdsOf = (oi: number, ps: number[]) =>
    Object.fromEntries(ps.map((p) => [platformKeys[p], offerIds[p][oi]]));
  const convIds = (list: ScenarioConversion[]) => {
    const out: Record<string, string[]> = {};
    for (const c of list) (out[c.platform] ??= []).push(c.conversionId);
    return out;
  };
  const subject = (ai: number, oi: number | null, ps: number[]) => ({
    platforms: ps.map((p) => platformKeys[p]),
    affiliateKey: affiliates[ai].key,
    affiliateIds: affIdsOf(ai, ps),
    ...(oi === null ? {} : { offerKey: offers[oi].key, offerIds: offerIdsOf(oi, ps) }),
  });
  const afterCutoverNote = `Normal partners send their last legacy click ≥ ${LEGACY_SILENCE_DAYS} days before the cutover and conversions come ≤ ${MAX_DELAY_DAYS} days after the click, so legacy conversions after the cutover (and legacy conversions whose click is after it) come only from injected partners.`;
  const incidents: GroundTruthIncident[] = [];
  incidents.push({
    rule: 'cross-platform-duplicate',
    description: `Order ${sharedOrder} is recorded on ${platformKeys[home(od.ai)]} and ${options.target} (one sale, payout ${odLegacyConv.payout} paid twice): ${affiliates[od.ai].key}'s last legacy click the evening before its move and a target click the next morning.`,
    ...subject(od.ai, od.offer, [home(od.ai), T]),
    orderId: sharedOrder,
    conversionIds: convIds([odLegacyConv, odTargetConv]),
    from: Math.max(odLegacyConv.convertedAt, odTargetConv.convertedAt),
    to: tl.end,
  });
  incidents.push({
    rule: 'cross-platform-duplicate',
    description: `Same IP ${sharedIp} and user agent on ${platformKeys[home(ipd.ai)]} and ${options.target} for ${offers[ipd.offer].key} within 10 minutes (clicks ${Math.round((ipTargetClick.click!.clickedAt - ipLegacyClick.click!.clickedAt) / 1000)} s apart, different order ids ${ipLegacyConv.orderId} / ${ipTargetConv.orderId}).`,
    ...subject(ipd.ai, ipd.offer, [home(ipd.ai), T]),
    conversionIds: convIds([ipLegacyConv, ipTargetConv]),
    from: Math.max(ipLegacyConv.convertedAt, ipTargetConv.convertedAt),
    to: tl.end,
  });
  if (bridge && bridgeConvs) {
    incidents.push({
      rule: 'cross-platform-duplicate',
      description: `Transaction-id bridge: ${platformKeys[cakeIndex]} conversion ${bridgeConvs.cake.conversionId} has s2 = ${options.target} transaction_id ${bridgeConvs.ef.transactionId} (same sale; order ids ${bridgeConvs.cake.orderId} / ${bridgeConvs.ef.orderId} and IPs differ, so s2 is the only link).`,
      ...subject(bridge.ai, bridge.offer, [cakeIndex, T]),
      conversionIds: convIds([bridgeConvs.cake, bridgeConvs.ef]),
      from: Math.max(bridgeConvs.cake.convertedAt, bridgeConvs.ef.convertedAt),
      to: tl.end,
    });
  }
  incidents.push({
    rule: 'dual-running',
    description: `${affiliates[dualAffiliate].key} moved on ${dayString(dualStart)} but kept running ${offers[dualOffer].key} on ${platformKeys[home(dualAffiliate)]} and ${options.target} for ${DUAL_RUNNING_DAYS} days (half its clicks on each, ≥ 20 a day per side), until ${dayString(dualEnd)}. Every other partner swaps its links at some hour of its move day, half of them with a tail of stray legacy clicks for a few hours after (old links still live); late legacy conversions after a move are not dual running either.`,
    ...subject(dualAffiliate, dualOffer, [home(dualAffiliate), T]),
    from: dualStart,
    to: dualEnd,
  });
  incidents.push({
    rule: 'dual-running',
    description: `${affiliates[lowDualAffiliate].key} moved on ${dayString(affiliates[lowDualAffiliate].moveAt)} but kept ${lowDualOffers.size} small offers (${[...lowDualOffers].map((o) => offers[o].key).join(', ')}) running on ${platformKeys[home(lowDualAffiliate)]} and ${options.target} for ${DUAL_RUNNING_DAYS} days (half its clicks on each), until ${dayString(lowDualEnd)}: a dual runner judged across its offers.`,
    ...subject(lowDualAffiliate, null, [home(lowDualAffiliate), T]),
    from: affiliates[lowDualAffiliate].moveAt,
    to: lowDualEnd,
  });
  incidents.push({
    rule: 'platform-duplicate',
    description: `Order ${pdOrder} converts twice on ${options.target} (two clicks of ${affiliates[pd.ai].key} on ${offers[pd.offer].key}, both approved).`,
    ...subject(pd.ai, pd.offer, [T]),
    orderId: pdOrder,
    conversionIds: convIds([pdConvA, pdConvB]),
    from: Math.max(pdConvA.convertedAt, pdConvB.convertedAt),
    to: tl.end,
  });
  incidents.push({
    rule: 'tracking-outage',
    description: `${offers[outageOffer].key} on ${options.target} keeps receiving clicks but records no conversions for ${OUTAGE_HOURS} hours (postback domain dropped); its baseline is ≥ 2 conversions an hour.`,
    platforms: [options.target],
    offerKey: offers[outageOffer].key,
    offerIds: offerIdsOf(outageOffer, [T]),
    from: outageFrom,
    to: outageTo,
  });
  incidents.push({
    rule: 'conversion-rate-discrepancy',
    description: `${offers[discrepancyOffer].key} converts at half its rate on ${options.target} (broken pixel on one landing page) from ${dayString(discrepancyFrom)} for ${DISCREPANCY_DAYS} days, while it also has volume on legacy (~${Math.round(bestWindow.legacy)} legacy / ~${Math.round(bestWindow.target)} target clicks expected). Offer × affiliate comparisons for partners who moved inside the window show the same discrepancy.`,
    platforms: [
      ...options.legacy.filter((_, p) => expectedClicks(discrepancyOffer, p, discrepancyFrom, discrepancyTo) > 0),
      options.target,
    ],
    offerKey: offers[discrepancyOffer].key,
    offerIds: offerIdsOf(discrepancyOffer, [...options.legacy.map((_, p) => p), T]),
    from: discrepancyFrom,
    to: discrepancyTo,
  });
  incidents.push({
    rule: 'migration-lagging-partner',
    description: `${affiliates[laggingAffiliate].key} (tier ${tier[laggingAffiliate]}, due ${dayString(dueDay(laggingAffiliate))}) never moves: no target account, no target traffic.`,
    ...subject(laggingAffiliate, null, [home(laggingAffiliate)]),
    from: dueDay(laggingAffiliate) + DAY,
    to: tl.end,
  });
  incidents.push({
    rule: 'legacy-traffic-after-cutover',
    description: `${affiliates[laggingAffiliate].key} never moved and keeps sending all its traffic (new clicks and conversions) to ${platformKeys[home(laggingAffiliate)]} after the cutover ${options.cutoverDate}. ${afterCutoverNote}`,
    ...subject(laggingAffiliate, null, [home(laggingAffiliate)]),
    from: tl.cutover,
    to: tl.end,
  });
  incidents.push({
    rule: 'legacy-traffic-after-cutover',
    description: `${affiliates[strayAffiliate].key} moved on ${dayString(affiliates[strayAffiliate].moveAt)} but an old ${platformKeys[home(strayAffiliate)]} link for ${offers[strayOffer].key} (an offer it does not run on ${options.target}) still gets ~${STRAY_CLICKS_PER_DAY} clicks a day after the cutover, with ${strayConvs.length} conversions. ${afterCutoverNote}`,
    ...subject(strayAffiliate, strayOffer, [home(strayAffiliate)]),
    conversionIds: convIds(strayConvs),
    from: tl.cutover,
    to: strayEnd,
  });

  const byKey = <T>(arr: T[][]) => Object.fromEntries(platformKeys.map((k, p) => [k, arr[p]]));
  return {
    options: { ...options, platforms: { ...options.platforms }, legacy: [...options.legacy] },
    affiliates: entities.affiliates,
    offers: entities.offers,
    advertisers: entities.advertisers,
    clicks: byKey(clicks),
    conversions: byKey(conversions),
    crosswalk,
    incidents,
    waves,
  };
}

/** The crosswalk as the CSV `dualtrack mappings import` reads (docs/design.md §8). */
export function crosswalkCsv(s: Scenario): string {
  const esc = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = ['entity,platform,platform_id,canonical_key'];
  for (const r of s.crosswalk) lines.push([r.entity, r.platform, r.platform_id, r.canonical_key].map(esc).join(','));
  return `${lines.join('\n')}\n`;
}
