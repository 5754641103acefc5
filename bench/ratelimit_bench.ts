/**
 * The memory rate limiter beside rate-limiter-flexible's RateLimiterMemory,
 * both deciding one request of one of 1,000 keys under the same limit.
 *
 * Each iteration runs 1,000 awaited decisions in a loop, so the harness's own
 * cost of calling and awaiting an async bench function is spread over them:
 * divide by 1,000 for one. The `Date.now()` row is the clock read both
 * limiters make per decision (slow on this kind of VM).
 *
 * Run: deno bench --allow-all bench/ratelimit_bench.ts
 */
import { RateLimiterMemory } from "rate-limiter-flexible";
import * as ratelimit from "../ratelimit/mod.ts";

const batch = 1_000;
const limiter = await ratelimit.create({
  ...ratelimit.defaultConfig("development"),
  rules: { api: { rate: 1_000_000, burst: 1_000_000 } },
});
const flexible = new RateLimiterMemory({ points: 1_000_000, duration: 1 });
const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
let i = 0;

Deno.bench("kit memory: 1,000 × await allow()", { group: "allow", baseline: true }, async () => {
  for (let n = 0; n < batch; n++) await limiter.allow(keys[i++ % 1000], "api");
});
Deno.bench(
  "rate-limiter-flexible RateLimiterMemory: 1,000 × await consume()",
  { group: "allow" },
  async () => {
    for (let n = 0; n < batch; n++) await flexible.consume(keys[i++ % 1000]);
  },
);
Deno.bench("floor: 1,000 × await Promise.resolve(Date.now())", { group: "allow" }, async () => {
  for (let n = 0; n < batch; n++) await Promise.resolve(Date.now());
});

globalThis.addEventListener("unload", () => limiter.close());
