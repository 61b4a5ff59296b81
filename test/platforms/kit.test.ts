import { createHmac } from 'node:crypto';
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { decimalText, money, sumDecimals } from '#shared/platforms/kit/decimal.js';
import { quoteNumbers, readJson } from '#shared/platforms/kit/json.js';
import { countryCode, redactRaw, subId } from '#shared/platforms/kit/personal.js';
import { BadField, mapRecord, statusFrom } from '#shared/platforms/kit/record.js';

const ctx = { hash: (v: string) => createHmac('sha256', 'k').update(v).digest('hex') };

describe('lossless JSON: money never goes through a double', () => {
  it('keeps every number literal as text, leaving strings alone', () => {
    expect(quoteNumbers('{"a":-1.50e3,"b":"x 12 \\"3\\"","c":[0.1,true,null]}')).toBe(
      '{"a":"-1.50e3","b":"x 12 \\"3\\"","c":["0.1",true,null]}',
    );
    expect(readJson('{"a":0.1,"b":[12.10,-3,1e2],"c":"x1.5","d":9007199254740993}')).toEqual({
      a: '0.1',
      b: ['12.10', '-3', '1e2'],
      c: 'x1.5',
      d: '9007199254740993',
    });
  });

  it('with keys, quotes only the number values of those keys (anywhere in the tree)', () => {
    const text =
      '{"payout": 0.1, "x": {"revenue":-12.345e1},"sale_amount" : 999999999999.999999,"notes":"\\"payout\\": 5","count":0.5,"l":["payout", 3]}';
    const keys = new Set(['payout', 'revenue', 'sale_amount']);
    expect(quoteNumbers(text, keys)).toBe(
      '{"payout": "0.1", "x": {"revenue":"-12.345e1"},"sale_amount" : "999999999999.999999","notes":"\\"payout\\": 5","count":0.5,"l":["payout", 3]}',
    );
    const parsed = readJson(text, keys) as Record<string, unknown>;
    expect(parsed.sale_amount).toBe('999999999999.999999');
    expect(parsed.count).toBe(0.5);
  });

  it('invalid JSON stays invalid', () => {
    expect(() => readJson('{"a": 1,')).toThrow(SyntaxError);
  });
});

