/**
 * The Redis lock on its own, for services that need a lock but no etcd and no cache provider:
 * the cache's lock service over the Redis cache driver.
 *
 * @module
 */
import type { CacheLockService } from "../../cache/mod.ts";
import { createLockService } from "../../cache/driver.ts";
import { namespace } from "../../clog/mod.ts";
import { RedisCacheDriver, type RedisLockWait } from "./cache.ts";
import { checkNonNegativeIntegers, Connection, type RedisOptions } from "./connection.ts";

/** Options of {@linkcode redisLock}. */
export interface RedisLockOptions extends RedisOptions, RedisLockWait {
  /**
   * Namespace of the lock keys, laid out as a cache's (`cache.keyspace`): the locks of a cache
   * provider with the same `keyPrefix`.
   * @default {""}
   */
  readonly keyPrefix?: string;
  /**
   * Default lock TTL, at most 2147483647 ms (the longest timer delay).
   * @default {10000}
   */
  readonly ttlMs?: number;
}

/** The Redis lock on its own: `acquire` and `tryAcquire`, plus `close`. */
export interface RedisLock extends CacheLockService, AsyncDisposable {
  /** Releases held locks and the connection. */
  close(): Promise<void>;
}

/**
 * Creates a Redis lock service without a cache provider: the same locks as
 * `cache.lock` (owner token, compare-and-delete unlock, renewal, fencing token, `lost`).
 *
 * @param options Connection settings, key prefix and default TTL.
 * @returns The connected lock service.
 * @throws {TypeError | RangeError} On an invalid key prefix or TTL, or an unknown option.
 * @throws {DriverError} When Redis does not answer.
 */
export function redisLock(options: RedisLockOptions = {}): Promise<RedisLock> {
  return createLockService(
    {
      creating: "create Redis lock",
      keyPrefix: options?.keyPrefix,
      ttlMs: options?.ttlMs,
      logger: options?.logger ?? namespace("redis-lock"),
    },
    () => {
      const own = ["keyPrefix", "ttlMs", "waitReplicas", "waitTimeoutMs"] as const;
      const connection = new Connection(options, "redisLock", own);
      checkNonNegativeIntegers("redisLock", options, ["waitReplicas", "waitTimeoutMs"]);
      return new RedisCacheDriver(connection, options.logger, options);
    },
  );
}
