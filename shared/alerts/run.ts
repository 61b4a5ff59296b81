import type { Config } from '../config/schema.js';
import type { Db } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import { evaluateRulesDetailed } from '../rules/engine.js';
import { computeMigrationPlan } from '../migration/plan.js';
import type { Finding } from '../rules/types.js';
import { applyFindings, type ApplyFindingsResult } from './store.js';
import { groupNotifications, type AlertMessage } from './notify/message.js';
import type { Notifier } from './notify/port.js';

/**
 * One evaluation run, the same in Lambda (`functions/evaluate-alerts.ts`, SNS notifier) and locally
 * (`dualtrack evaluate`, local notifier): every enabled rule at `at` → alert store → at most one
 * grouped message per severity → notifier. Alert state is committed before notifying, so a
 * delivery failure never loses or duplicates alert state (the next run does not re-notify).
 *
 * Before the rules run, the partner waves in `migration_plan` are recomputed (computeMigrationPlan:
 * idempotent, keeps manual rows) whenever migration-lagging-partner is enabled: that rule reads only
 * the plan, and nothing else keeps it current, so without this refresh it would never fire on a
 * fresh install and would miss affiliates that appear later (a backfill of pre-start history).
 */
export interface RunEvaluationInput {
  db: Db;
  names: DbNames;
  config: Config;
  at: Date;
  notifier: Pick<Notifier, 'notify'>;
  logger?: Logger;
}

export interface RunEvaluationResult extends ApplyFindingsResult {
  findings: Finding[];
  messages: AlertMessage[];
}

export async function runEvaluation(input: RunEvaluationInput): Promise<RunEvaluationResult> {
  const logger = input.logger ?? silentLogger;
  if (input.config.rules['migration-lagging-partner'].enabled)
    await computeMigrationPlan(input.db, input.names, input.config, input.at);
  const { findings, evaluated } = await evaluateRulesDetailed(input);
  const stored = await applyFindings({ ...input, findings, evaluated });
  const messages = groupNotifications(stored.notifications, input.at);
  if (messages.length) await input.notifier.notify(messages);
  logger.info('alerts evaluated', {
    at: input.at.toISOString(),
    rules: evaluated.length,
    firing: stored.firing.length,
    notifications: stored.notifications.length,
    resolved: stored.resolved.length,
    messages: messages.length,
  });
  return { ...stored, findings, messages };
}
