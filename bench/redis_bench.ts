/**
 * The Redis cache driver beside raw ioredis (both auto-pipelined), 1,000
 * concurrent GETs per iteration, against the same Redis in one run. The kit
 * should reach at least 90% of raw ioredis.
 *
 * Run: KIT_REDIS_URL=redis://127.0.0.1:6379 deno bench --allow-all bench/redis_bench.ts
 */
import { Redis } from "ioredis";
import { alternate } from "./_alternate.ts";
import * as cache from "../cache/mod.ts";
import { redisCache } from "../drivers/redis/mod.ts";

const url = Deno.env.get("KIT_REDIS_URL");
const ignore = url === undefined;
const raw = ignore ? undefined : new Redis(url, { enableAutoPipelining: true });
const kit = ignore ? undefined : await cache.create(
  { ...cache.defaultConfig("production"), keyPrefix: "bench" },
  { driver: redisCache({ url }) },
);
const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
for (const key of keys) await kit?.string.set(key, "user-profile-42");

Deno.bench("raw ioredis: 1,000 concurrent GETs", {
  group: "redis get x1000",
  baseline: true,
  ignore,
}, async () => {
  await Promise.all(keys.map((key) => raw!.get(`bench\x1f${key}`)));
});
Deno.bench(
  "kit redis driver: 1,000 concurrent string.get",
  { group: "redis get x1000", ignore },
  async () => {
    await Promise.all(keys.map((key) => kit!.string.get(key)));
  },
);

Deno.bench("kit vs raw, alternating 300 rounds of 1,000 (share printed)", {
  group: "alternating",
  n: 1,
  warmup: 0,
  ignore,
}, async () => {
  const median = await alternate(300, 50, {
    raw: () => Promise.all(keys.map((key) => raw!.get(`bench\x1f${key}`))),
    kit: () => Promise.all(keys.map((key) => kit!.string.get(key))),
  });
  console.log(
    `1,000 concurrent GETs, median of 250 rounds: raw ${median.raw.toFixed(3)} ms, kit ${
      median.kit.toFixed(3)
    } ms: the kit reaches ${(100 * median.raw / median.kit).toFixed(1)}% of raw throughput`,
  );
});

globalThis.addEventListener("unload", () => {
  raw?.disconnect();
  kit?.close();
});
