import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layout rule of README's table: shared/ holds the domain only. Nothing in shared/ imports from
 * the entry folders (cli/, functions/, infra/, bin/), the dev folder (dev/), bench/ or test/; the
 * entry folders import the domain as `#shared/*`.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUTSIDE = ['cli', 'dev', 'functions', 'infra', 'bin', 'bench', 'test'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** Module specifiers of static and dynamic imports and re-exports. */
function specifiersOf(source: string): string[] {
  const out: string[] = [];
  const re =
    /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** The top-level folder a specifier imported from `file` resolves into, or null for packages. */
function targetFolder(file: string, spec: string): string | null {
  if (spec.startsWith('#shared/')) return 'shared';
  if (!spec.startsWith('.')) return null;
  return relative(root, resolve(dirname(file), spec)).split(/[\\/]/)[0];
}

describe('layout', () => {
  it('finds imports of every form (the check below is live)', () => {
    const src = `import { a } from '../../cli/args.js';\nimport type { B } from "../../dev/x.js";\nexport * from '../../functions/y.js';\nconst m = await import('../../infra/z.js');\nimport '../../test/side.js';`;
    const file = join(root, 'shared', 'rules', 'x.ts');
    expect(specifiersOf(src).map((s) => targetFolder(file, s))).toEqual(['cli', 'dev', 'functions', 'infra', 'test']);
    expect(targetFolder(join(root, 'shared', 'x.ts'), '../test/side.js')).toBe('test');
  });

  it('shared/ imports nothing from the entry folders, dev/, bench/ or test/', () => {
    const bad: string[] = [];
    const files = filesUnder(join(root, 'shared'));
    expect(files.length).toBeGreaterThan(50);
    for (const file of files)
      for (const spec of specifiersOf(readFileSync(file, 'utf8'))) {
        const folder = targetFolder(file, spec);
        if (folder !== null && OUTSIDE.includes(folder)) bad.push(`${relative(root, file)} imports ${spec}`);
      }
    expect(bad).toEqual([]);
  });
});
