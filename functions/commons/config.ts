import { parseConfig } from '#shared/config/load.js';
import type { Config } from '#shared/config/schema.js';
import { MissingEnvironmentError } from './database.js';

let cached: Config | undefined;

/**
 * The deployment's config, passed by the stack as DUALTRACK_CONFIG_JSON (the validated config
 * file; it holds no secrets: thresholds, platforms, migration dates). Parsed once per container.
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  if (!cached) {
    if (!env.DUALTRACK_CONFIG_JSON) throw new MissingEnvironmentError(['DUALTRACK_CONFIG_JSON']);
    cached = parseConfig(JSON.parse(env.DUALTRACK_CONFIG_JSON), 'DUALTRACK_CONFIG_JSON');
  }
  return cached;
}
