/**
 * The one lossless JSON reader. `JSON.parse` turns `"amount": 12.10` into a binary double (and a
 * 64-bit id into a wrong integer) before any code sees it; money must never take that path
 * (docs/design.md §4). So number literals are wrapped in quotes first, and `JSON.parse` hands
 * them over as the exact text the platform sent. Strings are skipped whole (escapes included), so
 * a `notes` text that mentions `"payout": 5` is left alone; invalid JSON stays invalid and
 * `JSON.parse` reports it.
 *
 * `keys` narrows which numbers stay text: only the value of one of those keys, anywhere in the
 * tree (Everflow keeps its money keys as text, because its schemas read ids as numbers). Without
 * `keys` every number stays text (CAKE, Partnerize).
 *
 * Why not Node 22's `JSON.parse` source-text reviver: any reviver made a 12.8 MB reply parse in
 * 1.2–2.6 s against 0.7–0.9 s for this scan plus a plain parse (measured on this project's
 * build machine), and fetch workers parse replies of hundreds of MB.
 */

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function isNumberStart(c: number): boolean {
  return c === 45 /* - */ || (c >= 48 && c <= 57);
}

/** The JSON text with the chosen number literals wrapped in quotes. */
export function quoteNumbers(text: string, keys?: ReadonlySet<string>): string {
  let out = '';
  let copyFrom = 0;
  let i = 0;
  const n = text.length;
  let lastString: string | null = null; // the last string token, when `keys` narrows
  let pendingKey: string | null = null; // the key whose value starts next (`"key" :` just read)
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const start = ++i;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i += 2;
        else if (d === 34) break;
        else i++;
      }
      if (keys) lastString = text.slice(start, i);
      pendingKey = null;
      i++;
      continue;
    }
    if (keys) {
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
    }
    if (isNumberStart(c) && (!keys || (pendingKey !== null && keys.has(pendingKey)))) {
      NUMBER.lastIndex = i;
      const hit = NUMBER.exec(text);
      if (hit) {
        out += `${text.slice(copyFrom, i)}"${hit[0]}"`;
        i += hit[0].length;
        copyFrom = i;
        pendingKey = null;
        continue;
      }
    }
    pendingKey = null;
    lastString = null;
    i++;
  }
  return copyFrom === 0 ? text : out + text.slice(copyFrom);
}

/** `JSON.parse` with the chosen numbers (all, or the values of `keys`) as their literal text. */
export function readJson(text: string, keys?: ReadonlySet<string>): unknown {
  return JSON.parse(quoteNumbers(text, keys));
}
