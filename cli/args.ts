import { UsageError } from './context.js';
import { parseInstant } from '#shared/util/time.js';

export interface FlagSpec {
  /** string: takes a value; boolean: a switch; multi: may repeat (values collected). */
  [flag: string]: 'string' | 'boolean' | 'multi';
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parses `--flag value`, `--flag=value`, switches and positionals against a spec. An unknown flag
 * or a missing value is a UsageError naming it (never ignored).
 */
export function parseArgs(argv: string[], spec: FlagSpec): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown flag --${name}${suggest(name, Object.keys(spec))}`);
    if (kind === 'boolean') {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = a.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      i++;
    }
    if (kind === 'multi') flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
    else {
      if (flags[name] !== undefined) throw new UsageError(`--${name} given twice`);
      flags[name] = value;
    }
  }
  return { flags, positionals };
}

function suggest(name: string, known: string[]): string {
  const close = closest(name, known);
  return close ? ` (did you mean --${close}?)` : '';
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions: form → from is 1). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

/** The known word nearest to `name` if it looks like a typo of it (≤ 2 edits, < half its length), or a prefix of it. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = name.length >= 3 && k.startsWith(name) ? 0.5 : editDistance(name, k);
    if (dist < bestD) {
      best = k;
      bestD = dist;
    }
  }
  return best !== undefined && bestD <= Math.min(2, Math.max(1, Math.floor(best.length / 2))) ? best : undefined;
}

/** A required ISO-8601 instant with a zone, as a Date; a UsageError naming the flag otherwise. */
export function instantFlag(args: ParsedArgs, name: string, required: true): Date;
export function instantFlag(args: ParsedArgs, name: string, required?: false): Date | undefined;
export function instantFlag(args: ParsedArgs, name: string, required = false): Date | undefined {
  const v = args.flags[name];
  if (v === undefined) {
    if (required) throw new UsageError(`--${name} is required (ISO-8601 with a zone, like 2026-10-12T00:00:00Z)`);
    return undefined;
  }
  try {
    return parseInstant(String(v), `--${name}`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
