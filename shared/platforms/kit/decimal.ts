import { BadField } from './record.js';

/**
 * The one decimal normaliser of the connectors. Money arrives as the exact text the platform sent
 * (`readJson` keeps JSON number literals as text; CSV and XML are text already) and leaves as
 * plain decimal text for a DECIMAL(18,6) column: the point is moved in the string, never through a
 * double (docs/design.md §4).
 */

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
/** DECIMAL(18,6) holds 12 integer digits. */
export const MAX_INTEGER_DIGITS = 12;

/**
 * Decimal text (`"12.50"`, `"-0.1"`, `"1.5E3"`, `"1e-7"`, `"007.50"`) → plain decimal text
 * (`"12.50"`, `"-0.1"`, `"1500"`, `"0.0000001"`, `"7.50"`); null when it is not a decimal. A JS
 * number (a record parsed outside our readers) goes through `String(n)`, the shortest text that
 * round-trips to the same double: it cannot undo damage already done, which is why the readers
 * keep the text.
 */
export function decimalText(value: unknown): string | null {
  let s: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    s = String(value);
  } else if (typeof value === 'string') s = value.trim();
  else return null;
  const m = DECIMAL.exec(s);
  if (!m) return null;
  const [, sign, whole, fraction = '', exponent] = m;
  let int = whole;
  let frac = fraction;
  const exp = exponent === undefined ? 0 : Number(exponent);
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > 400) return null;
  if (exp > 0) {
    const moved = frac.padEnd(exp, '0');
    int += moved.slice(0, exp);
    frac = moved.slice(exp);
  } else if (exp < 0) {
    const padded = int.padStart(-exp + 1, '0');
    frac = padded.slice(padded.length + exp) + frac;
    int = padded.slice(0, padded.length + exp);
  }
  int = int.replace(/^0+(?=\d)/, '') || '0';
  const digits = frac === '' ? int : `${int}.${frac}`;
  return sign === '-' && !/^[0.]*$/.test(digits) ? `-${digits}` : digits;
}

/** Money for a DECIMAL(18,6) column, or a `BadField` naming `field`: not a decimal, or out of range. */
export function money(value: unknown, field: string): string {
  const d = decimalText(value);
  if (d === null) throw new BadField(field, 'expected a decimal', value);
  if (d.replace(/^-/, '').split('.')[0].replace(/^0+/, '').length > MAX_INTEGER_DIGITS)
    throw new BadField(field, 'out of range for DECIMAL(18,6)', value);
  return d;
}

/** The exact sum of decimal texts (any scale), as decimal text: BigInt units, never doubles. */
export function sumDecimals(values: readonly string[]): string {
  let scale = 0;
  const parts = values.map((v) => {
    const neg = v.startsWith('-');
    const [int, frac = ''] = v.replace(/^[+-]/, '').split('.');
    scale = Math.max(scale, frac.length);
    return { units: BigInt(int + frac) * (neg ? -1n : 1n), scale: frac.length };
  });
  let units = 0n;
  for (const p of parts) units += p.units * 10n ** BigInt(scale - p.scale);
  const neg = units < 0n;
  const digits = (neg ? -units : units).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return neg ? `-${text}` : text;
}
