import type { Config, RuleId, Severity } from '../config/schema.js';
import type { Db, Row } from '../db/port.js';
import type { DbNames } from '../db/names.js';
import type { Finding } from '../rules/types.js';
import { SEVERITY_RANK } from '../rules/types.js';
import { fromMicros, toMicros } from '../rules/money.js';
import { fromSqlDateTime, HOUR_MS, toSqlDateTime } from '../util/time.js';
import type { AlertJson, AlertNotification, AlertRecord, AlertState, NotificationKind } from './types.js';

/**
 * The alert store (docs/design.md §7) over `<prefix>_core.alerts` and `alert_events`.
 *
 * `applyFindings` is called once per evaluation with the findings of the rules that ran:
 *  - a new fingerprint opens an alert and notifies once (`opened`);
 *  - an open alert that keeps firing is updated quietly; it notifies again only
 *      · on escalation — severity above the last notified severity (`escalated`), or
 *      · every `rules.<rule>.repeatHours` since the last notification (`repeated`; 0 = never),
 *        unless acknowledged;
 *  - an open alert of an evaluated rule that no longer fires resolves and notifies (`resolved`)
 *    once it has not fired for `rules.<rule>.resolveAfterHours` (flap damping; 0 = at once);
 *    acknowledged alerts resolve (and notify) like any other;
 *  - a resolved alert that fires again reopens (`reopened`) and loses its acknowledgement
 *    (an ack is about one occurrence);
 *  - while `muted_until` > at nothing about the alert is notified, but its state and history are
 *    kept; an alert that was never notified (muted from the start) notifies `opened` once the mute ends.
 * Every transition is a row in `alert_events` (opened, reopened, escalated, deescalated, repeated,
 * resolved, muted, acked). The run is one transaction so that two overlapping evaluations cannot
 * both open the same alert. The returned notifications are marked as notified: delivery is
 * at-most-once per transition from the store's side; SNS/Slack redelivery is the transport's job.
 */

export interface ApplyFindingsInput {
  db: Db;
  names: DbNames;
  config: Config;
  at: Date;
  findings: readonly Finding[];
  /** Rules that ran; only their open alerts can resolve (a disabled rule's alerts stay as they are). */
  evaluated: readonly RuleId[];
}

export interface ApplyFindingsResult {
  notifications: AlertNotification[];
  /** Every alert that is firing at `at` (state open), in findings order. */
  firing: AlertJson[];
  /** Alerts resolved by this run. */
  resolved: AlertJson[];
}

type AlertRow = Row & {
  fingerprint: string;
  rule: string;
  severity: string;
  state: string;
  subject: string;
  summary: string;
  metrics: string | null;
  evidence: string | null;
  money_at_risk: string | null;
  first_seen_at: string;
  last_seen_at: string;
  resolved_at: string | null;
  last_notified_at: string | null;
  notified_severity: string | null;
  muted_until: string | null;
  acked_at: string | null;
  acked_by: string | null;
  note: string | null;
};

export class AlertNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlertNotFoundError';
  }
}

const CHUNK = 500;

