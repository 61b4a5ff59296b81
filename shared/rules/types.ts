import { createHash } from 'node:crypto';
import type { Config, RuleId, Severity } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import type { Crosswalk } from './crosswalk.js';
import type { EntityLabels } from './labels.js';

/**
 * A finding is what a rule reports for one subject at one evaluation (docs/design.md §7). The alert store
 * turns findings into alerts (open / quiet / escalate / resolve); a finding itself has no state.
 */

/** Per-platform ids of one entity, e.g. `{"hitpath":"1001","everflow":"57"}` (through the crosswalk). */
export type PlatformIds = Record<string, string>;

export interface Subject {
  offer?: PlatformIds;
  affiliate?: PlatformIds;
  /** The platforms involved, legacy first, target last (config order). */
  platforms: string[];
  /** Extra subject keys a rule needs (a UTC date, an order id, a stream …). */
  [key: string]: unknown;
}

export type MetricValue = number | string | boolean | null;

export interface Finding {
  rule: RuleId;
  severity: Severity;
  /** sha256 (hex) of the rule id and the subject's stable keys, see `fingerprintOf`. */
  fingerprint: string;
  subject: Subject;
  /** One or two sentences a network manager understands, with the numbers that matter. */
  summary: string;
  metrics: Record<string, MetricValue>;
  /** At most 5 example rows (ids, times, amounts as strings). */
  evidence: Record<string, unknown>[];
  /** Decimal string in the platforms' currency (2 decimals) where the rule measures money; null otherwise. */
  money_at_risk: string | null;
}

export interface RuleContext {
  db: Db;
  names: DbNames;
  config: Config;
  /** Evaluation time: rules see only events before it. */
  at: Date;
  crosswalk: Crosswalk;
  /** Entity names for summaries. */
  labels: EntityLabels;
}

export interface RuleDefinition {
  id: RuleId;
  defaultSeverity: Severity;
  evaluate(ctx: RuleContext): Promise<Finding[]>;
}

export const MAX_EVIDENCE = 5;

export const SEVERITY_RANK: Record<Severity, number> = { info: 1, warning: 2, critical: 3 };

/** Deterministic JSON (object keys sorted) so a fingerprint does not depend on insertion order. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

/**
 * The alert identity: sha256 of the rule id and the subject's keys (canonical keys, or
 * `<platform>:<id>` for unmapped entities). Keys must not contain anything that changes while the
 * same problem continues (counts, amounts, times other than a day the subject is about).
 */
export function fingerprintOf(rule: RuleId, keys: Record<string, unknown>): string {
  return createHash('sha256')
    .update(`${rule}\n${stableStringify(keys)}`)
    .digest('hex');
}

/** The severity a rule reports with: config override, else the DESIGN default. */
export function severityFor(config: Config, rule: RuleDefinition): Severity {
  return config.rules[rule.id].severity ?? rule.defaultSeverity;
}
