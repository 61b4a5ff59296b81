/**
 * Everflow sends money as JSON numbers (`"payout": 12.5`). `JSON.parse` would turn them into
 * doubles, and a double cannot hold most decimal amounts (`1.005`, `999999999999.999999`), so
 * the damage happens before any of our code sees the value. Node 20 has no `JSON.parse` source
 * text access, so this module rewrites the JSON text first: a number literal that is the value of
 * a money key (`payout`, `revenue`, `sale_amount`, anywhere in the tree) is wrapped in quotes and
 * reaches the mapper as the exact digits the platform sent. The same idea as tap-everflow's
 * `response.json(parse_float=decimal.Decimal)`.
 *
 * The rewrite is a small JSON scanner (strings with escapes are skipped as a whole, so a `notes`
 * text that mentions `"payout": 5` is left alone); it never validates — invalid JSON stays invalid
 * and `JSON.parse` reports it.
 */

export const MONEY_KEYS: ReadonlySet<string> = new Set(['payout', 'revenue', 'sale_amount']);

const NUMBER_CHAR = /[0-9eE+\-.]/;

export function quoteMoneyNumbers(text: string, keys: ReadonlySet<string> = MONEY_KEYS): string {
  const out: string[] = [];
  let copyFrom = 0;
  let i = 0;
  const n = text.length;
  let lastString: string | null = null; // the raw text of the last string token
  let pendingKey: string | null = null; // set after `"key" :` until the value starts
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const start = i + 1;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i += 2;
        else if (d === 34) break;
        else i++;
      }
      lastString = text.slice(start, i);
      pendingKey = null;
      i++;
      continue;
    }
    if (c === 58 /* : */) {
      pendingKey = lastString;
      lastString = null;
      i++;
      continue;
    }
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++;
      continue;
    }
    if (pendingKey !== null && keys.has(pendingKey) && (c === 45 /* - */ || (c >= 48 && c <= 57))) {
      const start = i;
      while (i < n && NUMBER_CHAR.test(text[i])) i++;
      out.push(text.slice(copyFrom, start), '"', text.slice(start, i), '"');
      copyFrom = i;
      pendingKey = null;
      continue;
    }
    pendingKey = null;
    lastString = null;
    i++;
  }
  if (copyFrom === 0) return text;
  out.push(text.slice(copyFrom));
  return out.join('');
}

/** `JSON.parse` with money kept as the exact decimal text (see above). Throws SyntaxError like JSON.parse. */
export function parseEverflowJson(text: string): unknown {
  return JSON.parse(quoteMoneyNumbers(text));
}

const DECIMAL = /^[+-]?(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * A decimal text (`"12.50"`, `"-0.1"`, `"1.5E3"`, `"1e-7"`) → plain decimal digits (`"12.50"`,
 * `"-0.1"`, `"1500"`, `"0.0000001"`), by moving the decimal point in the string — no float
 * arithmetic. Returns null when the text is not a decimal number.
 */
export function normalizeDecimalText(s: string): string | null {
  const m = DECIMAL.exec(s.trim());
  if (!m) return null;
  const neg = s.trim().startsWith('-');
  let int = m[1];
  let frac = m[2] ?? '';
  const exp = m[3] ? Number(m[3]) : 0;
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
  int = int.replace(/^0+(?=\d)/, '');
  if (int === '') int = '0';
  const digits = frac === '' ? int : `${int}.${frac}`;
  const isZero = /^[0.]*$/.test(digits);
  return neg && !isZero ? `-${digits}` : digits;
}

/**
 * A JS number → decimal text, for a record that reached us already parsed (not through
 * `parseEverflowJson`). `String(n)` is the shortest text that round-trips to the same double, so
 * `0.1` stays `"0.1"` (not `0.1000000000000000055…`); exponent forms are expanded by
 * `normalizeDecimalText`. It cannot undo damage already done (a value that was `0.1 + 0.2` stays
 * `"0.30000000000000004"`), which is why the client keeps the JSON text instead.
 */
export function numberToDecimalText(n: number): string | null {
  if (!Number.isFinite(n)) return null;
  return normalizeDecimalText(String(n));
}
