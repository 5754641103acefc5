/**
 * Measures two sides of a comparison in alternating rounds (raw, kit, kit, raw, …) and returns
 * each side's median round time. Sequential benches drift by several percent between runs on a
 * 2-core machine; alternation cancels that drift, so the ratio measures the overhead itself.
 *
 * @module
 */

/**
 * Runs `rounds` rounds of both sides, alternating which goes first, and returns the median time of
 * each side in ms over the rounds after the first `warmupRounds`.
 */
export async function alternate(
  rounds: number,
  warmupRounds: number,
  raw: () => Promise<unknown>,
  kit: () => Promise<unknown>,
): Promise<{ raw: number; kit: number }> {
  const sides: ["raw" | "kit", () => Promise<unknown>][] = [["raw", raw], ["kit", kit]];
  const times = { raw: [] as number[], kit: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of round % 2 ? sides : [...sides].reverse()) {
      const started = performance.now();
      await run();
      if (round >= warmupRounds) times[name].push(performance.now() - started);
    }
  }
  const median = (list: number[]) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)];
  return { raw: median(times.raw), kit: median(times.kit) };
}
