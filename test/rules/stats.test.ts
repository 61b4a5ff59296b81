import { describe, expect, it } from 'vitest';
import { erfc, meanAndSd, normalCdf, normalUpperTail, poissonZero, twoProportionZTest } from '#shared/rules/stats.js';
import { divMicros, formatMoney, fromMicros, sumMoney, toMicros } from '#shared/rules/money.js';

describe('erfc and the normal CDF', () => {
  it('matches reference values across all three approximation ranges', () => {
    // Reference values: Abramowitz & Stegun / high-precision tables.
    const cases: [number, number][] = [
      [0, 1],
      [0.1, 0.8875370839817152],
      [0.46875, 0.5073865267820618],
      [0.5, 0.4795001221869535],
      [1, 0.15729920705028513],
      [2, 0.004677734981047266],
      [3, 2.209049699858544e-5],
      [4, 1.541725790028002e-8],
      [5, 1.5374597944280349e-12],
      [10, 2.088487583762545e-45],
      [-1, 1.8427007929497148],
    ];
    for (const [x, want] of cases) expect(Math.abs(erfc(x) - want) / want).toBeLessThan(1e-12);
    expect(erfc(30)).toBe(0);
  });
  it('gives Φ and the upper tail without cancellation', () => {
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 12);
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316301, 14);
    // 1 - Φ(9) would round to ~0; the tail keeps its digits.
    expect(normalUpperTail(9) / 1.1285884059538425e-19).toBeCloseTo(1, 10);
  });
  it('two-proportion z-test and Poisson zero', () => {
    const r = twoProportionZTest(100, 1000, 70, 1000);
    expect(r.z).toBeCloseTo(2.405394, 5);
    expect(r.p).toBeCloseTo(0.01615503207374, 12);
    expect(twoProportionZTest(5, 100, 5, 100).p).toBe(1);
    expect(poissonZero(Math.log(1000))).toBeCloseTo(0.001, 12);
    const { mean, sd } = meanAndSd([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(mean).toBe(5);
    expect(sd).toBeCloseTo(2.138089935, 8);
  });
});

describe('decimal money', () => {
  it('adds exactly where floats would not', () => {
    expect(fromMicros(sumMoney(['0.1', '0.2']))).toBe('0.30');
    expect(fromMicros(sumMoney(Array(1000).fill('0.01')), 6)).toBe('10.000000');
    expect(fromMicros(toMicros('-12.345'))).toBe('-12.35');
    expect(fromMicros(divMicros(toMicros('10'), 3), 6)).toBe('3.333333');
    expect(formatMoney(toMicros('1234567.5'))).toBe('1,234,567.50');
    expect(() => toMicros('12,50')).toThrow(/not a decimal/);
  });
});
