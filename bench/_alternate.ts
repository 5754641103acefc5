/**
 * Measures the sides of a comparison in alternating rounds (raw, kit, then kit, raw, …) and
 * returns each side's median round time. Sequential benches drift by several percent between runs
 * on a 2-core machine; alternation cancels that drift, so the ratio measures the overhead itself.
 *
 * @module
 */

/** Named sides of a comparison: one round of each. */
export type Sides<K extends string> = Record<K, () => Promise<unknown>>;

/**
 * Runs `rounds` rounds of every side, rotating the order, and returns the median time of each
 * side in ms over the rounds after the first `warmupRounds`.
 */
export async function alternate<K extends string>(
  rounds: number,
  warmupRounds: number,
  sides: Sides<K>,
): Promise<Record<K, number>> {
  const times = timesFor(sides);
  await alternateInto(times, rounds, warmupRounds, sides);
  return medians(times);
}

/**
 * Like {@linkcode alternate}, on fresh clients: `segments` times (after one uncounted warm-up
 * segment), `setup` makes new sides, which run `rounds` rotating rounds (the first
 * `warmupRounds` not counted), and `close` disposes of them. For clients whose speed drifts with
 * their own age (postgres.js pools slow down over a long run, on Node as on Deno), so no side is
 * measured older than another.
 */
export async function alternateSegments<K extends string>(
  segments: number,
  rounds: number,
  warmupRounds: number,
  setup: () => Promise<{ sides: Sides<K>; close(): Promise<unknown> }>,
): Promise<Record<K, number>> {
  let times: Record<K, number[]> | undefined;
  for (let segment = -1; segment < segments; segment++) {
    const { sides, close } = await setup();
    times ??= timesFor(sides);
    try {
      await alternateInto(segment < 0 ? timesFor(sides) : times, rounds, warmupRounds, sides);
    } finally {
      await close();
    }
  }
  return medians(times as Record<K, number[]>);
}

async function alternateInto<K extends string>(
  times: Record<K, number[]>,
  rounds: number,
  warmupRounds: number,
  sides: Sides<K>,
): Promise<void> {
  const names = Object.keys(sides) as K[];
  for (let round = 0; round < rounds; round++) {
    // Rotate the starting side each round and reverse every other round: each side runs in
    // every position equally often.
    const rotated = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of Math.floor(round / names.length) % 2 ? rotated.reverse() : rotated) {
      const started = performance.now();
      await sides[name]();
      if (round >= warmupRounds) times[name].push(performance.now() - started);
    }
  }
}

function timesFor<K extends string>(sides: Sides<K>): Record<K, number[]> {
  return Object.fromEntries(Object.keys(sides).map((name) => [name, []])) as unknown as Record<
    K,
    number[]
  >;
}

function medians<K extends string>(times: Record<K, number[]>): Record<K, number> {
  const result = {} as Record<K, number>;
  for (const name of Object.keys(times) as K[]) {
    const list = times[name].sort((a, b) => a - b);
    result[name] = list[Math.floor(list.length / 2)];
  }
  return result;
}
