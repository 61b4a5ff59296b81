/**
 * Statistics the rules need, written out so they can be unit-tested against known values:
 * the complementary error function (W. J. Cody's rational Chebyshev approximations, accurate to
 * ~1e-15 relative over the whole real line, so far-tail p-values like 1e-12 are not rounded to 0
 * the way `1 - Φ(z)` would be), the normal tail, the two-proportion z-test and a Poisson zero.
 */

const A = [3.1611237438705656, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315];
const B = [23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.2368334391704];
const C = [
  0.5641884969886701, 8.883149794388377, 66.11919063714163, 298.63513819740013, 881.9522212417691, 1712.0476126340707,
  2051.0783778260716, 1230.3393547979972, 2.1531153547440383e-8,
];
const D = [
  15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334603, 4362.619090143247,
  3439.3676741437216, 1230.3393548037495,
];
const P = [
  0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275, 6.587491615298378e-4,
  0.016315387137302097,
];
const Q = [2.568520192289822, 1.8729528499234604, 0.5279051029514285, 0.06051834131244132, 0.0023352049762686918];
const SQRPI = 0.5641895835477563; // 1/sqrt(pi)

/** erfc(x) = 1 − erf(x) = (2/√π) ∫ₓ^∞ e^(−t²) dt. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  let result: number;
  if (y <= 0.46875) {
    // erf by a rational function in x², then 1 − erf.
    const ysq = y > 1.11e-16 ? y * y : 0;
    let xnum = A[4] * ysq;
    let xden = ysq;
    for (let i = 0; i < 3; i++) {
      xnum = (xnum + A[i]) * ysq;
      xden = (xden + B[i]) * ysq;
    }
    const erfv = (x * (xnum + A[3])) / (xden + B[3]);
    return 1 - erfv;
  } else if (y <= 4) {
    let xnum = C[8] * y;
    let xden = y;
    for (let i = 0; i < 7; i++) {
      xnum = (xnum + C[i]) * y;
      xden = (xden + D[i]) * y;
    }
    result = (xnum + C[7]) / (xden + D[7]);
    const ysq = Math.trunc(y * 16) / 16;
    const del = (y - ysq) * (y + ysq);
    result = Math.exp(-ysq * ysq) * Math.exp(-del) * result;
  } else if (y >= 26.55) {
    result = 0;
  } else {
    const ysq = 1 / (y * y);
    let xnum = P[5] * ysq;
    let xden = ysq;
    for (let i = 0; i < 4; i++) {
      xnum = (xnum + P[i]) * ysq;
      xden = (xden + Q[i]) * ysq;
    }
    result = (ysq * (xnum + P[4])) / (xden + Q[4]);
    result = (SQRPI - result) / y;
    const ysq2 = Math.trunc(y * 16) / 16;
    const del = (y - ysq2) * (y + ysq2);
    result = Math.exp(-ysq2 * ysq2) * Math.exp(-del) * result;
  }
  return x < 0 ? 2 - result : result;
}

/** Φ(z), the standard normal CDF. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** P(Z ≥ z) for a standard normal, exact in the far tail (no 1 − Φ cancellation). */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

export interface TwoProportionResult {
  z: number;
  /** Two-sided p-value. */
  p: number;
}

/** Pooled two-proportion z-test of x1/n1 vs x2/n2 (two-sided). */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): TwoProportionResult {
  if (n1 <= 0 || n2 <= 0) return { z: 0, p: 1 };
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return { z: 0, p: p1 === p2 ? 1 : 0 };
  const z = (p1 - p2) / se;
  return { z, p: Math.min(1, 2 * normalUpperTail(Math.abs(z))) };
}

/** Sample mean and sample standard deviation (n − 1). */
export function meanAndSd(values: readonly number[]): { mean: number; sd: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, sd: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, sd: NaN };
  const v = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, sd: Math.sqrt(v) };
}

/** P(X = 0) for X ~ Poisson(λ). */
export function poissonZero(lambda: number): number {
  return Math.exp(-lambda);
}
