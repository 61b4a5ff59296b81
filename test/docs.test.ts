import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Every comment that cites the design cites a file a clone has: `docs/<name>.md`, optionally with
 * sections (`§6`, `§1.2–1.3`, `§1, §5`), and each cited section exists as a heading of that file.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CITATION = /docs\/([a-z0-9-]+)\.md((?:[ ,]*(?:and )?§\d+(?:\.\d+)*(?:[–-]\d+(?:\.\d+)*)?)*)/g;

/** Section numbers cited after a file name: "§1.2–1.3, §5" → ["1.2", "1.3", "5"]. */
function sectionsOf(tail: string): string[] {
  const out: string[] = [];
  for (const m of tail.matchAll(/§(\d+(?:\.\d+)*)(?:[–-](\d+(?:\.\d+)*))?/g)) {
    out.push(m[1]);
    if (m[2]) out.push(m[2]);
  }
  return out;
}

/** Section numbers of a markdown file's headings (`## 6. Rules`, `### 1.3 Record shapes`, `#### 1.1 …`). */
function headingsOf(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/^#{2,4}\s+(?:PART \d+ — )?(\d+(?:\.\d+)*)\.?\s/gm)) out.add(m[1]);
  return out;
}

function brokenCitations(files: { path: string; text: string }[], docs: (name: string) => string | null) {
  const broken: string[] = [];
  for (const f of files)
    for (const m of f.text.matchAll(CITATION)) {
      const doc = docs(m[1]);
      if (doc === null) {
        broken.push(`${f.path}: docs/${m[1]}.md does not exist`);
        continue;
      }
      const heads = headingsOf(doc);
      for (const s of sectionsOf(m[2])) if (!heads.has(s)) broken.push(`${f.path}: docs/${m[1]}.md has no §${s}`);
    }
  return broken;
}

const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((p) => /\.(ts|js|md|sql|json)$|^\.ci\/run$/.test(p) && !p.startsWith('docs/') && existsSync(join(root, p)))
  // this file's own examples cite sections that do not exist, on purpose
  .filter((p) => p !== 'test/docs.test.ts');
const readDoc = (name: string) => {
  const p = join(root, 'docs', `${name}.md`);
  return existsSync(p) ? readFileSync(p, 'utf8') : null;
};

describe('citations of the design', () => {
  it('finds a wrong section or a missing file (the check is live)', () => {
    const docs = (n: string) => (n === 'design' ? '## 6. Rules\n### 6.1 Sub\n' : null);
    expect(
      brokenCitations(
        [{ path: 'x.ts', text: '// docs/design.md §6, docs/design.md §6.1–6.2, docs/design.md §7; docs/nope.md' }],
        docs,
      ),
    ).toEqual([
      'x.ts: docs/design.md has no §6.2',
      'x.ts: docs/design.md has no §7',
      'x.ts: docs/nope.md does not exist',
    ]);
  });

  it('every docs/*.md citation in the repository resolves to a file and its sections', () => {
    const files = tracked.map((p) => ({ path: p, text: readFileSync(join(root, p), 'utf8') }));
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => new RegExp(CITATION.source).test(f.text)).length).toBeGreaterThan(40);
    expect(brokenCitations(files, readDoc)).toEqual([]);
  });

  it('no comment cites a design document outside the repository', () => {
    const outside =
      /(?<![\w/.-])(DESIGN|STYLE)\.md|(?<![\w/.-])(platform-apis|aws-limits|toolchain)\.md|\.\.\/shared\//;
    const bad = tracked.filter((p) => outside.test(readFileSync(join(root, p), 'utf8')));
    expect(bad).toEqual([]);
  });
});
