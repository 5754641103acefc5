/**
 * uid beside npm:uuid and @sapphire/snowflake.
 *
 * UUIDv7: per-id time of `uuidv7()` against npm:uuid's `v7()` (and the
 * built-in v4 for scale).
 *
 * Snowflake: a generator is capped at 4,096 ids per millisecond (about 244 ns
 * per id); @sapphire/snowflake looks faster because its sequence wraps inside
 * a millisecond. The "1M ids" group generates one million ids from each in a
 * tight loop and prints how many were duplicates.
 *
 * Run: deno bench --allow-all bench/uid_bench.ts
 */
import { Snowflake as SapphireSnowflake } from "@sapphire/snowflake";
import { v7 as npmUuidV7 } from "uuid";
import * as uid from "../uid/mod.ts";
import { SnowflakeGenerator } from "../uid/snowflake.ts";

Deno.bench("kit uuidv7()", { group: "uuidv7", baseline: true }, () => {
  uid.uuidv7();
});
Deno.bench("npm:uuid v7()", { group: "uuidv7" }, () => {
  npmUuidV7();
});
Deno.bench("crypto.randomUUID() (v4, not sortable)", { group: "uuidv7" }, () => {
  crypto.randomUUID();
});

const epoch = Date.UTC(2024, 0, 1);
const kit = new SnowflakeGenerator({ workerId: 1, epochMs: epoch });
const sapphire = new SapphireSnowflake(epoch);

Deno.bench("kit Snowflake nextId()", { group: "snowflake", baseline: true }, () => {
  kit.nextId();
});
Deno.bench("@sapphire/snowflake generate()", { group: "snowflake" }, () => {
  sapphire.generate({ workerId: 1n });
});

const COUNT = 1_000_000;
const reported = new Set<string>();

function countDuplicates(ids: BigInt64Array): number {
  ids.sort();
  let duplicates = 0;
  for (let i = 1; i < ids.length; i++) if (ids[i] === ids[i - 1]) duplicates++;
  return duplicates;
}

function millionIds(name: string, next: () => bigint) {
  return (b: Deno.BenchContext) => {
    const ids = new BigInt64Array(COUNT);
    b.start();
    const started = performance.now();
    for (let i = 0; i < COUNT; i++) ids[i] = next();
    const elapsedMs = performance.now() - started;
    b.end();
    if (!reported.has(name)) {
      reported.add(name);
      console.log(
        `${name}: ${COUNT} ids in ${elapsedMs.toFixed(0)} ms (${
          (COUNT / elapsedMs).toFixed(0)
        } ids/ms), ${countDuplicates(ids)} duplicates`,
      );
    }
  };
}

Deno.bench(
  "kit Snowflake: 1M ids",
  { group: "1M ids, duplicates printed", baseline: true, n: 5, warmup: 1 },
  millionIds("kit Snowflake", () => kit.nextId()),
);
Deno.bench(
  "@sapphire/snowflake: 1M ids",
  { group: "1M ids, duplicates printed", n: 5, warmup: 1 },
  millionIds("@sapphire/snowflake", () => sapphire.generate({ workerId: 1n })),
);
