#!/usr/bin/env node
// `npx dualtrack …`: runs the TypeScript CLI through tsx (TypeScript 7 has no JS emit API; see
// shared/reference toolchain notes), so the same sources serve the CLI, tests and Lambda bundles.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const tsxCli = require.resolve('tsx/cli');
const r = spawnSync(process.execPath, [tsxCli, join(root, 'cli', 'main.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
