import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '#shared/config/load.js';
import type { Config } from '#shared/config/schema.js';
import { REPO_ROOT } from './paths.js';

export const DEFAULT_CONFIG_PATH = './dualtrack.config.json';
export const EXAMPLE_CONFIG_PATH = join(REPO_ROOT, 'dualtrack.config.example.json');

export interface AppConfig {
  config: Config;
  /** The file read. */
  path: string;
  /** True when no config was named and ./dualtrack.config.json is absent: the example was used. */
  isExample: boolean;
}

/**
 * The config the CDK app synthesizes from: context `config` (`cdk synth -c config=FILE`), else
 * `DUALTRACK_CONFIG`, else `./dualtrack.config.json`. A file that was named explicitly must exist;
 * only the implicit default falls back to the committed example (it holds no secrets), so a fresh
 * clone synthesizes and CI can run cdk-nag without a deployment's config.
 */
export function loadAppConfig(
  contextPath: unknown,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): AppConfig {
  const named = typeof contextPath === 'string' && contextPath !== '' ? contextPath : env.DUALTRACK_CONFIG;
  if (named) return { config: loadConfig(resolve(cwd, named), env), path: named, isExample: false };
  const local = resolve(cwd, DEFAULT_CONFIG_PATH);
  if (existsSync(local)) return { config: loadConfig(local, env), path: DEFAULT_CONFIG_PATH, isExample: false };
  return { config: loadConfig(EXAMPLE_CONFIG_PATH, env), path: EXAMPLE_CONFIG_PATH, isExample: true };
}
