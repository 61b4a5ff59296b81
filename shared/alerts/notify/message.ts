import type { Severity } from '../../config/schema.js';
import type { AlertNotification, NotificationKind } from '../types.js';

/**
 * Grouping (docs/design.md §7): one evaluation publishes at most ONE message per severity, holding every
 * notification of that severity (new, escalated, repeated, reopened and resolved alerts). The
 * message is the SNS body (JSON) and what the Slack subscriber formats.
 */

export const SEVERITY_ORDER: readonly Severity[] = ['critical', 'warning', 'info'];

export interface AlertMessage {
  source: 'dualtrack';
  version: 1;
  severity: Severity;
  /** Evaluation time (ISO). */
  at: string;
  /** One line for humans (also the email preview). */
  text: string;
  counts: Partial<Record<NotificationKind, number>>;
  notifications: AlertNotification[];
  /** Notifications left out to stay under a size limit (SNS 256 KB). */
  omitted: number;
}

const KIND_ORDER: readonly NotificationKind[] = ['opened', 'reopened', 'escalated', 'repeated', 'resolved'];

export function groupNotifications(notifications: readonly AlertNotification[], at: Date): AlertMessage[] {
  const out: AlertMessage[] = [];
  for (const severity of SEVERITY_ORDER) {
    const mine = notifications.filter((n) => n.alert.severity === severity);
    if (mine.length === 0) continue;
    // New problems first, resolutions last; stable within a kind.
    const sorted = [...mine].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
    out.push(makeMessage(severity, at.toISOString(), sorted, 0));
  }
  return out;
}

export function makeMessage(
  severity: Severity,
  at: string,
  notifications: AlertNotification[],
  omitted: number,
): AlertMessage {
  const counts: Partial<Record<NotificationKind, number>> = {};
  for (const n of notifications) counts[n.kind] = (counts[n.kind] ?? 0) + 1;
  if (omitted > 0) counts.opened = counts.opened ?? 0;
  return {
    source: 'dualtrack',
    version: 1,
    severity,
    at,
    text: headline(severity, counts, notifications.length + omitted),
    counts,
    notifications,
    omitted,
  };
}

/** `dualtrack CRITICAL: 2 new, 1 resolved` */
export function headline(severity: Severity, counts: Partial<Record<NotificationKind, number>>, total: number): string {
  const words: Record<NotificationKind, string> = {
    opened: 'new',
    reopened: 'reopened',
    escalated: 'escalated',
    repeated: 'still open',
    resolved: 'resolved',
  };
  const parts = KIND_ORDER.filter((k) => counts[k]).map((k) => `${counts[k]} ${words[k]}`);
  return `dualtrack ${severity.toUpperCase()}: ${parts.join(', ') || `${total} alerts`}`;
}

/** The distinct rules of a message, sorted. */
export function rulesOf(message: AlertMessage): string[] {
  return [...new Set(message.notifications.map((n) => n.alert.rule))].sort();
}
