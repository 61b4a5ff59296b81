import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Paths the CDK app needs, resolved from this file rather than the process's working directory, so
 * `cdk synth` from the repo root, vitest, and an app run from elsewhere all bundle the same files.
 */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const LOCK_FILE = join(REPO_ROOT, 'package-lock.json');
export const SQL_DIR = join(REPO_ROOT, 'sql');

/** The entry file of a Lambda under `functions/` (one small file per entry, docs/style.md). */
export function functionEntry(name: string): string {
  return join(REPO_ROOT, 'functions', `${name}.ts`);
}
