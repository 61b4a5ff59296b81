import { execFileSync } from 'node:child_process';
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

  it('README\u2019s layout table names every top-level folder of the tree, and only those', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const listed = [...readme.matchAll(/^\| `([a-z]+)\/`\s*\|/gm)].map((m) => m[1]).sort();
    const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((p) => p.includes('/') && !p.startsWith('.'))
      .map((p) => p.split('/')[0]);
    expect(listed).toEqual([...new Set(tracked)].sort());
  });

  it('the four map.ts files repeat no helper of the mapping kit', () => {
    const kit = filesUnder(join(root, 'shared', 'platforms', 'kit')).flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/^export (?:function|class|const) (\w+)/gm)].map((m) => m[1]),
    );
    expect(kit).toEqual(expect.arrayContaining(['BadField', 'mapRecord', 'money', 'redactRaw', 'readJson', 'text']));
    const maps = ['cake', 'everflow', 'hitpath', 'partnerize'].map((k) =>
      join(root, 'shared', 'platforms', k, 'map.ts'),
    );
    const bad: string[] = [];
    for (const file of maps) {
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(/^(?:export )?(?:function|class|const) (\w+)/gm))
        if (kit.includes(m[1])) bad.push(`${relative(root, file)} defines ${m[1]} again`);
      // The kit's concerns: bad-record errors, lossless JSON, exact decimal arithmetic, e-mail detection.
      for (const [what, re] of [
        ['an Error class', /extends Error/],
        ['a JSON parser', /JSON\.parse/],
        ['decimal arithmetic', /BigInt\(/],
        ['an e-mail pattern', /@\[\^\\s@\]/],
      ] as const)
        if (re.test(src)) bad.push(`${relative(root, file)} has ${what} of its own`);
    }
    expect(bad).toEqual([]);
  });
});
