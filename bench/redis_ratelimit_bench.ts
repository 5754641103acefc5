/**
 * The Redis rate limiter beside rate-limiter-flexible's RateLimiterRedis on
 * the same Redis (both on ioredis): 100 concurrent decisions per iteration.
 *
 * Run: KIT_REDIS_URL=redis://127.0.0.1:6379 deno bench --allow-all bench/redis_ratelimit_bench.ts
 */
import { Redis } from "ioredis";
import { alternate } from "./_alternate.ts";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { redisRateLimit } from "../drivers/redis/mod.ts";
import * as ratelimit from "../ratelimit/mod.ts";

const url = Deno.env.get("KIT_REDIS_URL");
const ignore = url === undefined;
const client = ignore ? undefined : new Redis(url, { enableAutoPipelining: true });
const flexible = ignore ? undefined : new RateLimiterRedis({
  storeClient: client,
  points: 1_000_000,
  duration: 1,
  keyPrefix: "bench-rlf",
});
const limiter = ignore ? undefined : await ratelimit.create({
  ...ratelimit.defaultConfig("production"),
  rules: { api: { rate: 1_000_000, burst: 1_000_000 } },
  keyPrefix: "bench-kit:",
}, { driver: redisRateLimit({ url }) });
const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);

Deno.bench(
  "kit redis: 100 concurrent allow()",
  { group: "redis x100", baseline: true, ignore },
  async () => {
    await Promise.all(keys.map((key) => limiter!.allow(key, "api")));
  },
);
Deno.bench("rate-limiter-flexible RateLimiterRedis: 100 concurrent consume()", {
  group: "redis x100",
  ignore,
}, async () => {
  await Promise.all(keys.map((key) => flexible!.consume(key)));
});

Deno.bench({
  name: "alternating rounds: kit against RateLimiterRedis (prints the ratio)",
  group: "alternating",
  ignore,
  n: 1,
  warmup: 0,
}, async () => {
  const median = await alternate(300, 50, {
    raw: () => Promise.all(keys.map((key) => flexible!.consume(key))),
    kit: () => Promise.all(keys.map((key) => limiter!.allow(key, "api"))),
  });
  console.log(
    `100 concurrent decisions, median of 250 rounds: RateLimiterRedis ${
      median.raw.toFixed(3)
    } ms, kit ${median.kit.toFixed(3)} ms: the kit takes ${
      (100 * median.kit / median.raw).toFixed(1)
    }% of RateLimiterRedis's time`,
  );
});

globalThis.addEventListener("unload", () => {
  limiter?.close();
  client?.disconnect();
});
