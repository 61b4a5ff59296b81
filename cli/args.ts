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
  const close = known.find((k) => k.startsWith(name.slice(0, 3)));
  return close ? ` (did you mean --${close}?)` : '';
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
