/**
 * A seeded random number generator (mulberry32), for tests and benches that must replay the
 * same sequence: a failing randomized test can be run again with its seed, and a bench builds the
 * same corpus on every run.
 *
 * @example The same seed, the same numbers
 * ```ts
 * import { seededRandom } from "./random.ts";
 * import assert from "node:assert/strict";
 *
 * const a = seededRandom(7), b = seededRandom(7);
 * assert.equal(a(), b());
 * assert.ok(a() < 1);
 * ```
 *
 * @module
 */

/**
 * A generator of numbers in [0, 1), like `Math.random`, from `seed`.
 *
 * @param seed Any integer.
 * @returns The generator.
 */
export function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
