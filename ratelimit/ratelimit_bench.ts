/**
 * The memory rate limiter beside rate-limiter-flexible's RateLimiterMemory,
 * both deciding one request of one of 1,000 keys under the same limit.
 *
 * Run: deno bench --allow-all ratelimit/ratelimit_bench.ts
 */
import { RateLimiterMemory } from "rate-limiter-flexible";
import * as ratelimit from "./mod.ts";

const limiter = await ratelimit.create({
  ...ratelimit.defaultConfig("development"),
  rules: { api: { rate: 1_000_000, burst: 1_000_000 } },
});
const flexible = new RateLimiterMemory({ points: 1_000_000, duration: 1 });
let i = 0;

Deno.bench("kit memory: await allow()", { group: "allow", baseline: true }, async () => {
  await limiter.allow(`k${i++ % 1000}`, "api");
});
Deno.bench(
  "rate-limiter-flexible RateLimiterMemory: await consume()",
  { group: "allow" },
  async () => {
    await flexible.consume(`k${i++ % 1000}`);
  },
);

globalThis.addEventListener("unload", () => limiter.close());
