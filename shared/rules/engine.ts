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
 * `evaluateRules`: every enabled rule of docs/design.md §6 over the database as of `at`. Deterministic:
 * the same database and `at` give the same findings in the same order (rule order below, then
 * fingerprint). Rules see only events before `at` (see common.ts for the hour/day conventions).
 *
 * Tests: test/rules/* craft database states directly; test/rules/scenario.test.ts measures recall
 * and precision against the simulators' planted problems. Speed: bench/rules.ts
 * (`npm run bench -- --only=rules`).
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
  /** Rules evaluated at once (default RULE_CONCURRENCY). 1 runs them one after another. */
  concurrency?: number;
}

/**
 * Rules in flight at once. The rules also run their own independent reads side by side (per
 * platform, per platform pair), so an evaluation has about 3–10 statements in flight; beyond the
 * mysql2 pool's 8 connections they wait for one, and on the Data API each is its own call. At 16M
 * clicks this took a whole evaluation from 5.2–5.5 s (one rule, one platform at a time) to 2.5–2.8 s
 * on a 2-core MariaDB (bench/notes.md, fourth pass); with fewer database cores the gain shrinks
 * towards the one-at-a-time cost.
 */
export const RULE_CONCURRENCY = 3;

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
  const rules = RULES.filter((rule) => config.rules[rule.id].enabled && (!input.only || input.only.includes(rule.id)));
  const concurrency = Math.max(1, Math.floor(input.concurrency ?? RULE_CONCURRENCY));
  // Rules only read, and each reads its own tables and windows, so several run at once: the database
  // answers them on separate connections (mysql2 pool; independent Data API calls). The output does
  // not depend on which finishes first: findings are put back in rule order, each rule's sorted by
  // fingerprint.
  const results: ({ ok: true; found: Finding[] } | { ok: false; error: unknown } | undefined)[] = new Array(
    rules.length,
  );
  let next = 0;
  const lane = async () => {
    while (next < rules.length) {
      const i = next++;
      try {
        results[i] = { ok: true, found: await rules[i].evaluate(ctx) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, rules.length) }, lane));
  const findings: Finding[] = [];
  const evaluated: RuleId[] = [];
  for (let i = 0; i < rules.length; i++) {
    const r = results[i]!;
    // One broken rule must be visible, but naming it is the caller's job: fail the run rather than
    // let the store resolve that rule's open alerts because it "found nothing". The other rules were
    // left to finish (their statements cannot be cancelled) and their findings are dropped with it.
    if (!r.ok) throw new RuleEvaluationError(rules[i].id, r.error);
    const found = r.found.sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));
    findings.push(...found);
    evaluated.push(rules[i].id);
  }
  return { findings, evaluated };
}

export async function evaluateRules(input: EvaluateRulesInput): Promise<Finding[]> {
  return (await evaluateRulesDetailed(input)).findings;
}
