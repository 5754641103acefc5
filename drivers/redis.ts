/**
 * Redis drivers over npm:ioredis. `redisCache()` is the cache driver;
 * `redisLock()` is the cache's lock on its own, for services that need a lock
 * but no etcd and no cache provider.
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
 * await using c = await cache.create(cache.defaultConfig("production"), {
 *   driver: redisCache({ url: "redis://127.0.0.1:6379" }),
 * });
 * ```
 *
 * @module
 */
import { Redis, type RedisOptions as IORedisOptions } from "ioredis";
import { createHash } from "node:crypto";
import {
  type CacheDriver,
  type CacheLock,
  type CacheLockService,
  cacheLockService,
  DriverError,
  prefixedKey,
  requireTtl,
  WrongTypeError,
  type ZMember,
} from "../cache/mod.ts";
import { type Logger, namespace } from "../clog/mod.ts";

/** Connection options shared by the Redis drivers. */
export interface RedisOptions {
  /** `redis://[user:password@]host:port/db` or `rediss://…` for TLS; overrides host/port/db. */
  readonly url?: string;
  /**
   * Host name or address.
   * @default {"127.0.0.1"}
   */
  readonly host?: string;
  /**
   * Port.
   * @default {6379}
   */
  readonly port?: number;
  /**
   * Database number.
   * @default {0}
   */
  readonly db?: number;
  /** ACL user name (Redis 6+). */
  readonly username?: string;
  /** Password. */
  readonly password?: string;
  /** `true` for TLS with defaults, or PEM material. */
  readonly tls?: boolean | {
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
    readonly servername?: string;
  };
  /**
   * How long to wait for a connection.
   * @default {5000}
   */
  readonly connectTimeoutMs?: number;
  /**
   * How long one command may take before it fails. Off by default: ioredis arms a timer per
   * command for it, which halves pipelined throughput; a dead connection fails commands at once
   * anyway (no offline queue), so this only guards against a server that hangs while connected.
   */
  readonly commandTimeoutMs?: number;
  /** Where connection trouble is reported; `clog.namespace("redis")` by default. */
  readonly logger?: Logger;
}

