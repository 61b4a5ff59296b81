/**
 * A small seeded PRNG (mulberry32) and the sampling helpers the scenario generator needs. It is
 * fast (one 32-bit state, a few integer ops per draw) and, unlike `Math.random`, reproducible:
 * the same seed gives the same sequence on every Node version, which is what makes a scenario a
 * pure function of its options. Not for anything security-related.
 */

const HEX_BUF = Buffer.alloc(64);

export class Prng {
  private state: number;

  constructor(seed: number) {
    // Mix the seed once so that nearby seeds (1, 2, 3) do not start with correlated outputs.
    this.state = mix32((seed >>> 0) ^ 0x9e3779b9) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniformly random unsigned 32-bit integer. */
  uint32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }

  /** Integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`Prng.int: empty range [${lo}, ${hi}]`);
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Uniform in [lo, hi). */
  float(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Prng.pick: empty list');
    return items[Math.floor(this.next() * items.length)];
  }

  /** Index drawn with probability proportional to `weights[i]` (all ≥ 0, not all 0). */
  weightedIndex(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    if (!(total > 0)) throw new Error('Prng.weightedIndex: weights sum to 0');
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** Standard normal (Box–Muller). */
  gaussian(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /**
   * Poisson(λ): Knuth's product method below λ = 30 (exact, ~λ draws), a rounded normal above it
   * (the scenario only needs realistic counts there, and it keeps large streams O(1)).
   */
  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda < 30) {
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = this.next();
      while (p > limit) {
        k++;
        p *= this.next();
      }
      return k;
    }
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.gaussian()));
  }

  /** Binomial(n, p): direct for small n, normal approximation (clamped to [0, n]) for large n. */
  binomial(n: number, p: number): number {
    if (n <= 0 || p <= 0) return 0;
    if (p >= 1) return n;
    if (n < 50) {
      let k = 0;
      for (let i = 0; i < n; i++) if (this.next() < p) k++;
      return k;
    }
    const x = Math.round(n * p + Math.sqrt(n * p * (1 - p)) * this.gaussian());
    return Math.min(n, Math.max(0, x));
  }

  /** Fisher–Yates, in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  /** `k` distinct indexes from [0, n), in random order (partial Fisher–Yates). */
  sampleIndexes(n: number, k: number): number[] {
    const idx = Array.from({ length: n }, (_, i) => i);
    const m = Math.min(k, n);
    for (let i = 0; i < m; i++) {
      const j = i + Math.floor(this.next() * (n - i));
      const t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    return idx.slice(0, m);
  }

  /** `n` random hex digits. */
  hex(n: number): string {
    const words = Math.ceil(n / 8);
    for (let i = 0; i < words; i++) HEX_BUF.writeUInt32BE(this.uint32(), i * 4);
    return HEX_BUF.toString('hex', 0, words * 4).slice(0, n);
  }

  /**
   * A 32-hex-digit id (Everflow's transaction_id / conversion_id shape) that is unique per
   * `counter`: the first 8 digits are `mix32(counter ^ key)` (a bijection), the rest random.
   */
  hexId(counter: number, key: number): string {
    HEX_BUF.writeUInt32BE(mix32(counter ^ key), 0);
    HEX_BUF.writeUInt32BE(this.uint32(), 4);
    HEX_BUF.writeUInt32BE(this.uint32(), 8);
    HEX_BUF.writeUInt32BE(this.uint32(), 12);
    return HEX_BUF.toString('hex', 0, 16);
  }
}

/**
 * A bijection on 32-bit integers (xor-shift / odd-multiply rounds): distinct inputs give distinct
 * outputs, so `mix32(counter ^ key)` makes ids that look random yet can never collide.
 */
export function mix32(x: number): number {
  x = x >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A bijection on 24-bit integers (for the host part of counter-based IPs). */
export function mix24(x: number): number {
  // Each step is a bijection mod 2^24: multiply by an odd constant, add, xor with a right shift.
  x &= 0xffffff;
  x = (Math.imul(x, 0x9e3779) + 0x5bd1e9) & 0xffffff;
  x ^= x >>> 11;
  x = Math.imul(x, 0x2c1b3d) & 0xffffff;
  return x >>> 0;
}
