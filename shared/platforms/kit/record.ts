import type * as z from 'zod';
import { valueAt } from '../record-path.js';

/**
 * How every connector turns one raw record into one canonical row or one reason (docs/design.md §4:
 * a bad record is quarantined with a reason, its neighbours still load). A mapper validates the
 * record with its zod schema and builds the row; a field that breaks a mapping rule throws
 * `BadField`; `mapRecord` turns either failure into
 *
 *     `<platform> <stream>: [<idKey> <id>: ]<field>: <problem>, got <value>[ (+N more)]`
 *
 * so an operator reading the quarantine sees which record, which field and what arrived.
 */

export type Mapped<T> = { ok: true; row: T } | { ok: false; reason: string };

/** One field of a record that breaks a mapping rule. Thrown inside a mapper's build step. */
export class BadField extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly value: unknown,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'BadField';
  }
}

export interface RecordLabel {
  platform: string;
  stream: string;
  /** The record's own id key (`conversion_id`), named in the reason when the record carries it. */
  idKey?: string;
  /** Last path segments whose values are personal data: a reason says `(redacted)` instead. */
  hidden?: ReadonlySet<string>;
}

const SHOWN_CHARS = 80;

/** A value as a reason shows it: JSON, cut to 80 characters; a missing field says so. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing (field missing)';
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS - 3)}...` : s;
}

function prefix(label: RecordLabel, record: unknown): string {
  const id = label.idKey === undefined ? undefined : valueAt(record, [label.idKey]);
  const named = typeof id === 'string' || typeof id === 'number' ? `: ${label.idKey} ${String(id)}` : '';
  return `${label.platform} ${label.stream}${named}`;
}

function shown(label: RecordLabel, field: string, value: unknown): string {
  const last = field.split('.').pop() ?? field;
  return label.hidden?.has(last) ? '(redacted)' : show(value);
}

/** The reason for one bad field of `record`. */
export function badFieldReason(label: RecordLabel, record: unknown, e: BadField): string {
  return `${prefix(label, record)}: ${e.field}: ${e.problem}, got ${shown(label, e.field, e.value)}`;
}

/** Validates `record` with `schema`; the first issue becomes the reason (with how many more there were). */
export function parseRecord<T>(label: RecordLabel, schema: z.ZodType<T>, record: unknown): Mapped<T> {
  if (record === null || typeof record !== 'object' || Array.isArray(record))
    return {
      ok: false,
      reason: `${label.platform} ${label.stream}: (record): expected an object, got ${show(record)}`,
    };
  const parsed = schema.safeParse(record);
  if (parsed.success) return { ok: true, row: parsed.data };
  const issues = parsed.error.issues;
  const field = issues[0].path.length > 0 ? issues[0].path.map(String).join('.') : '(record)';
  const more = issues.length > 1 ? ` (+${issues.length - 1} more)` : '';
  const value = valueAt(record, issues[0].path);
  return {
    ok: false,
    reason: `${badFieldReason(label, record, new BadField(field, issues[0].message, value))}${more}`,
  };
}

/**
 * Validates and builds one row. Never throws for bad input: a schema failure or a `BadField` is
 * `{ ok: false, reason }`; any other exception is a bug in the mapper and propagates.
 */
export function mapRecord<T, R>(
  label: RecordLabel,
  schema: z.ZodType<T>,
  record: unknown,
  build: (value: T) => R,
): Mapped<R> {
  const parsed = parseRecord(label, schema, record);
  if (!parsed.ok) return parsed;
  try {
    return { ok: true, row: build(parsed.row) };
  } catch (e) {
    if (e instanceof BadField) return { ok: false, reason: badFieldReason(label, record, e) };
    throw e;
  }
}

// ---- field helpers every platform needs ---------------------------------------------------------

/** Trimmed text, or null for null, undefined and blank; a number (sub id `123`) becomes its text. */
export function text(v: string | number | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  const t = typeof v === 'number' ? String(v) : v.trim();
  return t === '' ? null : t;
}

/** A required id: numbers become their text, strings are trimmed. */
export function idText(v: string | number): string {
  return typeof v === 'number' ? String(v) : v.trim();
}

/** A status word through the platform's table (case-insensitive); anything else is a `BadField`. */
export function statusFrom<S extends string>(
  table: Readonly<Record<string, S>>,
  value: string | null | undefined,
  field: string,
  expected = `one of ${Object.keys(table).join(', ')}`,
): S {
  const s = table[(value ?? '').trim().toLowerCase()];
  if (s === undefined) throw new BadField(field, `expected ${expected}`, value);
  return s;
}

/** The first non-blank email of a contact list (`key` names the email field of the platform's contact). */
export function firstEmail<K extends string>(
  contacts: readonly Partial<Record<K, string | null>>[] | null | undefined,
  key: K,
): string | null {
  for (const c of contacts ?? []) {
    const e = text(c[key] ?? null);
    if (e) return e;
  }
  return null;
}

/** An ISO 4217 code (`usd` → `USD`), or a `BadField`. */
export function currencyCode(value: string, field = 'currency'): string {
  const c = value.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(c)) throw new BadField(field, 'expected an ISO 4217 code', value);
  return c;
}
