/**
 * cache: the Go kit's string, hash, set and sorted-set operations with TTLs,
 * locks with fencing tokens, and getOrLoad — on process memory (standalone,
 * the default, LRU-bounded) or Redis (`@gochat/kit/drivers/redis`).
 *
 * Values go through a serializer (JSON by default); a miss is `undefined`.
 * Set and sorted-set members are plain strings. Keys, hash fields and members
 * must be well-formed Unicode (Redis stores UTF-8, where every lone surrogate
 * becomes U+FFFD), and keys must not contain U+001F, which ends the key
 * prefix; `keyspace` documents the backend key layout, for services in other
 * languages sharing the backend.
 *
 * @example Standalone, and the one-line switch to Redis
 * ```ts
 * import { cache } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using c = await cache.create(cache.defaultConfig("development"));
 * // await using c = await cache.create({ ...cache.defaultConfig("production"), keyPrefix: "im-logic" }, { driver: redisCache({ url }) });
 * await c.string.set("user:1", { name: "ann" }, { ttlMs: 60_000 });
 * assert.deepEqual(await c.string.get("user:1"), { name: "ann" });
 * assert.equal(await c.string.get("user:2"), undefined);
 * assert.equal(await c.getOrLoad("answer", () => Promise.resolve(42), { ttlMs: 1000 }), 42);
 * ```
 *
 * @module
 */
import { type Logger, namespace } from "../clog/mod.ts";
import { checkConfig } from "../internal/config.ts";
import { requireEnv } from "../internal/env.ts";
import { ownKeyPrefix } from "../internal/namespace.ts";
import { type PingOptions, pingProvider } from "../internal/ping.ts";
import { underSignal } from "../internal/queue.ts";
import { type Serializer, serializerOption } from "../internal/json.ts";
import type { Metrics } from "../metrics/mod.ts";
import { type Keyspace, keyspace, MAX_TIMER_MS, requireText, requireTtl } from "./_util.ts";
import { type CacheLock, type CacheLockService, cacheLockService } from "./lock.ts";
import { getOrLoadFunction, type GetOrLoadOptions } from "./load.ts";
import { memoryCache } from "./memory.ts";
import type { CacheDriver, ZMember } from "./types.ts";