export async function applyFindings(input: ApplyFindingsInput): Promise<ApplyFindingsResult> {
  const { names, config, at, findings, evaluated } = input;
  const t = toSqlDateTime(at);
  return input.db.transaction(async (db) => {
    const existing = new Map<string, AlertRow>();
    const fps = findings.map((f) => f.fingerprint);
    for (let i = 0; i < fps.length; i += CHUNK) {
      for (const r of await db.query<AlertRow>(
        `SELECT * FROM ${names.core}.alerts WHERE fingerprint IN (:fps) FOR UPDATE`,
        { fps: fps.slice(i, i + CHUNK) },
      ))
        existing.set(r.fingerprint, r);
    }
    const openOfRules = evaluated.length
      ? await db.query<AlertRow>(
          `SELECT * FROM ${names.core}.alerts WHERE state = 'open' AND rule IN (:rules) ORDER BY first_seen_at, fingerprint FOR UPDATE`,
          { rules: [...evaluated] },
        )
      : [];

    const notifications: AlertNotification[] = [];
    const firing: AlertJson[] = [];
    const resolved: AlertJson[] = [];
    const seen = new Set<string>();
    const event = (
      fingerprint: string,
      name: string,
      severity: string | null,
      details: Record<string, unknown> | null,
    ) =>
      db.execute(
        `INSERT INTO ${names.core}.alert_events (fingerprint, event, at, severity, details) VALUES (:fp, :ev, :at, :sev, :details)`,
        {
          fp: fingerprint,
          ev: name,
          at: t,
          sev: severity,
          details: details === null ? null : JSON.stringify(details),
        },
      );

    for (const f of findings) {
      if (seen.has(f.fingerprint)) continue; // a rule reporting one subject twice: first wins
      seen.add(f.fingerprint);
      const row = existing.get(f.fingerprint);
      const values = {
        fp: f.fingerprint,
        rule: f.rule,
        sev: f.severity,
        subject: JSON.stringify(f.subject),
        summary: f.summary,
        metrics: JSON.stringify(f.metrics),
        evidence: JSON.stringify(f.evidence),
        money: f.money_at_risk,
        at: t,
      };
      let kind: NotificationKind | null = null;
      let firstSeen = t;
      if (!row) {
        await db.execute(
          `INSERT INTO ${names.core}.alerts (fingerprint, rule, severity, state, subject, summary, metrics, evidence, money_at_risk, first_seen_at, last_seen_at)
           VALUES (:fp, :rule, :sev, 'open', :subject, :summary, :metrics, :evidence, :money, :at, :at)`,
          values,
        );
        await event(f.fingerprint, 'opened', f.severity, { summary: f.summary, money_at_risk: f.money_at_risk });
        kind = 'opened';
      } else {
        firstSeen = row.first_seen_at;
        const muted = isMuted(row, at);
        if (row.state === 'resolved') {
          await db.execute(
            `UPDATE ${names.core}.alerts SET state = 'open', severity = :sev, subject = :subject, summary = :summary, metrics = :metrics, evidence = :evidence,
               money_at_risk = :money, last_seen_at = :at, resolved_at = NULL, acked_at = NULL, acked_by = NULL WHERE fingerprint = :fp`,
            values,
          );
          await event(f.fingerprint, 'reopened', f.severity, { summary: f.summary, money_at_risk: f.money_at_risk });
          kind = muted ? null : 'reopened';
        } else {
          await db.execute(
            `UPDATE ${names.core}.alerts SET severity = :sev, subject = :subject, summary = :summary, metrics = :metrics, evidence = :evidence,
               money_at_risk = :money, last_seen_at = :at WHERE fingerprint = :fp`,
            values,
          );
          const prev = rank(row.severity);
          const now = SEVERITY_RANK[f.severity];
          if (now > prev) await event(f.fingerprint, 'escalated', f.severity, { from: row.severity });
          else if (now < prev) await event(f.fingerprint, 'deescalated', f.severity, { from: row.severity });
          if (!muted) {
            const notifiedAt = row.last_notified_at ? Date.parse(fromSqlDateTime(row.last_notified_at)) : null;
            const repeatHours = config.rules[f.rule].repeatHours;
            if (notifiedAt === null) kind = 'opened';
            else if (now > rank(row.notified_severity ?? row.severity)) kind = 'escalated';
            else if (!row.acked_at && repeatHours > 0 && at.getTime() - notifiedAt >= repeatHours * HOUR_MS) {
              kind = 'repeated';
              await event(f.fingerprint, 'repeated', f.severity, null);
            }
          }
        }
      }
      const alert = jsonOf(f, 'open', firstSeen, t);
      firing.push(alert);
      if (kind) {
        await db.execute(
          `UPDATE ${names.core}.alerts SET last_notified_at = :at, notified_severity = :sev WHERE fingerprint = :fp`,
          { at: t, sev: f.severity, fp: f.fingerprint },
        );
        notifications.push({ kind, alert });
      }
    }

    for (const row of openOfRules) {
      if (seen.has(row.fingerprint)) continue;
      // Hysteresis: stays open (quietly) until the rule has missed it for resolveAfterHours.
      const grace = (config.rules[row.rule as RuleId]?.resolveAfterHours ?? 0) * HOUR_MS;
      if (at.getTime() - Date.parse(fromSqlDateTime(row.last_seen_at)) < grace) continue;
      await db.execute(
        `UPDATE ${names.core}.alerts SET state = 'resolved', resolved_at = :at WHERE fingerprint = :fp`,
        { at: t, fp: row.fingerprint },
      );
      await event(row.fingerprint, 'resolved', row.severity, null);
      const alert = recordOf({ ...row, state: 'resolved' });
      resolved.push(toJsonOnly(alert));
      // Resolution is news even to whoever acknowledged; a mute silences it like everything else.
      if (!isMuted(row, at)) {
        await db.execute(`UPDATE ${names.core}.alerts SET last_notified_at = :at WHERE fingerprint = :fp`, {
          at: t,
          fp: row.fingerprint,
        });
        notifications.push({ kind: 'resolved', alert: toJsonOnly(alert) });
      }
    }
    return { notifications, firing, resolved };
  });
}

