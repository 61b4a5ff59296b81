import type { RuleId, Severity } from '../config/schema.js';
import type { MetricValue, Subject } from '../rules/types.js';

/** Alert JSON, exactly the shape of docs/design.md §7 (what `evaluate --json` prints, one per line). */
export interface AlertJson {
  rule: RuleId;
  severity: Severity;
  state: AlertState;
  fingerprint: string;
  subject: Subject;
  summary: string;
  metrics: Record<string, MetricValue>;
  money_at_risk: string | null;
  evidence: Record<string, unknown>[];
  first_seen_at: string;
  last_seen_at: string;
}

export type AlertState = 'open' | 'resolved';

/** Why a notification is sent. */
export type NotificationKind = 'opened' | 'reopened' | 'escalated' | 'repeated' | 'resolved';

export interface AlertNotification {
  kind: NotificationKind;
  alert: AlertJson;
}

/** An alert with its lifecycle fields (for `alerts list`). */
export interface AlertRecord extends AlertJson {
  resolved_at: string | null;
  last_notified_at: string | null;
  muted_until: string | null;
  acked_at: string | null;
  acked_by: string | null;
  note: string | null;
}

export const ALERT_JSON_KEYS = [
  'rule',
  'severity',
  'state',
  'fingerprint',
  'subject',
  'summary',
  'metrics',
  'money_at_risk',
  'evidence',
  'first_seen_at',
  'last_seen_at',
] as const;

/** The DESIGN §7 object, keys in the documented order, nothing else. */
export function toAlertJson(a: AlertJson): AlertJson {
  return Object.fromEntries(ALERT_JSON_KEYS.map((k) => [k, a[k]])) as unknown as AlertJson;
}