export { DriverError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export {
  KEY_SEPARATOR,
  keyspace,
  MAX_TIMER_MS,
  requireText,
  requireTtl,
  unsafeIncrementError,
} from "./_util.ts";
export type { InternalKeyKind, Keyspace } from "./_util.ts";
export { CacheLockLostError, cacheLockService } from "./lock.ts";
export type {
  CacheLock,
  CacheLockCallOptions,
  CacheLockOptions,
  CacheLockService,
  LockContext,
} from "./lock.ts";
export type { GetOrLoadOptions } from "./load.ts";
export { jsonSerializer } from "../internal/json.ts";
export type { Serializer } from "../internal/json.ts";
export { memoryCache, MemoryCacheDriver, MemoryCacheStore } from "./memory.ts";
export type { MemoryCacheDriverOptions, MemoryCacheOptions } from "./memory.ts";
export { WrongTypeError } from "./types.ts";
export type { CacheDriver, ZMember } from "./types.ts";

/** Static settings of a cache provider. */
export interface CacheConfig {
  /**
   * Namespace of every key this provider touches (`im-logic`), so services can share one Redis.
   * Required on a shared backend (any driver but memory): two services on one Redis must not read
   * each other's keys by accident; `""` shares the keyspace on purpose. A key `k` is stored as `k`
   * without a prefix and as `im-logic` + U+001F + `k` with one; neither prefixes nor keys may
   * contain U+001F, so no key reaches another prefix's keys, nested ones (`n` and `n:x`) included,
   * nor the provider's locks (see `keyspace` for the whole layout).
   * @default {"" on the memory driver; none (required) on the others}
   */
  readonly keyPrefix?: string;
  /**
   * Default TTL of locks, at most 2147483647 ms (about 24.8 days, the longest timer delay).
   * @default {10000}
   */
  readonly lockTtlMs: number;
  /**
   * How long one instance may hold the right to load a key in `getOrLoad`.
   * @default {5000}
   */
  readonly loadLeaseMs: number;
}

/** Dependencies of a cache provider. */
export interface CreateOptions {
  /** The backend; `memoryCache()` (standalone) by default. The provider closes it. */
  readonly driver?: CacheDriver;
  /** Logger; `clog.namespace("cache")` by default. */
  readonly logger?: Logger;
  /**
   * Value encoding; {@linkcode jsonSerializer} by default: JSON where a bigint is an integer
   * literal with all its digits (an int64 to Go), and an integer literal beyond ±(2^53 − 1) reads
   * back as a bigint; values JSON would change (undefined, NaN, Map, cycles) are refused. Strings
   * are stored as JSON strings too. The output of another serializer must be well-formed Unicode.
   */
  readonly serializer?: Serializer;
  /**
   * Where to record `cache_requests_total{op, result}`: `string.get` hits and misses, and
   * `getOrLoad` outcomes (`hit`, `loaded`, `failed`, `stale` when a failed load served the old
   * value).
   */
  readonly metrics?: Pick<Metrics, "counter">;
}

/** `ttlMs` option of writes; 0 or absent means no expiry. */
export interface TtlOption {
  /** Expiry in ms; 0 means none. */
  readonly ttlMs?: number;
}

/** String operations. */
export interface StringOps {
  /** The value of a key, or undefined on a miss. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Set operations. */
  set(key: string, value: unknown, options?: TtlOption): Promise<void>;
  /** Sets only when absent; resolves to whether it did. */
  setNX(key: string, value: unknown, options?: TtlOption): Promise<boolean>;
  /** Sets and returns the previous value. */
  getSet<T = unknown>(key: string, value: unknown): Promise<T | undefined>;
  /** Adds 1 to an integer value (0 when absent); rejects as `incrBy` does. */
  incr(key: string): Promise<number>;
  /** Subtracts 1 from an integer value (0 when absent); rejects as `incrBy` does. */
  decr(key: string): Promise<number>;
  /**
   * Adds `delta`, a safe integer, to an integer value (0 when absent). Counters stay within
   * ±(2^53 − 1), where a `number` is exact: a result beyond rejects with a `RangeError` and leaves
   * the value unchanged, on every driver (as does Redis's int64 overflow).
   */
  incrBy(key: string, delta: number): Promise<number>;
  /** How many of the keys exist. */
  exists(...keys: string[]): Promise<number>;
  /** How many of the keys were deleted. */
  del(...keys: string[]): Promise<number>;
  /** Sets an expiry; resolves to false when the key does not exist. */
  expire(key: string, ttlMs: number): Promise<boolean>;
  /** Remaining TTL in ms; -1 without expiry, -2 when the key does not exist. */
  ttl(key: string): Promise<number>;
  /** Values of several keys, undefined where missing. */
  mget<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]>;
  /** Stores several keys at once, with one optional TTL. */
  mset(entries: Readonly<Record<string, unknown>>, options?: TtlOption): Promise<void>;
}

/** Hash operations. */
export interface HashOps {
  /** One field of a hash, or undefined. */
  hget<T = unknown>(key: string, field: string): Promise<T | undefined>;
  /** Sets fields; resolves to how many were new. */
  hset(key: string, fields: Readonly<Record<string, unknown>>): Promise<number>;
  /** Every field of a hash; `{}` when missing. */
  hgetAll<T = unknown>(key: string): Promise<Record<string, T>>;
  /** Deletes fields; resolves to how many existed. */
  hdel(key: string, ...fields: string[]): Promise<number>;
  /** Whether the hash has the field. */
  hexists(key: string, field: string): Promise<boolean>;
  /** Number of fields. */
  hlen(key: string): Promise<number>;
  /** Adds `delta` to an integer field (0 when absent); rejects as `string.incrBy` does. */
  hincrBy(key: string, field: string, delta: number): Promise<number>;
}

/** Set operations (members are strings). */
export interface SetOps {
  /** Adds members; resolves to how many were new. */
  add(key: string, ...members: string[]): Promise<number>;
  /** Removes members; resolves to how many were there. */
  remove(key: string, ...members: string[]): Promise<number>;
  /** Every member. */
  members(key: string): Promise<string[]>;
  /** Whether the member is in the set. */
  isMember(key: string, member: string): Promise<boolean>;
  /** Number of members. */
  card(key: string): Promise<number>;
}

