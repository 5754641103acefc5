/**
 * The Redis rate-limit driver: one atomic Lua script per decision, on Redis's clock.
 *
 * @module
 */
import type { Decision, Rule } from "../../ratelimit/mod.ts";
import { decision } from "../../ratelimit/driver.ts";
import type { RateLimitDriver } from "../../ratelimit/driver.ts";
import { bindKeyPrefix } from "../../internal/namespace.ts";
import { Connection, type RedisOptions } from "./connection.ts";
import { script } from "./script.ts";

// GCRA (the same decisions as a token bucket) on Redis's own clock (TIME), mirroring
// ratelimit/types.ts decide(). KEYS[1] bucket, holding when it is full again (Unix ms);
// ARGV: rate, burst, cost. Returns the microseconds until the bucket is full again, after
// taking when allowed (>= 0), or as it stands, negated minus one, when rejected (< 0).
// Expiry: the key expires at the end of the 5 s slot after the one its value falls in, so it
// outlives the time it is full again by 5-10 s. A value written in the same slot as the one
// it replaces keeps the TTL (no expiry update on most calls); a new slot sets PXAT again.
const rateLimit = script(
  "rateLimit",
  `local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local interval = 1000 / ARGV[1]
local stored = tonumber(redis.call('GET', KEYS[1]))
local fullAt = now
if stored and stored > now then fullAt = stored end
local nxt = fullAt + ARGV[3] * interval
if nxt - now > ARGV[2] * interval + 1e-3 then return -math.floor((fullAt - now) * 1000) - 1 end
local slot = math.floor(nxt / 5000)
if stored and math.floor(stored / 5000) == slot then
  redis.call('SET', KEYS[1], nxt, 'KEEPTTL')
else
  redis.call('SET', KEYS[1], nxt, 'PXAT', (slot + 2) * 5000)
end
return math.floor((nxt - now) * 1000)`,
);

/** Options of {@linkcode redisRateLimit}; the bucket keys' namespace is ratelimit's `keyPrefix`. */
export type RedisRateLimitOptions = RedisOptions;

class RedisRateLimit implements RateLimitDriver {
  readonly name = "redis";
  readonly #connection: Connection;
  #prefix = "rl:";
  #keyPrefix: string | undefined;

  constructor(options: RedisRateLimitOptions) {
    this.#connection = new Connection(options, "redisRateLimit");
  }

  useKeyPrefix(keyPrefix: string): void {
    this.#keyPrefix = bindKeyPrefix("redisRateLimit", this.#keyPrefix, keyPrefix);
    this.#prefix = `${keyPrefix}rl:`;
  }

  take(ruleName: string, key: string, rule: Required<Rule>, cost: number): Promise<Decision> {
    // The hot path: plain promise chaining, no async wrappers. The rule name's length goes first,
    // so rule `a` with key `b:c` and rule `a:b` with key `c` are two buckets.
    const bucket = `${this.#prefix}${ruleName.length}:${ruleName}:${key}`;
    const decide = () =>
      this.#connection.runScript(rateLimit, [bucket], [rule.rate, rule.burst, cost])
        .then((reply) => {
          const micros = reply as number;
          return micros >= 0
            ? decision(rule, cost, true, micros / 1000)
            : decision(rule, cost, false, (-micros - 1) / 1000);
        });
    const pending = this.#connection.client.status === "ready"
      ? decide()
      : this.#connection.ready().then(decide);
    return pending.catch((error) => {
      throw this.#connection.driverError("take", error);
    });
  }

  ping(): Promise<void> {
    return this.#connection.ping();
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}

/**
 * Creates the Redis rate-limit driver: one atomic Lua script per decision, on Redis's clock,
 * and every bucket key expires once full again. A bucket's key is
 * `{keyPrefix}rl:{length of the rule name}:{rule name}:{key}`, `keyPrefix` being ratelimit's.
 *
 * @param options Connection.
 * @returns The driver.
 */
export function redisRateLimit(options: RedisRateLimitOptions = {}): RateLimitDriver {
  return new RedisRateLimit(options);
}
