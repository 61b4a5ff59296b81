import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkRow, ROW_LIMITS } from '#shared/model/limits.js';
import { conversionRow } from '../helpers/factories.js';

/** The limits checked before an upsert are the schema's: read them from the SQL and compare. */

const sql = readFileSync(new URL('../../sql/platform/001_platform_tables.sql', import.meta.url), 'utf8');

function columnsOf(table: string): Record<string, string> {
  const body = new RegExp(`CREATE TABLE IF NOT EXISTS \\{\\{db\\}\\}\\.${table} \\(([\\s\\S]*?)\\n\\);`).exec(sql)![1];
  const out: Record<string, string> = {};
  for (const m of body.matchAll(/^\s+(\w+)\s+([A-Z]+(?:\(\d+(?:,\d+)?\))?)/gm)) out[m[1]] = m[2];
  return out;
}

describe('row limits', () => {
  it('match the text and decimal columns of the platform schema', () => {
    for (const [table, limits] of [
      ['conversions', ROW_LIMITS.conversions],
      ['clicks', ROW_LIMITS.clicks],
      ['affiliates', ROW_LIMITS.entities],
    ] as const) {
      const cols = columnsOf(table);
      for (const [col, type] of Object.entries(cols)) {
        const check = limits[col];
        const varchar = /^(?:VARCHAR|CHAR)\((\d+)\)$/.exec(type);
        if (varchar && check?.kind === 'text') expect(check.max, `${table}.${col}`).toBe(Number(varchar[1]));
        if (type === 'DECIMAL(18,6)') expect(check?.kind, `${table}.${col}`).toBe('money');
        if (/^DATETIME/.test(type) && !['first_seen_at', 'updated_at'].includes(col))
          expect(check?.kind, `${table}.${col}`).toBe('time');
      }
      for (const col of Object.keys(limits)) expect(cols[col], `${table}.${col} is a column`).toBeDefined();
    }
  });

  it('names the first value that does not fit', () => {
    const ok = conversionRow({ conversion_id: 'c1' }) as unknown as Record<string, unknown>;
    expect(checkRow('conversions', ok)).toBeNull();
    expect(checkRow('conversions', { ...ok, sub3: '€'.repeat(255) })).toBeNull(); // characters, not bytes
    expect(checkRow('conversions', { ...ok, sub3: '€'.repeat(256) })).toMatchObject({
      field: 'sub3',
      problem: "longer than the column's 255 characters (256)",
    });
    expect(checkRow('conversions', { ...ok, payout: '1000000000000' })).toMatchObject({ field: 'payout' });
    expect(checkRow('conversions', { ...ok, converted_at: '0999-12-31T00:00:00.000Z' })).toMatchObject({
      field: 'converted_at',
      problem: 'outside the DATETIME range (years 1000–9999)',
    });
    expect(checkRow('conversions', { ...ok, status: 'reversed' })).toMatchObject({ field: 'status' });
    expect(checkRow('conversions', { ...ok, currency: 'usd' })).toMatchObject({ field: 'currency' });
    expect(checkRow('conversions', { ...ok, conversion_id: '' })).toMatchObject({
      field: 'conversion_id',
      problem: 'is empty',
    });
    expect(checkRow('affiliates', { id: 'a', name: 'n'.repeat(256), status: 'active', email: null })).toMatchObject({
      field: 'name',
    });
  });
});