/** Sorted-set operations (members are strings). */
export interface ZSetOps {
  /** Adds members; resolves to how many were new. */
  add(key: string, ...members: ZMember[]): Promise<number>;
  /** By rank, inclusive; negative ranks count from the end. */
  range(key: string, start: number, stop: number): Promise<ZMember[]>;
  /** By rank from the highest score. */
  revRange(key: string, start: number, stop: number): Promise<ZMember[]>;
  /** Members with min ≤ score ≤ max, lowest first; `limit` caps the count. */
  rangeByScore(
    key: string,
    min: number,
    max: number,
    options?: { limit?: number },
  ): Promise<ZMember[]>;
  /** Removes members; resolves to how many were there. */
  rem(key: string, ...members: string[]): Promise<number>;
  /** Removes members by rank, inclusive; resolves to how many. */
  remRangeByRank(key: string, start: number, stop: number): Promise<number>;
  /** Number of members. */
  card(key: string): Promise<number>;
  /** Number of members with min ≤ score ≤ max. */
  count(key: string, min: number, max: number): Promise<number>;
  /** Score of a member, or undefined. */
  score(key: string, member: string): Promise<number | undefined>;
  /** Adds `delta` to an integer value (0 when absent). */
  incrBy(key: string, member: string, delta: number): Promise<number>;
}

/** The operations of a cache, bound to an AbortSignal by {@linkcode Cache.withSignal}. */
export interface CacheOps {
  /** String operations. */
  readonly string: StringOps;
  /** Hash operations. */
  readonly hash: HashOps;
  /** Set operations. */
  readonly set: SetOps;
  /** Sorted-set operations. */
  readonly zset: ZSetOps;
  /** As {@linkcode Cache.getOrLoad}; the bound signal ends the wait unless `options` has one. */
  getOrLoad<T>(key: string, loader: () => Promise<T>, options: GetOrLoadOptions): Promise<T>;
}

/** A cache provider. */
export interface Cache extends AsyncDisposable {
  /** Name of the driver in use. */
  readonly driver: string;
  /**
   * Every operation bound to `signal`: once it aborts, a call not sent yet is not sent, and a
   * call in flight stops waiting (a command already on the wire may still apply, as with a
   * cancelled context in Go); each rejects with the signal's reason. Pass a request's signal to
   * give its cache calls the request's deadline.
   */
  withSignal(signal: AbortSignal): CacheOps;
  /** String operations. */
  readonly string: StringOps;
  /** Hash operations. */
  readonly hash: HashOps;
  /** Set operations. */
  readonly set: SetOps;
  /** Sorted-set operations. */
  readonly zset: ZSetOps;
  /** Locks with fencing tokens. */
  readonly lock: CacheLockService;
  /**
   * The cached value of `key`, or the loader's result stored for `ttlMs`; one loader call per
   * key at a time in this process and across instances.
   */
  getOrLoad<T>(key: string, loader: () => Promise<T>, options: GetOrLoadOptions): Promise<T>;
  /**
   * Checks that the backend answers, for readiness probes.
   *
   * @throws {DriverError} When it does not, or the provider is closed.
   */
  ping(options?: PingOptions): Promise<void>;
  /** Releases held locks, waits for background refreshes, closes the driver. */
  close(): Promise<void>;
}

/**
 * The recommended configuration: 10 s locks, 5 s load leases, and no `keyPrefix`, which a shared
 * driver (Redis) requires: add the service's.
 *
 * @param env `"development"` or `"production"` (the same values today).
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 */
export function defaultConfig(env: "development" | "production"): CacheConfig {
  requireEnv("cache", env);
  return { lockTtlMs: 10_000, loadLeaseMs: 5_000 };
}

const CONFIG_KEYS = [
  "keyPrefix",
  "lockTtlMs",
  "loadLeaseMs",
] as const satisfies readonly (keyof CacheConfig)[];

