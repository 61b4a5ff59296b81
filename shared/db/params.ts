import type { Params, SqlScalar } from './port.js';

/**
 * Expands array parameters into numbered scalars, because neither the Data API ("Array parameters
 * are not supported") nor a prepared statement binds an array: `IN (:ids)` with ids = ['a','b']
 * becomes `IN (:ids__0, :ids__1)`. An empty array becomes `IN (NULL)`, which matches nothing.
 * Parameter names inside quoted strings are left alone.
 */
export function expandArrayParams(
  sql: string,
  params: Params = {},
): { sql: string; params: Record<string, SqlScalar> } {
  // Fast path: most statements (every bulk upsert, with thousands of parameters) have no array, and
  // copying them all into a new object cost about as much as a click's whole parse + validate.
  let hasArray = false;
  for (const k in params) {
    if (Array.isArray(params[k])) {
      hasArray = true;
      break;
    }
  }
  if (!hasArray) return { sql, params: params as Record<string, SqlScalar> };
  const out: Record<string, SqlScalar> = {};
  const arrays = new Map<string, readonly SqlScalar[]>();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) arrays.set(k, v);
    else out[k] = v as SqlScalar;
  }
  if (arrays.size === 0) return { sql, params: out };
  const text = mapOutsideQuotes(sql, (segment) =>
    segment.replace(/(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)/g, (m, name: string) => {
      const arr = arrays.get(name);
      if (!arr) return m;
      if (arr.length === 0) return 'NULL';
      return arr
        .map((v, i) => {
          out[`${name}__${i}`] = v;
          return `:${name}__${i}`;
        })
        .join(', ');
    }),
  );
  return { sql: text, params: out };
}

/** Names of the `:params` a statement uses (outside quotes), in order of first use. */
export function namedParamsIn(sql: string): string[] {
  const names: string[] = [];
  mapOutsideQuotes(sql, (segment) => {
    for (const m of segment.matchAll(/(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)/g))
      if (!names.includes(m[1])) names.push(m[1]);
    return segment;
  });
  return names;
}

/** Applies `fn` to the parts of `sql` that are not inside '…', "…" or `…` quotes or comments. */
export function mapOutsideQuotes(sql: string, fn: (segment: string) => string): string {
  let out = '';
  let i = 0;
  let start = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`') {
      out += fn(sql.slice(start, i));
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === '\\' && c !== '`') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
      start = i;
    } else if (c === '-' && sql[i + 1] === '-') {
      out += fn(sql.slice(start, i));
      const j = sql.indexOf('\n', i);
      const end = j === -1 ? sql.length : j;
      out += sql.slice(i, end);
      i = end;
      start = i;
    } else i++;
  }
  out += fn(sql.slice(start));
  return out;
}

/** Splits a multi-statement SQL file on `;` at statement ends (outside quotes and comments). */
export function splitStatements(sqlText: string): string[] {
  const marker = '\u0000';
  const marked = mapOutsideQuotes(sqlText, (seg) => seg.replace(/;/g, marker));
  return marked
    .split(marker)
    .map((s) => s.replace(/^\s*(--[^\n]*\n\s*)*/g, '').trim())
    .filter((s) => s.length > 0 && !/^(--[^\n]*\s*)+$/.test(s));
}