interface Script {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

function script(name: string, lua: string): Script {
  return { name, lua, sha: createHash("sha1").update(lua).digest("hex") };
}

/** Every Lua script the kit runs on Redis, in one place. */
const SCRIPTS = {
  lockAcquire: script(
    "lockAcquire",
    `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end
return false`,
  ),
  lockRenew: script(
    "lockRenew",
    `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return tonumber(ARGV[2]) end
return 0`,
  ),
  lockRelease: script(
    "lockRelease",
    `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  ),
} as const;

function validate(options: RedisOptions): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `Cannot create Redis driver as 'options' must be an object: current value is ${options}`,
    );
  }
  if (options.url !== undefined && !/^rediss?:\/\//.test(options.url)) {
    throw new TypeError(
      `Cannot create Redis driver as 'url' must start with redis:// or rediss://: current value is ${
        JSON.stringify(options.url)
      }`,
    );
  }
  for (const field of ["port", "db", "connectTimeoutMs", "commandTimeoutMs"] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new RangeError(
        `Cannot create Redis driver as '${field}' must be a non-negative integer: current value is ${value}`,
      );
    }
  }
}

/** One ioredis connection with the kit's error handling and script registry. */
class Connection {
  readonly client: Redis;
  readonly #logger: Logger;
  #outage = false;

  constructor(options: RedisOptions) {
    validate(options);
    this.#logger = options.logger ?? namespace("redis");
    const settings: IORedisOptions = {
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 6379,
      db: options.db ?? 0,
      username: options.username,
      password: options.password,
      lazyConnect: true,
      enableAutoPipelining: true,
      // Fail fast while disconnected instead of queueing callers until Redis returns.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      commandTimeout: options.commandTimeoutMs,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    };
    if (options.tls) {
      settings.tls = options.tls === true ? {} : { ...options.tls };
    }
    this.client = options.url ? new Redis(options.url, settings) : new Redis(settings);
    const reportOutage = (error?: Error) => {
      if (this.#outage) return;
      this.#outage = true;
      this.#logger.warn("redis connection lost; reconnecting", error ? { err: error } : {});
    };
    // Without an "error" listener ioredis prints every failed reconnect itself.
    this.client.on("error", reportOutage);
    this.client.on("reconnecting", () => reportOutage());
    this.client.on("ready", () => {
      if (!this.#outage) return;
      this.#outage = false;
      this.#logger.info("redis connection restored");
    });
  }

  async connect(): Promise<void> {
    if (this.client.status === "wait") await this.client.connect();
    await this.client.ping();
  }

  async runScript(
    target: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await this.client.evalsha(target.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!/NOSCRIPT/.test(String((error as Error)?.message))) throw error;
      // Redis lost its script cache (restart, SCRIPT FLUSH): EVAL sends the body and caches it again.
      return await this.client.eval(target.lua, keys.length, ...keys, ...args);
    }
  }

  async close(): Promise<void> {
    if (this.client.status === "ready") {
      await this.client.quit().catch(() => this.client.disconnect());
    } else {
      this.client.disconnect();
    }
  }
}

function members(reply: string[]): ZMember[] {
  const result: ZMember[] = [];
  for (let i = 0; i < reply.length; i += 2) {
    result.push({ member: reply[i], score: Number(reply[i + 1]) });
  }
  return result;
}

const orUndefined = <T>(value: T | null): T | undefined => value === null ? undefined : value;

class RedisCacheDriver implements CacheDriver {
  readonly name = "redis";
  readonly #connection: Connection;
  readonly #client: Redis;

  constructor(connection: Connection) {
    this.#connection = connection;
    this.#client = connection.client;
  }

  async #call<T>(operation: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const message = String((error as Error)?.message);
      if (message.startsWith("WRONGTYPE")) throw new WrongTypeError(key, operation);
      if (/not an integer|not a valid float/.test(message)) {
        throw new RangeError(
          `Cannot run ${operation} on key '${key}' as its value is not an integer`,
          { cause: error },
        );
      }
      throw new DriverError(this.name, operation, error);
    }
  }

  ping(): Promise<void> {
    return this.#call("ping", "", () => this.#connection.connect());
  }

  get(key: string): Promise<string | undefined> {
    return this.#call("get", key, async () => orUndefined(await this.#client.get(key)));
  }
  set(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.#call("set", key, async () => {
      if (ttlMs) await this.#client.set(key, value, "PX", ttlMs);
      else await this.#client.set(key, value);
    });
  }
  setNX(key: string, value: string, ttlMs?: number): Promise<boolean> {
    return this.#call(
      "setNX",
      key,
      async () =>
        (ttlMs
          ? await this.#client.set(key, value, "PX", ttlMs, "NX")
          : await this.#client.set(key, value, "NX")) === "OK",
    );
  }
  getSet(key: string, value: string): Promise<string | undefined> {
    return this.#call(
      "getSet",
      key,
      async () => orUndefined(await this.#client.set(key, value, "GET")),
    );
  }
  incrBy(key: string, delta: number): Promise<number> {
    return this.#call("incrBy", key, () => this.#client.incrby(key, delta));
  }
  exists(keys: readonly string[]): Promise<number> {
    return this.#call("exists", keys[0], () => this.#client.exists(...keys));
  }
  del(keys: readonly string[]): Promise<number> {
    return this.#call("del", keys[0], () => this.#client.del(...keys));
  }
  expire(key: string, ttlMs: number): Promise<boolean> {
    return this.#call("expire", key, async () => (await this.#client.pexpire(key, ttlMs)) === 1);
  }
  ttl(key: string): Promise<number> {
    return this.#call("ttl", key, () => this.#client.pttl(key));
  }
  mget(keys: readonly string[]): Promise<(string | undefined)[]> {
    return this.#call(
      "mget",
      keys[0],
      async () => (await this.#client.mget(...keys)).map(orUndefined),
    );
  }
  mset(entries: readonly (readonly [string, string])[], ttlMs?: number): Promise<void> {
    return this.#call("mset", entries[0]?.[0] ?? "", async () => {
      const transaction = this.#client.multi();
      for (const [key, value] of entries) {
        if (ttlMs) transaction.set(key, value, "PX", ttlMs);
        else transaction.set(key, value);
      }
      const results = await transaction.exec();
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0];
    });
  }

  hget(key: string, field: string): Promise<string | undefined> {
    return this.#call("hget", key, async () => orUndefined(await this.#client.hget(key, field)));
  }
  hset(key: string, entries: readonly (readonly [string, string])[]): Promise<number> {
    return this.#call("hset", key, () => this.#client.hset(key, ...entries.flat()));
  }
  hgetAll(key: string): Promise<Record<string, string>> {
    return this.#call("hgetAll", key, () => this.#client.hgetall(key));
  }
  hdel(key: string, fields: readonly string[]): Promise<number> {
    return this.#call("hdel", key, () => this.#client.hdel(key, ...fields));
  }
  hexists(key: string, field: string): Promise<boolean> {
    return this.#call("hexists", key, async () => (await this.#client.hexists(key, field)) === 1);
  }
  hlen(key: string): Promise<number> {
    return this.#call("hlen", key, () => this.#client.hlen(key));
  }
  hincrBy(key: string, field: string, delta: number): Promise<number> {
    return this.#call("hincrBy", key, () => this.#client.hincrby(key, field, delta));
  }

  sadd(key: string, values: readonly string[]): Promise<number> {
    return this.#call("sadd", key, () => this.#client.sadd(key, ...values));
  }
  srem(key: string, values: readonly string[]): Promise<number> {
    return this.#call("srem", key, () => this.#client.srem(key, ...values));
  }
  smembers(key: string): Promise<string[]> {
    return this.#call("smembers", key, () => this.#client.smembers(key));
  }
  sismember(key: string, member: string): Promise<boolean> {
    return this.#call(
      "sismember",
      key,
      async () => (await this.#client.sismember(key, member)) === 1,
    );
  }
  scard(key: string): Promise<number> {
    return this.#call("scard", key, () => this.#client.scard(key));
  }

  zadd(key: string, entries: readonly ZMember[]): Promise<number> {
    return this.#call(
      "zadd",
      key,
      async () =>
        Number(
          await this.#client.zadd(key, ...entries.flatMap(({ member, score }) => [score, member])),
        ),
    );
  }
  zrange(key: string, start: number, stop: number, reverse: boolean): Promise<ZMember[]> {
    return this.#call("zrange", key, async () =>
      members(
        reverse
          ? await this.#client.zrevrange(key, start, stop, "WITHSCORES")
          : await this.#client.zrange(key, String(start), String(stop), "WITHSCORES"),
      ));
  }
  zrangeByScore(key: string, min: number, max: number, limit?: number): Promise<ZMember[]> {
    return this.#call("zrangeByScore", key, async () =>
      members(
        limit === undefined
          ? await this.#client.zrangebyscore(key, min, max, "WITHSCORES")
          : await this.#client.zrangebyscore(key, min, max, "WITHSCORES", "LIMIT", 0, limit),
      ));
  }
  zrem(key: string, values: readonly string[]): Promise<number> {
    return this.#call("zrem", key, () => this.#client.zrem(key, ...values));
  }
  zremRangeByRank(key: string, start: number, stop: number): Promise<number> {
    return this.#call("zremRangeByRank", key, () => this.#client.zremrangebyrank(key, start, stop));
  }
  zcard(key: string): Promise<number> {
    return this.#call("zcard", key, () => this.#client.zcard(key));
  }
  zcount(key: string, min: number, max: number): Promise<number> {
    return this.#call("zcount", key, () => this.#client.zcount(key, min, max));
  }
  zscore(key: string, member: string): Promise<number | undefined> {
    return this.#call("zscore", key, async () => {
      const score = await this.#client.zscore(key, member);
      return score === null ? undefined : Number(score);
    });
  }
  zincrBy(key: string, member: string, delta: number): Promise<number> {
    return this.#call(
      "zincrBy",
      key,
      async () => Number(await this.#client.zincrby(key, delta, member)),
    );
  }

  lockAcquire(
    key: string,
    fenceKey: string,
    token: string,
    ttlMs: number,
  ): Promise<number | undefined> {
    return this.#call("lockAcquire", key, async () => {
      const fence = await this.#connection.runScript(SCRIPTS.lockAcquire, [key, fenceKey], [
        token,
        ttlMs,
      ]);
      return fence === null ? undefined : Number(fence);
    });
  }
  lockRenew(key: string, token: string, ttlMs: number): Promise<number> {
    return this.#call(
      "lockRenew",
      key,
      async () =>
        Number(await this.#connection.runScript(SCRIPTS.lockRenew, [key], [token, ttlMs])),
    );
  }
  lockRelease(key: string, token: string): Promise<boolean> {
    return this.#call(
      "lockRelease",
      key,
      async () =>
        Number(await this.#connection.runScript(SCRIPTS.lockRelease, [key], [token])) === 1,
    );
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}

/**
 * Creates the Redis cache driver.
 *
 * @param options Connection settings.
 * @returns The driver; `cache.create` connects it and checks that Redis answers.
 * @throws {TypeError | RangeError} On invalid options.
 */
export function redisCache(options: RedisOptions = {}): CacheDriver {
  return new RedisCacheDriver(new Connection(options));
}

/** Options of {@linkcode redisLock}. */
export interface RedisLockOptions extends RedisOptions {
  /**
   * Prefix of the lock keys.
   * @default {""}
   */
  readonly keyPrefix?: string;
  /**
   * Default lock TTL.
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
 * @throws {DriverError} When Redis does not answer.
 */
export async function redisLock(options: RedisLockOptions = {}): Promise<RedisLock> {
  const driver = redisCache(options);
  try {
    await driver.ping();
  } catch (error) {
    await driver.close();
    throw error;
  }
  const held = new Set<CacheLock>();
  const service = cacheLockService({
    driver,
    logger: options.logger ?? namespace("redis-lock"),
    key: prefixedKey(options.keyPrefix ?? ""),
    ttl: (action, ttlMs) => requireTtl(action, ttlMs),
    defaultTtlMs: options.ttlMs ?? 10_000,
    held,
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      await Promise.all([...held].map((lock) => lock.unlock()));
      await driver.close();
    })();
  return { ...service, close, [Symbol.asyncDispose]: close };
}