/** Checks the config; returns the key layout of its prefix. */
function validateConfig(config: CacheConfig, driver: CacheDriver): Keyspace {
  checkConfig("cache", config, CONFIG_KEYS);
  // keyspace checks a given prefix (with its own messages); ownKeyPrefix refuses a missing one.
  const space = keyspace(
    config.keyPrefix ?? ownKeyPrefix("cache", undefined, driver.name, "im-logic"),
  );
  for (const field of ["lockTtlMs", "loadLeaseMs"] as const) {
    if (!Number.isSafeInteger(config[field]) || config[field] <= 0) {
      throw new RangeError(
        `Cannot create cache as '${field}' must be a positive integer: current value is ${
          config[field]
        }`,
      );
    }
  }
  // Lock renewal runs on timers, which cannot wait longer.
  if (config.lockTtlMs > MAX_TIMER_MS) {
    throw new RangeError(
      `Cannot create cache as 'lockTtlMs' must be at most ${MAX_TIMER_MS} ms (the longest timer delay): current value is ${config.lockTtlMs}`,
    );
  }
  return space;
}

/**
 * Creates a cache provider and checks that its backend answers.
 *
 * @param config Key prefix and lock settings; see {@linkcode defaultConfig}.
 * @param options Driver (memory by default), logger, serializer.
 * @returns The provider.
 * @throws {TypeError | RangeError} On invalid config.
 * @throws {DriverError} When the backend does not answer (the driver is closed again).
 */
