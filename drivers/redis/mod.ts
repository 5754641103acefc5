/**
 * Redis drivers over npm:ioredis. `redisCache()` is the cache driver;
 * `redisLock()` is the cache's lock on its own, for services that need a lock
 * but no etcd and no cache provider; `redisMq()` is the mq driver on Redis Streams; `redisRateLimit()` the rate-limit driver; `redisOnce()` the once driver.
 *
 * Commands are auto-pipelined; while Redis is unreachable they fail at once
 * with a `DriverError` naming the operation (no offline queue that would hang
 * callers), and the client reconnects by itself. Lua runs only through one
 * script registry (EVALSHA, falling back to EVAL when Redis does not know it).
 *
 * @example The one-line switch to Redis
 * ```ts ignore
 * import { cache } from "@gochat/kit";
 * import { redisCache } from "@gochat/kit/drivers/redis";
 *
 * // keyPrefix: the service's namespace, required on a shared backend.
 * await using c = await cache.create({ ...cache.defaultConfig("production"), keyPrefix: "im-logic" }, {
 *   driver: redisCache({ url: "redis://127.0.0.1:6379" }),
 * });
 * ```
 *
 * @module
 */
export type { RedisClient, RedisClusterNode, RedisOptions } from "./connection.ts";
export { redisCache, type RedisCacheOptions, type RedisLockWait } from "./cache.ts";
export { type RedisLock, redisLock, type RedisLockOptions } from "./lock.ts";
export { redisMq, type RedisMqOptions } from "./mq.ts";
export { redisRateLimit, type RedisRateLimitOptions } from "./ratelimit.ts";
export { redisOnce } from "./once.ts";
