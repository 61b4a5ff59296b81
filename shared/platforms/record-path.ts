/**
 * The value at a zod issue path (or a dotted field split into keys) inside a raw API record, for
 * "got …" in a quarantine reason; undefined where the path leaves the record.
 */
export function valueAt(record: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = record;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}
