/**
 * Latency under load on Redis, not only throughput: 100 concurrent callers, each making calls
 * one after another, and the p50 / p99 / max of every call's time, for the kit's cache get,
 * ratelimit allow and once execute beside the raw ioredis call or the anchor doing the same
 * work on the same Redis (rate-limiter-flexible's RateLimiterRedis for allow; for once, the
 * floor of its first round trip, `SET key NX PX` then `GET`). The sides alternate round by
 * round, so the machine's drift falls on both; the percentiles are printed when the bench ends.
 *
 * Run: KIT_REDIS_URL=redis://127.0.0.1:6379 deno bench --allow-all --config bench/deno.json bench/redis_latency_bench.ts
 */
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import * as cache from "../cache/mod.ts";
import * as once from "../once/mod.ts";
import * as ratelimit from "../ratelimit/mod.ts";
import { redisCache, redisOnce, redisRateLimit } from "../drivers/redis/mod.ts";

const url = Deno.env.get("KIT_REDIS_URL");
const ignore = url === undefined;
const CALLERS = 100;
const CALLS_PER_CALLER = 20;
const ROUNDS = 15;

const client = ignore ? undefined : new Redis(url, { enableAutoPipelining: true });
const run = crypto.randomUUID().slice(0, 8);
const store = ignore ? undefined : await cache.create(
  { ...cache.defaultConfig("production"), keyPrefix: `bench-lat-${run}:` },
  { driver: redisCache({ url }) },
);
const limiter = ignore ? undefined : await ratelimit.create({
  ...ratelimit.defaultConfig("production"),
  rules: { api: { rate: 1_000_000, burst: 1_000_000 } },
  keyPrefix: `bench-lat-${run}:`,
}, { driver: redisRateLimit({ url }) });
const flexible = ignore ? undefined : new RateLimiterRedis({
  storeClient: client,
  points: 1_000_000,
  duration: 1,
  keyPrefix: `bench-lat-rlf-${run}`,
});
const idempotency = ignore ? undefined : await once.create(
  { ...once.defaultConfig("production"), keyPrefix: `bench-lat-${run}:` },
  { driver: redisOnce({ url }) },
);

type Call = (caller: number, call: number) => Promise<unknown>;

/** One side: a call made by every caller, `CALLS_PER_CALLER` times in a row. */
const sides: Record<string, Call> = ignore ? {} : {
  "kit cache string.get": (caller) => store!.string.get(`k${caller}`),
  "raw ioredis get": (caller) => client!.get(`bench-lat-raw-${run}:k${caller}`),
  "kit ratelimit allow": (caller) => limiter!.allow(`u${caller}`, "api"),
  "RateLimiterRedis consume": (caller) => flexible!.consume(`u${caller}`),
  "kit once execute (new key)": (caller, call) =>
    idempotency!.execute(
      `e${caller}-${call}-${performance.now()}`,
      60_000,
      () => Promise.resolve(1),
    ),
  "raw SET NX PX + GET (new key)": async (caller, call) => {
    const key = `bench-lat-raw-${run}:e${caller}-${call}-${performance.now()}`;
    await client!.set(key, "1", "PX", 60_000, "NX");
    return await client!.get(key);
  },
};

const latencies = new Map<string, number[]>();

async function round(name: string, call: Call): Promise<void> {
  const times = latencies.get(name) ?? [];
  latencies.set(name, times);
  await Promise.all(Array.from({ length: CALLERS }, async (_, caller) => {
    for (let n = 0; n < CALLS_PER_CALLER; n++) {
      const started = performance.now();
      await call(caller, n);
      times.push(performance.now() - started);
    }
  }));
}

if (!ignore) {
  for (let caller = 0; caller < CALLERS; caller++) {
    await store!.string.set(`k${caller}`, "value");
    await client!.set(`bench-lat-raw-${run}:k${caller}`, JSON.stringify("value"));
  }
}

Deno.bench({
  name:
    `Redis latency: ${CALLERS} concurrent callers × ${CALLS_PER_CALLER} calls, sides alternating (prints p50/p99/max)`,
  ignore,
  n: 1,
  warmup: 0,
}, async () => {
  const names = Object.keys(sides);
  for (const name of names) await round(name, sides[name]); // warm-up, not kept
  latencies.clear();
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const name of order) await round(name, sides[name]);
  }
});

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

globalThis.addEventListener("unload", () => {
  for (const [name, times] of latencies) {
    const sorted = times.sort((a, b) => a - b);
    console.log(
      `${name.padEnd(32)} p50 ${percentile(sorted, 0.5).toFixed(2)} ms  p99 ${
        percentile(sorted, 0.99).toFixed(2)
      } ms  max ${sorted.at(-1)!.toFixed(2)} ms  (${sorted.length} calls)`,
    );
  }
  client?.disconnect();
  void store?.close();
  void limiter?.close();
  void idempotency?.close();
});
