/** A uniform random number in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a tiny seeded PRNG, so the demo, the randomized tests and the benchmark replay the same sequence from
 * the same seed. Not for anything security-related.
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
