/**
 * Time helpers. Inside dualtrack every time is UTC. A platform's local wall-clock time is turned
 * into UTC once, at the connector, with the platform's IANA zone (`zonedToUtc`), DST-correct.
 */

/** `2026-10-12T13:02:11.000Z` → `2026-10-12 13:02:11.000` (what DATETIME(3) columns and the Data API TIMESTAMP hint take). */
export function toSqlDateTime(d: Date | string | number): string {
  const iso = new Date(d).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

/** A DATETIME string from the database (UTC by convention) → ISO-8601 with Z. */
export function fromSqlDateTime(s: string): string {
  const [date, time = '00:00:00'] = s.split(' ');
  const [hms, frac = ''] = time.split('.');
  return `${date}T${hms}.${(`${frac}000`).slice(0, 3)}Z`;
}

/** Parses an ISO-8601 instant that carries a zone (`Z` or `±hh:mm`); throws naming the input otherwise. */
export function parseInstant(s: string, what = 'time'): Date {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(s)) {
    throw new Error(`${what}: expected ISO-8601 with a zone, like 2026-10-12T00:00:00Z (got ${JSON.stringify(s)})`);
  }
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new Error(`${what}: not a valid time (got ${JSON.stringify(s)})`);
  return d;
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();
function partsIn(zone: string, ms: number): number[] {
  let f = offsetFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    offsetFormatters.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return [Number(p.year), Number(p.month), Number(p.day), Number(p.hour), Number(p.minute), Number(p.second)];
}

const QUARTER_HOUR = 900_000;
const offsetCache = new Map<string, number>();

/**
 * The zone's offset from UTC at instant `ms`, in milliseconds (New York in winter: -5 h).
 * Every IANA transition since 1970 falls on a quarter hour, so offsets are cached per zone and
 * quarter hour: Intl formatting is slow, and connectors and simulators convert every record.
 */
export function zoneOffsetMs(zone: string, ms: number): number {
  const bucket = Math.floor(ms / QUARTER_HOUR);
  const key = `${zone}|${bucket}`;
  const hit = offsetCache.get(key);
  if (hit !== undefined) return hit;
  const at = bucket * QUARTER_HOUR;
  const [y, mo, d, h, mi, s] = partsIn(zone, at);
  const offset = Date.UTC(y, mo - 1, d, h, mi, s) - at;
  if (offsetCache.size > 200_000) offsetCache.clear();
  offsetCache.set(key, offset);
  return offset;
}

/**
 * A wall-clock time in `zone` → the UTC instant. In the autumn DST overlap (01:30 happens twice)
 * the earlier instant is chosen; in the spring gap (02:30 does not exist) the time is moved
 * forward by the gap, as platforms that log in local time effectively do.
 */
export function zonedToUtc(zone: string, y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): Date {
  const wall = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const o1 = zoneOffsetMs(zone, wall);
  const o2 = zoneOffsetMs(zone, wall - o1);
  // Candidates: with the offset before and after a transition; keep the ones that round-trip.
  const candidates = [wall - o1, wall - o2].filter((t) => t + zoneOffsetMs(zone, t) === wall).sort((a, b) => a - b);
  if (candidates.length > 0) return new Date(candidates[0]);
  return new Date(wall - Math.min(o1, o2)); // spring-forward gap
}

/** Parses a local wall-clock string (`2026-11-01 01:30:00`, `2026-11-01T01:30:00.250`, `11/1/2026 1:30:00 AM`) in `zone`. */
export function parseLocalTime(s: string, zone: string): Date | null {
  let m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$/.exec(s.trim());
  if (m) {
    const [y, mo, d, h, mi, sec] = [+m[1], +m[2], +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)];
    if (!validWallClock(y, mo, d, h, mi, sec)) return null;
    const frac = m[7] ? Number(`${m[7]}00`.slice(0, 3)) : 0;
    return zonedToUtc(zone, y, mo, d, h, mi, sec, frac);
  }
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(AM|PM)?)?$/i.exec(s.trim());
  if (m) {
    let h = +(m[4] ?? 0);
    const ampm = m[7]?.toUpperCase();
    if (ampm && (h < 1 || h > 12)) return null;
    if (ampm === 'PM' && h < 12) h += 12;
    if (ampm === 'AM' && h === 12) h = 0;
    const [y, mo, d, mi, sec] = [+m[3], +m[1], +m[2], +(m[5] ?? 0), +(m[6] ?? 0)];
    if (!validWallClock(y, mo, d, h, mi, sec)) return null;
    return zonedToUtc(zone, y, mo, d, h, mi, sec);
  }
  return null;
}

/**
 * A wall-clock date and time that exists on the calendar: month 1–12, a day the month has (leap
 * years included), hour < 24, minute and second < 60. `2026-02-30` or `2026-13-45 99:00` is a bad
 * value, never rolled over into another date.
 */
export function validWallClock(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

/** The wall-clock date-time of a UTC instant in `zone`, as `YYYY-MM-DD HH:MM:SS` (for APIs that take local times). */
export function formatInZone(d: Date, zone: string): string {
  // The wall clock is the instant shifted by the zone's (cached) offset, read as UTC.
  const iso = new Date(d.getTime() + zoneOffsetMs(zone, d.getTime())).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