export async function create(
  config: CacheConfig = defaultConfig("development"),
  options: CreateOptions = {},
): Promise<Cache> {
  const driver = options.driver ?? memoryCache();
  let space: Keyspace;
  let serializer: Serializer;
  try {
    space = validateConfig(config, driver);
    serializer = serializerOption("cache", options.serializer);
    await driver.ping();
  } catch (error) {
    await driver.close().catch(() => {});
    throw error;
  }
  const logger = options.logger ?? namespace("cache");

  const key = space.key;
  const ttl = requireTtl;
  const optionalTtl = (action: string, options?: TtlOption): number =>
    ttl(action, options?.ttlMs ?? 0, true);
  const encode = (value: unknown, name: string) =>
    serializer.encode(value, `the value of key '${name}'`);
  const decode = <T>(text: string | undefined): T | undefined =>
    text === undefined ? undefined : serializer.decode(text) as T;
  const keys = (action: string, names: readonly string[]): string[] => {
    if (!Array.isArray(names) || names.length === 0) {
      throw new TypeError(`Cannot ${action} as at least one key is needed`);
    }
    return names.map((name) => key(action, name));
  };
  const integer = (action: string, name: string, value: unknown): number => {
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      throw new TypeError(
        `Cannot ${action} as '${name}' must be an integer: current value is ${value}`,
      );
    }
    return value;
  };
  /** A counter's step: results must stay safe integers, so the step must be one. */
  const step = (action: string, value: unknown): number => {
    if (typeof value !== "number") {
      throw new TypeError(
        `Cannot ${action} as 'delta' must be a number: current value is ${typeof value}`,
      );
    }
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(
        `Cannot ${action} as 'delta' must be a safe integer (at most ±${Number.MAX_SAFE_INTEGER}): current value is ${value}`,
      );
    }
    return value;
  };
  const score = (action: string, value: unknown): number => {
    if (typeof value !== "number" || Number.isNaN(value)) {
      throw new TypeError(
        `Cannot ${action} as 'score' must be a number: current value is ${value}`,
      );
    }
    return value;
  };
  /** Members or fields: strings that reach the backend as they are, so well-formed ones. */
  const members = (
    action: string,
    values: readonly string[],
    name = "member",
  ): readonly string[] => {
    if (values.length === 0) {
      throw new TypeError(`Cannot ${action} as at least one ${name} is needed`);
    }
    for (const value of values) requireText(action, name, value);
    return values;
  };

  const requests = options.metrics?.counter("cache_requests_total", {
    help: "Cache requests by operation and result.",
    labels: ["op", "result"],
  });
  const hit = requests?.with({ op: "get", result: "hit" });
  const miss = requests?.with({ op: "get", result: "miss" });
  /** Counts a get's outcome when metrics are on; the text passes through. */
  const counted = <V>(value: V | undefined): V | undefined => {
    if (hit) (value === undefined ? miss! : hit).inc();
    return value;
  };
  const { getSync, setSync } = driver;
  const getDecoded = (driver as CacheDriver).getDecoded;
  const decodeText = (text: string): unknown => serializer.decode(text);
  const string: StringOps = {
    // In-process drivers answer synchronously: one promise per call instead of three.
    get: getSync
      ? <T>(name: string): Promise<T | undefined> => {
        try {
          return Promise.resolve(decode<T>(counted(getSync.call(driver, key("get", name)))));
        } catch (error) {
          return Promise.reject(error);
        }
      }
      : <T>(name: string): Promise<T | undefined> => {
        let full: string;
        try {
          full = key("get", name);
        } catch (error) {
          return Promise.reject(error);
        }
        if (hit) {
          return getDecoded
            ? getDecoded.call(driver, full, decodeText).then(counted) as Promise<T | undefined>
            : driver.get(full).then((text) => decode<T>(counted(text)));
        }
        return getDecoded
          ? getDecoded.call(driver, full, decodeText) as Promise<T | undefined>
          : driver.get(full).then((text) => decode<T>(text));
      },
    set: setSync
      ? (name, value, options) => {
        try {
          const full = key("set", name);
          return Promise.resolve(
            setSync.call(driver, full, encode(value, name), optionalTtl("set", options)),
          );
        } catch (error) {
          return Promise.reject(error);
        }
      }
      : async (name, value, options) => {
        const full = key("set", name);
        await driver.set(full, encode(value, name), optionalTtl("set", options));
      },
    setNX: async (name, value, options) => {
      const full = key(`setNX key '${name}'`, name);
      return await driver.setNX(
        full,
        encode(value, name),
        optionalTtl(`setNX key '${name}'`, options),
      );
    },
    getSet: async (name, value) =>
      decode(await driver.getSet(key("getSet", name), encode(value, name))),
    incr: async (name) => await driver.incrBy(key("incr", name), 1),
    decr: async (name) => await driver.incrBy(key("decr", name), -1),
    incrBy: async (name, delta) => await driver.incrBy(key("incrBy", name), step("incrBy", delta)),
    exists: async (...names) => await driver.exists(keys("exists", names)),
    del: async (...names) => await driver.del(keys("del", names)),
    expire: async (name, ttlMs) =>
      await driver.expire(key("expire", name), ttl(`expire key '${name}'`, ttlMs)),
    ttl: async (name) => await driver.ttl(key("ttl", name)),
    mget: async <T>(names: readonly string[]) =>
      (await driver.mget(keys("mget", names))).map((text) => decode<T>(text)),
    mset: async (entries, options) => {
      const list = Object.entries(entries ?? {});
      if (list.length === 0) throw new TypeError("Cannot mset as at least one entry is needed");
      const encoded = list.map(([name, value]) =>
        [key("mset", name), encode(value, name)] as const
      );
      await driver.mset(encoded, optionalTtl("mset", options));
    },
  };

  const hash: HashOps = {
    hget: async (name, field) =>
      decode(await driver.hget(key("hget", name), requireText("hget", "field", field))),
    hset: async (name, fields) => {
      const list = Object.entries(fields ?? {});
      if (list.length === 0) {
        throw new TypeError(`Cannot hset key '${name}' as at least one field is needed`);
      }
      const full = key("hset", name);
      return await driver.hset(
        full,
        list.map(([field, value]) =>
          [requireText("hset", "field", field), encode(value, `${name}.${field}`)] as const
        ),
      );
    },
    hgetAll: async <T>(name: string) => {
      const all = await driver.hgetAll(key("hgetAll", name));
      return Object.fromEntries(
        Object.entries(all).map(([field, text]) => [field, serializer.decode(text) as T]),
      );
    },
    hdel: async (name, ...fields) =>
      await driver.hdel(key("hdel", name), members("hdel", fields, "field")),
    hexists: async (name, field) =>
      await driver.hexists(key("hexists", name), requireText("hexists", "field", field)),
    hlen: async (name) => await driver.hlen(key("hlen", name)),
    hincrBy: async (name, field, delta) =>
      await driver.hincrBy(
        key("hincrBy", name),
        requireText("hincrBy", "field", field),
        step("hincrBy", delta),
      ),
  };

  const set: SetOps = {
    add: async (name, ...values) => await driver.sadd(key("sadd", name), members("sadd", values)),
    remove: async (name, ...values) =>
      await driver.srem(key("srem", name), members("srem", values)),
    members: async (name) => await driver.smembers(key("smembers", name)),
    isMember: async (name, member) =>
      await driver.sismember(key("sismember", name), requireText("sismember", "member", member)),
    card: async (name) => await driver.scard(key("scard", name)),
  };

  const zset: ZSetOps = {
    add: async (name, ...entries) => {
      if (entries.length === 0) throw new TypeError("Cannot zadd as at least one member is needed");
      for (const entry of entries) {
        members("zadd", [entry?.member]);
        score("zadd", entry.score);
      }
      return await driver.zadd(key("zadd", name), entries);
    },
    range: async (name, start, stop) =>
      await driver.zrange(
        key("zrange", name),
        integer("zrange", "start", start),
        integer("zrange", "stop", stop),
        false,
      ),
    revRange: async (name, start, stop) =>
      await driver.zrange(
        key("zrevrange", name),
        integer("zrevrange", "start", start),
        integer("zrevrange", "stop", stop),
        true,
      ),
    rangeByScore: async (name, min, max, options) =>
      await driver.zrangeByScore(
        key("zrangeByScore", name),
        score("zrangeByScore", min),
        score("zrangeByScore", max),
        options?.limit,
      ),
    rem: async (name, ...values) => await driver.zrem(key("zrem", name), members("zrem", values)),
    remRangeByRank: async (name, start, stop) =>
      await driver.zremRangeByRank(
        key("zremRangeByRank", name),
        integer("zremRangeByRank", "start", start),
        integer("zremRangeByRank", "stop", stop),
      ),
    card: async (name) => await driver.zcard(key("zcard", name)),
    count: async (name, min, max) =>
      await driver.zcount(key("zcount", name), score("zcount", min), score("zcount", max)),
    score: async (name, member) =>
      await driver.zscore(key("zscore", name), requireText("zscore", "member", member)),
    incrBy: async (name, member, delta) =>
      await driver.zincrBy(
        key("zincrBy", name),
        requireText("zincrBy", "member", member),
        score("zincrBy", delta),
      ),
  };

  const held = new Set<CacheLock>();
  const lock = cacheLockService({
    driver,
    logger,
    keyspace: space,
    defaultTtlMs: config.lockTtlMs,
    held,
  });
  const background = new Set<Promise<unknown>>();
  const getOrLoad = getOrLoadFunction({
    driver,
    logger,
    serializer,
    keyspace: space,
    loadLeaseMs: config.loadLeaseMs,
    inflight: new Map(),
    background,
    counters: requests && {
      hit: requests.with({ op: "getOrLoad", result: "hit" }),
      loaded: requests.with({ op: "getOrLoad", result: "loaded" }),
      failed: requests.with({ op: "getOrLoad", result: "failed" }),
      stale: requests.with({ op: "getOrLoad", result: "stale" }),
    },
  });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      await Promise.all([...held].map((heldLock) => heldLock.unlock()));
      await Promise.all([...background]);
      await driver.close();
    })();
  const withSignal = (signal: AbortSignal): CacheOps => {
    if (!(signal instanceof AbortSignal)) {
      throw new TypeError(
        `Cannot bind cache operations as 'signal' must be an AbortSignal: current value is ${signal}`,
      );
    }
    return {
      string: bindSignal(string, signal),
      hash: bindSignal(hash, signal),
      set: bindSignal(set, signal),
      zset: bindSignal(zset, signal),
      getOrLoad: (key, loader, options) =>
        getOrLoad(key, loader, { ...options, signal: options?.signal ?? signal }),
    };
  };
  return {
    driver: driver.name,
    withSignal,
    string,
    hash,
    set,
    zset,
    lock,
    getOrLoad,
    ping: (options?: PingOptions) =>
      pingProvider("cache", driver.name, () => closed !== undefined, options, () => driver.ping()),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A copy of an operation group whose calls are refused, or stop waiting, once `signal` aborts. */
function bindSignal<T extends object>(group: T, signal: AbortSignal): T {
  const bound: Record<string, unknown> = {};
  for (const [name, operation] of Object.entries(group)) {
    const call = operation as (...args: unknown[]) => Promise<unknown>;
    bound[name] = (...args: unknown[]) => underSignal(signal, () => call(...args));
  }
  return bound as T;
}