function rank(s: string): number {
  return SEVERITY_RANK[s as Severity] ?? 0;
}

function isMuted(row: AlertRow, at: Date): boolean {
  return row.muted_until !== null && Date.parse(fromSqlDateTime(row.muted_until)) > at.getTime();
}

function iso(s: string | null): string | null {
  return s === null ? null : fromSqlDateTime(s);
}

function jsonOf(f: Finding, state: AlertState, firstSeen: string, lastSeen: string): AlertJson {
  return {
    rule: f.rule,
    severity: f.severity,
    state,
    fingerprint: f.fingerprint,
    subject: f.subject,
    summary: f.summary,
    metrics: f.metrics,
    money_at_risk: f.money_at_risk,
    evidence: f.evidence,
    first_seen_at: fromSqlDateTime(firstSeen),
    last_seen_at: fromSqlDateTime(lastSeen),
  };
}

function parseJson<T>(s: string | null, fallback: T): T {
  if (s === null || s === undefined) return fallback;
  return typeof s === 'string' ? (JSON.parse(s) as T) : (s as T);
}

function recordOf(row: AlertRow): AlertRecord {
  return {
    rule: row.rule as RuleId,
    severity: row.severity as Severity,
    state: row.state as AlertState,
    fingerprint: row.fingerprint,
    subject: parseJson(row.subject, { platforms: [] }),
    summary: row.summary,
    metrics: parseJson(row.metrics, {}),
    money_at_risk: row.money_at_risk === null ? null : fromMicros(toMicros(row.money_at_risk)),
    evidence: parseJson(row.evidence, []),
    first_seen_at: fromSqlDateTime(row.first_seen_at),
    last_seen_at: fromSqlDateTime(row.last_seen_at),
    resolved_at: iso(row.resolved_at),
    last_notified_at: iso(row.last_notified_at),
    muted_until: iso(row.muted_until),
    acked_at: iso(row.acked_at),
    acked_by: row.acked_by,
    note: row.note,
  };
}

function toJsonOnly(r: AlertRecord): AlertJson {
  const { resolved_at: _r, last_notified_at: _n, muted_until: _m, acked_at: _a, acked_by: _b, note: _o, ...json } = r;
  return json;
}

export { toJsonOnly as alertJsonOf };

/** Alerts by state, most recently seen first. */
export async function listAlerts(db: Db, names: DbNames, state: AlertState | 'all' = 'open'): Promise<AlertRecord[]> {
  const rows = await db.query<AlertRow>(
    `SELECT * FROM ${names.core}.alerts ${state === 'all' ? '' : 'WHERE state = :state'}
     ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, last_seen_at DESC, fingerprint`,
    { state },
  );
  return rows.map(recordOf);
}

