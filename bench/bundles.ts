import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/**
 * Bundle size of every Lambda entry (functions/*.ts), built the way infra/constructs/
 * dualtrack-function.ts has NodejsFunction bundle it (DEFAULT_BUNDLING): one minified ESM file,
 * target node22, AWS SDK bundled (no externals), keepNames, mainFields module/main, the
 * createRequire banner. The source map is written beside it (sourceMap: true, sourcesContent
 * false) and reported apart: it is not loaded on cold start.
 */

const ESM_REQUIRE_BANNER =
  "import { createRequire as __dtCreateRequire } from 'node:module'; const require = __dtCreateRequire(import.meta.url);";

export interface BundleResult {
  entry: string;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  error?: string;
}

export async function measureBundles(root: string): Promise<BundleResult[]> {
  const entries = readdirSync(join(root, 'functions'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort();
  const out = mkdtempSync(join(tmpdir(), 'dt-bundles-'));
  const results: BundleResult[] = [];
  try {
    for (const f of entries) {
      const outfile = join(out, `${basename(f, '.ts')}.mjs`);
      try {
        await build({
          entryPoints: [join(root, 'functions', f)],
          outfile,
          bundle: true,
          platform: 'node',
          format: 'esm',
          target: 'node22',
          minify: true,
          sourcemap: true,
          sourcesContent: false,
          keepNames: true,
          mainFields: ['module', 'main'],
          external: [],
          banner: { js: ESM_REQUIRE_BANNER },
          logLevel: 'silent',
        });
        const code = readFileSync(outfile);
        results.push({
          entry: `functions/${f}`,
          bytes: code.length,
          gzipBytes: gzipSync(code).length,
          mapBytes: statSync(`${outfile}.map`).size,
        });
      } catch (e) {
        results.push({
          entry: `functions/${f}`,
          bytes: 0,
          gzipBytes: 0,
          mapBytes: 0,
          error: (e as Error).message.split('\n')[0],
        });
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return results;
}
