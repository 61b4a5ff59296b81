/**
 * JSON with every number literal kept as its source text. Node 20's `JSON.parse` turns
 * `"amount": 12.10` into a binary double (and 64-bit ids into wrong integers) before any code sees
 * it; money must never take that path (docs/design.md §4). So every number literal outside strings is
 * wrapped in quotes first, and `JSON.parse` hands it over as the exact text the platform sent.
 * Strings are copied verbatim (escapes included), so a `"12.5"` that was already a string stays one.
 * Used by connectors whose replies carry money as JSON numbers (CAKE, Partnerize); Everflow's
 * `wire.ts` quotes only its money fields, since its schemas read ids as numbers.
 */

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Wraps every JSON number literal outside strings in quotes. */
export function quoteJsonNumbers(text: string): string {
  let out = '';
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i += 2;
        else if (d === 34) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      NUMBER.lastIndex = i;
      const hit = NUMBER.exec(text);
      if (hit) {
        out += `${text.slice(last, i)}"${hit[0]}"`;
        i += hit[0].length;
        last = i;
        continue;
      }
    }
    i++;
  }
  return out + text.slice(last);
}

/** `JSON.parse` with numbers as their literal text; a body that does not parse throws SyntaxError. */
export function parseJsonKeepingNumbers(text: string): unknown {
  return JSON.parse(quoteJsonNumbers(text));
}