describe('decimals', () => {
  it('expands exponents by moving the point in the text', () => {
    expect(decimalText('-12.345e1')).toBe('-123.45');
    expect(decimalText('1e-7')).toBe('0.0000001');
    expect(decimalText('1.5E-05')).toBe('0.000015');
    expect(decimalText('1.5E3')).toBe('1500');
    expect(decimalText(' 007.50 ')).toBe('7.50');
    expect(decimalText('-0.0')).toBe('0.0');
    expect(decimalText('+3')).toBe('3');
    for (const bad of ['12,50', '', '$5', '1e', 'NaN', null, true]) expect(decimalText(bad)).toBeNull();
  });

  it('numbers that reached us already parsed keep their shortest round-trip text', () => {
    expect(decimalText(0.1)).toBe('0.1');
    expect(decimalText(1.005)).toBe('1.005');
    expect(decimalText(1e21)).toBe('1000000000000000000000');
    expect(decimalText(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(decimalText(Number.NaN)).toBeNull();
  });

  it('money must fit DECIMAL(18,6): 12 integer digits', () => {
    expect(money('999999999999.999999', 'payout')).toBe('999999999999.999999');
    expect(() => money('1234567890123.5', 'payout')).toThrow(BadField);
    expect(() => money('99999999999999999999', 'revenue')).toThrow(/revenue: out of range for DECIMAL\(18,6\)/);
    expect(() => money('12,50', 'paid.amount')).toThrow(/paid.amount: expected a decimal/);
  });

  it('sums exactly at any scale', () => {
    expect(sumDecimals(['0.1', '0.2'])).toBe('0.3');
    expect(sumDecimals(['10', '-0.005', '999999999999.999999'])).toBe('1000000000009.994999');
    expect(sumDecimals(['-1.5', '0.25'])).toBe('-1.25');
    expect(sumDecimals([])).toBe('0');
  });
});

describe('personal data', () => {
  it('hashes the platform\u2019s keys at any depth and e-mail-looking strings anywhere', () => {
    const raw = {
      a: { device_id: 'D1', list: ['x', 'jo@example.com'] },
      ids: { device_id: ['d2'] },
      n: 3,
      ip: '1.2.3.4',
    };
    expect(redactRaw(raw, ctx, new Set(['device_id']))).toEqual({
      a: { device_id: `hmac:${ctx.hash('D1')}`, list: ['x', `hmac:${ctx.hash('jo@example.com')}`] },
      ids: { device_id: [`hmac:${ctx.hash('d2')}`] },
      n: 3,
      ip: '1.2.3.4',
    });
  });

  it('an e-mail typed into a sub id is stored as its keyed hash; other sub ids as sent', () => {
    expect(subId(' buyer@mail.example ', ctx)).toBe(`hmac:${ctx.hash('buyer@mail.example')}`);
    expect(subId('fb_campaign_12', ctx)).toBe('fb_campaign_12');
    expect(subId(123, ctx)).toBe('123');
    expect(subId('  ', ctx)).toBeNull();
  });

  it('country names resolve to assigned ISO codes, never retired ones', () => {
    const names = ['Russia', 'United Kingdom', 'France', 'Serbia', 'Turkey', 'Hong Kong'];
    expect(names.map(countryCode)).toEqual(['RU', 'GB', 'FR', 'RS', 'TR', 'HK']);
    expect(['Czech Republic', 'Ivory Coast', 'Myanmar', 'United States'].map(countryCode)).toEqual([
      'CZ',
      'CI',
      'MM',
      'US',
    ]);
    expect(['de', 'UK', ' fr '].map(countryCode)).toEqual(['DE', 'GB', 'FR']);
    expect(["Côte d'Ivoire", 'Laos', 'Syria', 'south korea', 'Czechia'].map(countryCode)).toEqual([
      'CI',
      'LA',
      'SY',
      'KR',
      'CZ',
    ]);
    expect(['Atlantis', '', null].map(countryCode)).toEqual([null, null, null]);
  });
});

describe('one bad-record result', () => {
  const schema = z.object({ id: z.string(), amount: z.string(), status: z.string() });
  const label = { platform: 'net', stream: 'conversions', idKey: 'id', hidden: new Set(['email']) };
  const build = (r: z.infer<typeof schema>) => ({
    id: r.id,
    amount: money(r.amount, 'amount'),
    status: statusFrom({ ok: 'approved' }, r.status, 'status'),
  });

  it('names platform, stream, record id, field and value', () => {
    expect(mapRecord(label, schema, { id: 'c1', amount: '1.5', status: 'OK' }, build)).toEqual({
      ok: true,
      row: { id: 'c1', amount: '1.5', status: 'approved' },
    });
    expect(mapRecord(label, schema, { id: 'c2', amount: '1,5', status: 'ok' }, build)).toEqual({
      ok: false,
      reason: 'net conversions: id c2: amount: expected a decimal, got "1,5"',
    });
    expect(mapRecord(label, schema, { id: 'c3', amount: '1', status: 'later' }, build)).toEqual({
      ok: false,
      reason: 'net conversions: id c3: status: expected one of ok, got "later"',
    });
    expect(mapRecord(label, schema, { id: 'c4' }, build)).toEqual({
      ok: false,
      reason:
        'net conversions: id c4: amount: Invalid input: expected string, received undefined, got nothing (field missing) (+1 more)',
    });
    expect(mapRecord(label, schema, 'text', build)).toEqual({
      ok: false,
      reason: 'net conversions: (record): expected an object, got "text"',
    });
  });

  it('never shows a hidden field\u2019s value, and cuts long values', () => {
    const s = z.object({ email: z.email() });
    const r = mapRecord(label, s, { email: 'not-an-email-but-private' }, (x) => x);
    expect(r).toEqual({ ok: false, reason: 'net conversions: email: Invalid email address, got (redacted)' });
    const long = mapRecord(label, schema, { id: 'c5', amount: '9'.repeat(200), status: 'ok' }, build);
    expect(!long.ok && long.reason.length).toBeLessThan(200);
  });

  it('an error that is not a bad field is a bug and propagates', () => {
    expect(() =>
      mapRecord(label, schema, { id: 'c6', amount: '1', status: 'ok' }, () => {
        throw new TypeError('boom');
      }),
    ).toThrow(TypeError);
  });
});
