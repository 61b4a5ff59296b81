import { readFileSync } from 'node:fs';
import type * as z from 'zod';
import { configSchema, type Config, type PlatformConfig } from './schema.js';

/** Every problem with a config, one per line as `path: message`. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Formats zod issues as `a.b.c: message`, unknown keys one line each with their full path. */
export function formatIssues(error: z.ZodError): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${[...base, key].join('.')}: unknown key`);
    } else if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
      lines.push(`${base.join('.')}: expected one of everflow, hitpath, cake, partnerize`);
    } else {
      lines.push(`${base.length ? base.join('.') : '(root)'}: ${issue.message}`);
    }
  }
  return lines;
}

export function parseConfig(input: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) throw new ConfigError(source, formatIssues(result.error));
  return result.data;
}

/** Reads and validates the config file (`--config`, else `DUALTRACK_CONFIG`, else ./dualtrack.config.json). */
export function loadConfig(path?: string, env: NodeJS.ProcessEnv = process.env): Config {
  const file = path ?? env.DUALTRACK_CONFIG ?? './dualtrack.config.json';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const from = path
        ? ''
        : env.DUALTRACK_CONFIG
          ? ' (named by DUALTRACK_CONFIG)'
          : ' (the default: neither --config nor DUALTRACK_CONFIG is set)';
      throw new ConfigError(file, [
        `no such file${from}. Point at a config with --config FILE or DUALTRACK_CONFIG=FILE; ` +
          "the repository's dualtrack.config.example.json is a starting point (copy it to dualtrack.config.json)",
      ]);
    }
    throw new ConfigError(file, [`cannot read the file: ${code ?? (e as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseConfig(json, file);
}

/**
 * The secret a platform's connector needs, from the environment variable(s) its config names.
 * Partnerize needs two (application key and user API key), joined as `app:user` for Basic auth.
 */
export function platformSecret(key: string, p: PlatformConfig, env: NodeJS.ProcessEnv = process.env): string {
  const need = p.kind === 'partnerize' ? [p.applicationKeyEnv, p.apiKeyEnv] : [p.apiKeyEnv];
  const missing = need.filter((n) => !env[n]);
  if (missing.length)
    throw new ConfigError(
      `platforms.${key}`,
      missing.map((n) => `environment variable ${n} is not set (it holds the ${key} API credentials)`),
    );
  return need.map((n) => env[n]).join(':');
}
