/**
 * The simulated network: platform-neutral truth that every platform simulator renders in its own
 * wire format, plus the ground truth the rules and reports are checked against.
 *
 * All times are epoch milliseconds, UTC. Money is decimal strings. Ids are the platform's own
 * (HitPath affiliate "1001" and Everflow affiliate "57" are the same partner via `canonicalKey`).
 * A scenario is a pure function of its options (seeded PRNG): same options, same scenario.
 */
import type { ConversionStatus, EntityStatus, PlatformKind } from '#shared/model/canonical.js';

export interface ScenarioOptions {
  seed: number;
  /** First day of data, 00:00 UTC, `YYYY-MM-DD`. */
  startDate: string;
  /** Number of days of data. */
  days: number;
  /** Platform keys and their kinds; the first of `legacy` and the `target` carry most traffic. */
  platforms: Record<string, PlatformKind>;
  legacy: string[];
  target: string;
  /** Migration start / cutover dates (`YYYY-MM-DD`), inside [startDate, startDate + days). */
  migrationStart: string;
  cutoverDate: string;
  /** Roughly how many clicks per day across all platforms (conversions ~2–5% of them). */
  clicksPerDay: number;
  affiliates: number;
  offers: number;
  advertisers: number;
}

export interface ScenarioEntity {
  platform: string;
  id: string;
  name: string;
  email: string | null;
  status: EntityStatus;
  /** The cross-platform identity (what `mappings import` loads). */
  canonicalKey: string;
  /** Offers only: the advertiser's platform id. */
  advertiserId?: string;
  /** Offers only: default revenue and payout per conversion. */
  revenue?: string;
  payout?: string;
  /** Offers only: post-conversion events and their revenue / payout per event (empty when none). */
  events?: { name: string; revenue: string; payout: string }[];
  createdAt: number;
}

export interface ScenarioClick {
  platform: string;
  clickId: string;
  clickedAt: number;
  affiliateId: string;
  offerId: string;
  advertiserId: string;
  subs: [string | null, string | null, string | null, string | null, string | null];
  ip: string;
  userAgent: string;
  countryCode: string;
  isUnique: boolean;
}

export interface ScenarioStatusChange {
  at: number;
  status: ConversionStatus;
}

export interface ScenarioConversion {
  platform: string;
  conversionId: string;
  clickId: string;
  clickedAt: number;
  convertedAt: number;
  affiliateId: string;
  offerId: string;
  advertiserId: string;
  /** Advertiser order id (the cross-platform duplicate key). */
  orderId: string;
  /** The platform's own transaction id (Everflow transaction_id, CAKE request id, …). */
  transactionId: string;
  subs: [string | null, string | null, string | null, string | null, string | null];
  /** null for a base conversion; the event name for a post-conversion event. */
  eventName: string | null;
  /** Status when the conversion is first recorded. */
  status: ConversionStatus;
  /** Later status changes (pending → approved / rejected), in time order. */
  changes: ScenarioStatusChange[];
  revenue: string;
  payout: string;
  saleAmount: string | null;
  currency: string;
  ip: string;
  userAgent: string;
  countryCode: string;
}

/** One injected incident, with the subject the matching rule must report. */
export interface GroundTruthIncident {
  rule:
    | 'cross-platform-duplicate'
    | 'dual-running'
    | 'platform-duplicate'
    | 'conversion-rate-discrepancy'
    | 'revenue-discrepancy'
    | 'tracking-outage'
    | 'stale-source'
    | 'migration-lagging-partner'
    | 'legacy-traffic-after-cutover';
  description: string;
  /** Platform keys involved. */
  platforms: string[];
  /** Canonical keys of the affiliate / offer involved, where the incident is about one. */
  affiliateKey?: string;
  offerKey?: string;
  /** Platform ids involved (by platform key), for matching alert subjects. */
  affiliateIds?: Record<string, string>;
  offerIds?: Record<string, string>;
  orderId?: string;
  /** The injected conversions by platform key, where the incident is about particular conversions. */
  conversionIds?: Record<string, string[]>;
  /** Window in which the incident is observable. */
  from: number;
  to: number;
}

export interface MigrationWaveTruth {
  canonicalKey: string;
  /** 1 = top third by legacy revenue. */
  tier: number;
  /** First day with target clicks (`YYYY-MM-DD`), null for a partner who never moves. */
  movedOn: string | null;
  /** Last day with legacy clicks, null while still running on legacy at the end. */
  legacyStoppedOn: string | null;
  /** 1-based rank by legacy revenue before the migration start (set by `generateScenario`). */
  rank?: number;
  /** Wave due date (`YYYY-MM-DD`, migration start + 7/14/21 days). */
  dueDate?: string;
  /** Revenue (decimal string) of legacy conversions converted before the migration start, not rejected. */
  legacyRevenueBeforeStart?: string;
}

export interface CrosswalkRow {
  entity: 'affiliate' | 'offer' | 'advertiser';
  platform: string;
  platform_id: string;
  canonical_key: string;
}

export interface Scenario {
  options: ScenarioOptions;
  /** By platform key. */
  affiliates: Record<string, ScenarioEntity[]>;
  offers: Record<string, ScenarioEntity[]>;
  advertisers: Record<string, ScenarioEntity[]>;
  /** By platform key, sorted by clickedAt. */
  clicks: Record<string, ScenarioClick[]>;
  /** By platform key, sorted by convertedAt. */
  conversions: Record<string, ScenarioConversion[]>;
  crosswalk: CrosswalkRow[];
  incidents: GroundTruthIncident[];
  waves: MigrationWaveTruth[];
}

/** A conversion's status as the platform reports it at `now`, and when it last changed. */
export function statusAt(c: ScenarioConversion, now: number): { status: ConversionStatus; changedAt: number } {
  let status = c.status;
  let changedAt = c.convertedAt;
  for (const ch of c.changes) {
    if (ch.at > now) break;
    status = ch.status;
    changedAt = ch.at;
  }
  return { status, changedAt };
}
