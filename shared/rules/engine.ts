import type { Config, RuleId } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import { Crosswalk } from './crosswalk.js';
import { EntityLabels } from './labels.js';
import { orderedPlatforms } from './common.js';
import type { Finding, RuleDefinition } from './types.js';
import { crossPlatformDuplicate } from './cross-platform-duplicate.js';
import { dualRunning } from './dual-running.js';
import { platformDuplicate } from './platform-duplicate.js';
import { conversionRateDiscrepancy } from './conversion-rate-discrepancy.js';
import { revenueDiscrepancy } from './revenue-discrepancy.js';
import { trackingOutage } from './tracking-outage.js';
import { staleSource } from './stale-source.js';
import { migrationLaggingPartner } from './migration-lagging-partner.js';
import { legacyTrafficAfterCutover } from './legacy-traffic-after-cutover.js';

/**
 * `evaluateRules`: every enabled rule of DESIGN.md §6 over the database as of `at`. Deterministic:
 * the same database and `at` give the same findings in the same order (rule order below, then
 * fingerprint). Rules see only events before `at` (see common.ts for the hour/day conventions).
 *
 * Tests: test/rules/* craft database states directly. Still to do once the ingestion pipeline is in:
 * recall/precision of every rule against the simulator scenarios' planted problems, and a rules
 * benchmark in bench/ (large rollup/conversion volumes).
 */

export const RULES: readonly RuleDefinition[] = [
  staleSource,
  crossPlatformDuplicate,
  trackingOutage,
  platformDuplicate,
  dualRunning,
  conversionRateDiscrepancy,
  revenueDiscrepancy,
  legacyTrafficAfterCutover,
  migrationLaggingPartner,
];

export interface EvaluateRulesInput {
  db: Db;
  names: DbNames;
  config: Config;
  at: Date;
  /** Only these rules (default: every enabled rule). */
  only?: readonly RuleId[];
}

export interface EvaluateRulesResult {
  findings: Finding[];
  /** The rules that ran: the alert store resolves only their alerts. */
  evaluated: RuleId[];
}

export class RuleEvaluationError extends Error {
  constructor(
    readonly rule: RuleId,
    cause: unknown,
  ) {
    super(`rule ${rule} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'RuleEvaluationError';
  }
}

export async function evaluateRulesDetailed(input: EvaluateRulesInput): Promise<EvaluateRulesResult> {
  const { db, names, config, at } = input;
  const crosswalk = await Crosswalk.load(db, names);
  const labels = new EntityLabels(db, names, orderedPlatforms(config));
  const ctx = { db, names, config, at, crosswalk, labels };
  const findings: Finding[] = [];
  const evaluated: RuleId[] = [];
  for (const rule of RULES) {
    if (!config.rules[rule.id].enabled) continue;
    if (input.only && !input.only.includes(rule.id)) continue;
    let found: Finding[];
    try {
      found = await rule.evaluate(ctx);
    } catch (e) {
      // One broken rule must be visible, but naming it is the caller's job: fail the run rather than
      // let the store resolve that rule's open alerts because it "found nothing".
      throw new RuleEvaluationError(rule.id, e);
    }
    found.sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));
    findings.push(...found);
    evaluated.push(rule.id);
  }
  return { findings, evaluated };
}

export async function evaluateRules(input: EvaluateRulesInput): Promise<Finding[]> {
  return (await evaluateRulesDetailed(input)).findings;
}
