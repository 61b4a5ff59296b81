import { describe, expect, it } from 'vitest';
import { emailDomain, matchScore, nameSimilarity, normalizeName } from '#shared/migration/matching.js';
import { sparkline } from '#shared/migration/digest-format.js';
import { toCsv, toTable, flatten } from '../../cli/output.js';
import { readCsv } from '#shared/migration/csv-file.js';
import { stateOn } from '#shared/migration/reports.js';

describe('normalizeName', () => {
  it.each([
    ['Acme Media, LLC', 'acme media'],
    ['ACME MEDIA L.L.C.', 'acme media'],
    ['Acme Media Pty Ltd', 'acme media'],
    ['Société Générale S.A.', 'societe generale'],
    ['Müller & Söhne GmbH', 'muller and sohne'],
    ["O'Brien's Deals, Inc.", 'obriens deals'],
    ['  Blue---Fox   Co  ', 'blue fox'],
    ['Inc', 'inc'],
    ['Coach Media', 'coach media'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeName(input)).toBe(expected);
  });

  it('keeps legal words that are not at the end', () => {
    expect(normalizeName('Limited Edition Offers')).toBe('limited edition offers');
  });
});

describe('matchScore', () => {
  it('ranks email and name signals', () => {
    expect(
      matchScore({ name: 'Acme Media LLC', email: 'Ops@Acme.io' }, { name: 'ACME MEDIA', email: 'ops@acme.io' }),
    ).toEqual({ confidence: 0.99, reason: 'same email and name' });
    expect(
      matchScore({ name: 'Acme', email: 'ops@acme.io' }, { name: 'Totally Else', email: 'OPS@acme.io' }).confidence,
    ).toBe(0.95);
    expect(
      matchScore({ name: 'Acme Media Inc.', email: null }, { name: 'acme media', email: 'x@y.com' }).confidence,
    ).toBe(0.9);
    expect(
      matchScore({ name: 'Acme Media Group', email: 'a@acme.io' }, { name: 'Acme Media', email: 'b@acme.io' }).reason,
    ).toBe('same email domain, similar name');
    expect(matchScore({ name: 'One', email: 'a@acme.io' }, { name: 'Two', email: 'b@acme.io' }).confidence).toBe(0.6);
    // A webmail domain says nothing about the company.
    expect(matchScore({ name: 'One', email: 'a@gmail.com' }, { name: 'Two', email: 'b@gmail.com' }).confidence).toBe(0);
    expect(nameSimilarity('Blue Fox Media', 'Blue Fox')).toBeCloseTo(2 / 3);
    expect(emailDomain(' X@Example.COM ')).toBe('example.com');
    expect(emailDomain('not-an-email')).toBeNull();
  });
});

describe('sparkline', () => {
  it('scales from ▁ to █', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([10, 10, 10])).toBe('▄▄▄');
    expect(sparkline([0, 0])).toBe('▁▁');
    expect(sparkline([])).toBe('');
    expect([...sparkline([5, 100, 0])]).toEqual(['▁', '█', '▁']);
  });
});

describe('report output', () => {
  const rows = [
    { affiliate: { hitpath: '1001', everflow: '57' }, name: 'A, "quoted"', revenue: '12.50', tier: 1 },
    { affiliate: { cake: '9' }, name: null, revenue: '3.00', tier: null },
  ];
  it('CSV flattens nested objects into dotted columns and quotes by RFC 4180', () => {
    expect(toCsv(rows)).toBe(
      'affiliate.hitpath,affiliate.everflow,name,revenue,tier,affiliate.cake\r\n1001,57,"A, ""quoted""",12.50,1,\r\n,,,3.00,,9\r\n',
    );
    expect(flatten({ a: { b: { c: 1 } }, d: [1, 2] })).toEqual({ 'a.b.c': 1, d: '[1,2]' });
  });
  it('CSV neutralises cells a spreadsheet would run as formulas, not negative numbers', () => {
    const out = toCsv([
      { name: '=HYPERLINK("http://x","click")', a: '+1+1', b: '-2+3', c: '@SUM(A1)', d: '-12.50', e: '+3', f: 'ok' },
    ]);
    expect(out.split('\r\n')[1]).toBe(`"'=HYPERLINK(""http://x"",""click"")",'+1+1,'-2+3,'@SUM(A1),-12.50,+3,ok`);
  });
  it('the table aligns columns and right-aligns numbers', () => {
    const t = toTable(rows).split('\n');
    expect(t[0]).toMatch(/^affiliate\s+name\s+revenue\s+tier$/);
    expect(t[2]).toContain('hitpath 1001 / everflow 57');
    expect(t[3]).toMatch(/cake 9\s+-\s+3\.00\s+-$/);
  });
});

describe('readCsv', () => {
  it('reports line numbers through blank lines and quoted line breaks', () => {
    const r = readCsv('a,b\n1,2\n\n"x\ny",3\n4\n', ['a', 'b']);
    expect(r.records.map((x) => x.line)).toEqual([2, 5]);
    expect(r.problems).toEqual([{ line: 6, message: 'expected 2 fields (a,b), got 1' }]);
  });
});

describe('stateOn', () => {
  it('is the last change on or before the day, legacy-only before any', () => {
    const a = {
      changes: [
        { on: '2026-03-10', from: 'legacy-only' as const, to: 'dual' as const },
        { on: '2026-03-16', from: 'dual' as const, to: 'migrated' as const },
      ],
    };
    expect(stateOn(a, '2026-03-09')).toBe('legacy-only');
    expect(stateOn(a, '2026-03-10')).toBe('dual');
    expect(stateOn(a, '2026-03-20')).toBe('migrated');
  });
});
