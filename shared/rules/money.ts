/**
 * Decimal money arithmetic on strings (docs/design.md §4: never JS floats). Values are scaled to
 * micro-units (6 decimals, the DECIMAL(18,6) columns' scale) as BigInt, so sums are exact.
 */

const SCALE = 6;
const FACTOR = 10n ** BigInt(SCALE);

export class MoneyFormatError extends Error {
  constructor(value: unknown) {
    super(`not a decimal amount: ${JSON.stringify(value)}`);
    this.name = 'MoneyFormatError';
  }
}

/** "12.5" → 12500000n (micro-units). Extra decimals beyond 6 are truncated toward zero. */
export function toMicros(value: string | number | null | undefined): bigint {
  if (value === null || value === undefined || value === '') return 0n;
  const s = typeof value === 'number' ? String(value) : value.trim();
  const m = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new MoneyFormatError(value);
  const whole = BigInt(m[2] || '0');
  const frac = BigInt(`${m[3] ?? ''}000000`.slice(0, SCALE));
  const v = whole * FACTOR + frac;
  return m[1] === '-' ? -v : v;
}

/** Micro-units → decimal string with `decimals` places (half away from zero). */
export function fromMicros(v: bigint, decimals = 2): string {
  const neg = v < 0n;
  let abs = neg ? -v : v;
  const drop = 10n ** BigInt(SCALE - decimals);
  abs = (abs + drop / 2n) / drop;
  const unit = 10n ** BigInt(decimals);
  const whole = abs / unit;
  const frac = abs % unit;
  const text = decimals > 0 ? `${whole}.${frac.toString().padStart(decimals, '0')}` : `${whole}`;
  return neg && abs !== 0n ? `-${text}` : text;
}

export function sumMoney(values: Iterable<string | number | null | undefined>): bigint {
  let total = 0n;
  for (const v of values) total += toMicros(v);
  return total;
}

/** a / n rounded half away from zero, in micro-units. */
export function divMicros(a: bigint, n: number | bigint): bigint {
  const d = BigInt(n);
  if (d === 0n) throw new RangeError('division by zero');
  const neg = a < 0n !== d < 0n;
  const q = ((a < 0n ? -a : a) * 2n + (d < 0n ? -d : d)) / (2n * (d < 0n ? -d : d));
  return neg ? -q : q;
}

/** Money for humans in summaries: "1,234.50". */
export function formatMoney(v: bigint): string {
  const s = fromMicros(v, 2);
  const [w, f] = s.replace('-', '').split('.');
  return `${s.startsWith('-') ? '-' : ''}${w.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${f}`;
}

/** Float view of a micro amount, only for statistics (never stored or summed as money). */
export function microsToNumber(v: bigint): number {
  return Number(v) / 1e6;
}
