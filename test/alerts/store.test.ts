import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ackAlert,
  alertHistory,
  applyFindings,
  listAlerts,
  muteAlert,
  resolveFingerprint,
} from '#shared/alerts/store.js';
import type { Finding } from '#shared/rules/types.js';
import { fingerprintOf } from '#shared/rules/types.js';
import type { RuleId, Severity } from '#shared/config/schema.js';
import { clearAll, createTestDb, type TestDb } from '../rules/helpers.js';

let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
});
afterAll(async () => tdb?.drop());
beforeEach(async () => clearAll(tdb));

function finding(severity: Severity = 'warning', key = 'off-77', rule: RuleId = 'tracking-outage'): Finding {
  return {
    rule,
    severity,
    fingerprint: fingerprintOf(rule, { offer: key }),
    subject: { offer: { everflow: '12' }, platforms: ['everflow'] },
    summary: `Offer ${key} has no conversions`,
    metrics: { hours: 7 },
    evidence: [],
    money_at_risk: null,
  };
}
const H = 3600_000;
const t0 = Date.parse('2026-10-20T00:00:00Z');
const apply = (hoursAfter: number, findings: Finding[], evaluated: RuleId[] = ['tracking-outage']) =>
  applyFindings({
    db: tdb.db,
    names: tdb.names,
    config: tdb.config,
    at: new Date(t0 + hoursAfter * H),
    findings,
    evaluated,
  });
const kinds = (r: Awaited<ReturnType<typeof apply>>) => r.notifications.map((n) => n.kind);

describe('alert lifecycle', () => {
  it('open → quiet → repeat → escalate → resolve → reopen, with history', async () => {
    expect(kinds(await apply(0, [finding()]))).toEqual(['opened']);
    expect(kinds(await apply(1, [finding()]))).toEqual([]); // still firing: quiet
    expect(kinds(await apply(23, [finding()]))).toEqual([]); // repeatHours 24 not reached
    expect(kinds(await apply(24, [finding()]))).toEqual(['repeated']);
    expect(kinds(await apply(25, [finding('critical')]))).toEqual(['escalated']);
    expect(kinds(await apply(26, [finding('warning')]))).toEqual([]); // de-escalation is quiet
    expect(kinds(await apply(27, [finding('critical')]))).toEqual([]); // back to the notified level: not news
    const resolved = await apply(28, []);
    expect(kinds(resolved)).toEqual(['resolved']);
    expect(resolved.notifications[0].alert).toMatchObject({
      state: 'resolved',
      first_seen_at: '2026-10-20T00:00:00.000Z',
      last_seen_at: '2026-10-21T03:00:00.000Z',
    });
    expect(kinds(await apply(29, []))).toEqual([]);
    const reopened = await apply(30, [finding()]);
    expect(kinds(reopened)).toEqual(['reopened']);
    expect(reopened.firing[0]).toMatchObject({ state: 'open', last_seen_at: '2026-10-21T06:00:00.000Z' });
    const history = (await alertHistory(tdb.db, tdb.names, finding().fingerprint)).map((e) => e.event);
    expect(history).toEqual(['opened', 'repeated', 'escalated', 'deescalated', 'escalated', 'resolved', 'reopened']);
  });

  it('a statistical rule resolves only after resolveAfterHours without the finding (no flapping at the significance edge)', async () => {
    const rule: RuleId = 'conversion-rate-discrepancy';
    const f = finding('warning', 'off-9', rule);
    const run = (h: number, fs: Finding[]) => apply(h, fs, [rule]);
    expect(tdb.config.rules[rule].resolveAfterHours).toBe(24);
    expect(kinds(await run(0, [f]))).toEqual(['opened']);
    expect(kinds(await run(6, []))).toEqual([]); // missed once: still open, quiet
    expect(kinds(await run(12, [f]))).toEqual([]); // fires again: not a reopen
    expect(kinds(await run(35, []))).toEqual([]); // 23 h since last seen
    expect(kinds(await run(36, []))).toEqual(['resolved']); // 24 h
    expect((await alertHistory(tdb.db, tdb.names, f.fingerprint)).map((e) => e.event)).toEqual(['opened', 'resolved']);
  });

  it('does not resolve alerts of rules that did not run', async () => {
    await apply(0, [finding()]);
    expect(kinds(await apply(1, [], ['stale-source']))).toEqual([]);
    expect((await listAlerts(tdb.db, tdb.names, 'open')).map((a) => a.fingerprint)).toEqual([finding().fingerprint]);
  });

  it('mute silences everything until it ends; a never-notified escalation then notifies', async () => {
    await apply(0, [finding()]);
    const fp = finding().fingerprint;
    await muteAlert(tdb.db, tdb.names, {
      fingerprint: fp.slice(0, 10),
      until: new Date(t0 + 48 * H),
      note: 'known, vendor fixing',
      at: new Date(t0 + H),
    });
    expect(kinds(await apply(30, [finding('critical')]))).toEqual([]); // escalation while muted: silent
    expect(kinds(await apply(40, []))).toEqual([]); // resolution while muted: silent
    expect(kinds(await apply(41, [finding('critical')]))).toEqual([]); // reopen while muted: silent
    expect(kinds(await apply(49, [finding('critical')]))).toEqual(['escalated']); // mute over: critical was never notified
    const [a] = await listAlerts(tdb.db, tdb.names, 'all');
    expect(a.note).toBe('known, vendor fixing');
  });

  it('ack stops repeats but escalation and resolution still notify', async () => {
    await apply(0, [finding()]);
    await ackAlert(tdb.db, tdb.names, { fingerprint: finding().fingerprint, by: 'dana', at: new Date(t0 + H) });
    expect(kinds(await apply(48, [finding()]))).toEqual([]);
    expect(kinds(await apply(49, [finding('critical')]))).toEqual(['escalated']);
    expect(kinds(await apply(50, []))).toEqual(['resolved']);
    const [a] = await listAlerts(tdb.db, tdb.names, 'resolved');
    expect(a.acked_by).toBe('dana');
    // a reopened alert is a new occurrence: the ack does not carry over
    await apply(51, [finding()]);
    expect((await listAlerts(tdb.db, tdb.names, 'open'))[0].acked_at).toBeNull();
  });

  it('resolves fingerprint prefixes of ≥ 8 characters only when unique', async () => {
    await apply(0, [finding('warning', 'a'), finding('warning', 'b')]);
    const fp = finding('warning', 'a').fingerprint;
    expect(await resolveFingerprint(tdb.db, tdb.names, fp.slice(0, 8))).toBe(fp);
    await expect(resolveFingerprint(tdb.db, tdb.names, fp.slice(0, 7))).rejects.toThrow(/8 to 64 hex/);
    await expect(resolveFingerprint(tdb.db, tdb.names, 'ffffffffffff')).rejects.toThrow(/no alert/);
  });
});