/** History of one alert, oldest first. */
export async function alertHistory(
  db: Db,
  names: DbNames,
  fingerprint: string,
): Promise<{ event: string; at: string; severity: string | null; details: unknown }[]> {
  const rows = await db.query<{ event: string; at: string; severity: string | null; details: string | null }>(
    `SELECT event, at, severity, details FROM ${names.core}.alert_events WHERE fingerprint = :fp ORDER BY at, id`,
    { fp: fingerprint },
  );
  return rows.map((r) => ({
    event: r.event,
    at: fromSqlDateTime(r.at),
    severity: r.severity,
    details: parseJson(r.details, null),
  }));
}

/**
 * A full fingerprint, or a unique prefix of ≥ 8 hex characters, → the full fingerprint.
 * AlertNotFoundError names what was wrong (too short, no match, ambiguous).
 */
export async function resolveFingerprint(db: Db, names: DbNames, prefix: string): Promise<string> {
  const p = prefix.trim().toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(p))
    throw new AlertNotFoundError(`fingerprint must be 8 to 64 hex characters (got ${JSON.stringify(prefix)})`);
  const rows = await db.query<{ fingerprint: string }>(
    `SELECT fingerprint FROM ${names.core}.alerts WHERE fingerprint LIKE :p ORDER BY fingerprint LIMIT 3`,
    { p: `${p}%` },
  );
  if (rows.length === 0) throw new AlertNotFoundError(`no alert with fingerprint ${p}${p.length < 64 ? '…' : ''}`);
  if (rows.length > 1)
    throw new AlertNotFoundError(
      `fingerprint prefix ${p} matches several alerts (${rows.map((r) => r.fingerprint.slice(0, 12)).join(', ')}…): give more characters`,
    );
  return rows[0].fingerprint;
}

/** Silences notifications about an alert until `until` (state and history still recorded). */
export async function muteAlert(
  db: Db,
  names: DbNames,
  input: { fingerprint: string; until: Date; note?: string; by?: string; at: Date },
): Promise<AlertRecord> {
  const fp = await resolveFingerprint(db, names, input.fingerprint);
  await db.execute(
    `UPDATE ${names.core}.alerts SET muted_until = :until, note = COALESCE(:note, note) WHERE fingerprint = :fp`,
    { until: toSqlDateTime(input.until), note: input.note ?? null, fp },
  );
  await db.execute(
    `INSERT INTO ${names.core}.alert_events (fingerprint, event, at, severity, details) VALUES (:fp, 'muted', :at, NULL, :d)`,
    {
      fp,
      at: toSqlDateTime(input.at),
      d: JSON.stringify({ until: input.until.toISOString(), note: input.note ?? null, by: input.by ?? null }),
    },
  );
  return (await getAlert(db, names, fp))!;
}

/** Acknowledges an open alert: no repeat notifications; escalation and resolution still notify. */
export async function ackAlert(
  db: Db,
  names: DbNames,
  input: { fingerprint: string; by?: string; note?: string; at: Date },
): Promise<AlertRecord> {
  const fp = await resolveFingerprint(db, names, input.fingerprint);
  await db.execute(
    `UPDATE ${names.core}.alerts SET acked_at = :at, acked_by = :by, note = COALESCE(:note, note) WHERE fingerprint = :fp`,
    {
      at: toSqlDateTime(input.at),
      by: input.by ?? null,
      note: input.note ?? null,
      fp,
    },
  );
  await db.execute(
    `INSERT INTO ${names.core}.alert_events (fingerprint, event, at, severity, details) VALUES (:fp, 'acked', :at, NULL, :d)`,
    {
      fp,
      at: toSqlDateTime(input.at),
      d: JSON.stringify({ by: input.by ?? null, note: input.note ?? null }),
    },
  );
  return (await getAlert(db, names, fp))!;
}

export async function getAlert(db: Db, names: DbNames, fingerprint: string): Promise<AlertRecord | null> {
  const rows = await db.query<AlertRow>(`SELECT * FROM ${names.core}.alerts WHERE fingerprint = :fp`, {
    fp: fingerprint,
  });
  return rows[0] ? recordOf(rows[0]) : null;
}
