/**
 * cache: the Go kit's string, hash, set and sorted-set operations with TTLs,
 * locks with fencing tokens, getOrLoad, pub/sub and Bloom filters — on
 * process memory (standalone, the default, LRU-bounded) or Redis
 * (`@gochat/kit/drivers/redis`).
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
import { type Serializer, serializerOption } from "../internal/json.ts";
import type { Metrics } from "../metrics/mod.ts";
import { bindSignal, type OpsContext } from "./_ops.ts";
import { type Keyspace, keyspace, MAX_TIMER_MS } from "./_util.ts";
import { type BloomFilter, bloomFunction, type BloomOptions } from "./bloom.ts";
import { type HashOps, hashOps } from "./hash.ts";
import { type CacheLock, type CacheLockService, cacheLockService } from "./lock.ts";
import { getOrLoadFunction, type GetOrLoadOptions } from "./load.ts";
import { memoryCache } from "./memory.ts";
import { type PubSubOps, pubSubOps, type Subscription } from "./pubsub.ts";
import { type SetOps, setOps } from "./set.ts";
import { type StringOps, stringOps } from "./string.ts";
import type { CacheDriver } from "./types.ts";
import { type ZSetOps, zsetOps } from "./zset.ts";

export { DriverError, LostError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export { CacheLockLostError } from "./lock.ts";
export type {
  CacheLock,
  CacheLockCallOptions,
  CacheLockOptions,
  CacheLockService,
} from "./lock.ts";
export type { GetOrLoadOptions } from "./load.ts";
export type { HashOps } from "./hash.ts";
export type { BloomCallOptions, BloomFilter, BloomItem, BloomOptions } from "./bloom.ts";
export type {
  MessageHandler,
  PubSubCallOptions,
  PubSubOps,
  SubscribeOptions,
  Subscription,
} from "./pubsub.ts";
export type { SetOps } from "./set.ts";
export type { StringOps, TtlOption } from "./string.ts";
export type { ZSetOps } from "./zset.ts";
export { jsonSerializer } from "../internal/json.ts";
export type { Serializer } from "../internal/json.ts";
export { memoryCache, MemoryCacheDriver, MemoryCacheStore } from "./memory.ts";
export type { MemoryCacheDriverOptions, MemoryCacheOptions } from "./memory.ts";
export { WrongTypeError } from "./types.ts";
export type { ZMember } from "./types.ts";

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
  /**
   * Pub/sub; the bound signal is each call's `signal` unless `options` has one, so a subscription
   * made here closes when it aborts.
   */
  readonly pubsub: PubSubOps;
  /** As {@linkcode Cache.bloom}; the bound signal is each call's `signal` unless `options` has one. */
  bloom(name: string, options: BloomOptions): BloomFilter;
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
  /**
   * Pub/sub on channels under the key prefix (the Go kit's presence and online-status sync):
   * at most once, fire-and-forget, as Redis's; see {@linkcode PubSubOps}. Closing the provider
   * closes its subscriptions.
   *
   * @example Two providers on one backend
   * ```ts
   * import { cache } from "../mod.ts";
   * import assert from "node:assert/strict";
   *
   * const store = new cache.MemoryCacheStore();
   * await using a = await cache.create(undefined, { driver: cache.memoryCache({ store }) });
   * await using b = await cache.create(undefined, { driver: cache.memoryCache({ store }) });
   * const received = Promise.withResolvers<unknown>();
   * await using _ = await b.pubsub.subscribe(["presence"], (message) => received.resolve(message));
   * assert.equal(await a.pubsub.publish("presence", { user: 1, online: true }), 1);
   * assert.deepEqual(await received.promise, { user: 1, online: true });
   * ```
   */
  readonly pubsub: PubSubOps;
  /**
   * A Bloom filter stored under key `name` (a bit string: BITFIELD on plain Redis), sized for
   * `capacity` items at `errorRate` false positives; every provider opening the same name must
   * give the same sizing. Nothing is sent until the first call.
   *
   * @example Guarding lookups of ids that do not exist
   * ```ts
   * import { cache } from "../mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using c = await cache.create();
   * const users = c.bloom("users", { capacity: 10_000, errorRate: 0.01 });
   * assert.equal(await users.add(42n), true);
   * assert.equal(await users.add("42"), false, "already there: bigints are their digits");
   * assert.equal(await users.has(42), true);
   * assert.equal(await users.has(43), false);
   * ```
   *
   * @param name The filter's key (a cache key: under the key prefix).
   * @param options `capacity`, `errorRate` and an optional `ttlMs`.
   * @returns The filter.
   * @throws {RangeError} When `capacity` is not a positive integer, `errorRate` not between 0 and
   * 1, `ttlMs` not a positive integer, or the filter would need more than 2^32 bits.
   * @throws {TypeError} When `name` is not a valid key.
   */
  bloom(name: string, options: BloomOptions): BloomFilter;
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
  /** Closes subscriptions, releases held locks, waits for background refreshes, closes the driver. */
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
  const requests = options.metrics?.counter("cache_requests_total", {
    help: "Cache requests by operation and result.",
    labels: ["op", "result"],
  });
  const trace = { system: driver.name, keyPrefix: config.keyPrefix ?? "" };
  const context: OpsContext = {
    driver,
    keyspace: space,
    serializer,
    trace,
    counters: requests && {
      hit: requests.with({ op: "get", result: "hit" }),
      miss: requests.with({ op: "get", result: "miss" }),
    },
  };
  const groups = {
    string: stringOps(context),
    hash: hashOps(context),
    set: setOps(context),
    zset: zsetOps(context),
  };
  const subscriptions = new Set<Subscription>();
  const pubsub = pubSubOps({ ...context, logger, subscriptions });
  const bloom = bloomFunction(context);

  const held = new Set<CacheLock>();
  const lock = cacheLockService({
    driver,
    logger,
    keyspace: space,
    defaultTtlMs: config.lockTtlMs,
    held,
    trace,
  });
  const background = new Set<Promise<unknown>>();
  const getOrLoad = getOrLoadFunction({
    driver,
    logger,
    serializer,
    keyspace: space,
    trace,
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
      await Promise.all([...subscriptions].map((subscription) => subscription.close()));
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
      string: bindSignal(groups.string, signal),
      hash: bindSignal(groups.hash, signal),
      set: bindSignal(groups.set, signal),
      zset: bindSignal(groups.zset, signal),
      pubsub: {
        publish: (channel, message, options) =>
          pubsub.publish(channel, message, { ...options, signal: options?.signal ?? signal }),
        subscribe: (channels, handler, options) =>
          pubsub.subscribe(channels, handler, { ...options, signal: options?.signal ?? signal }),
        psubscribe: (patterns, handler, options) =>
          pubsub.psubscribe(patterns, handler, { ...options, signal: options?.signal ?? signal }),
      },
      bloom: (name, options) => bindBloom(bloom(name, options), signal),
      getOrLoad: (key, loader, options) =>
        getOrLoad(key, loader, { ...options, signal: options?.signal ?? signal }),
    };
  };
  return {
    driver: driver.name,
    withSignal,
    ...groups,
    pubsub,
    bloom,
    lock,
    getOrLoad,
    ping: (options?: PingOptions) =>
      pingProvider("cache", driver.name, () => closed !== undefined, options, () => driver.ping()),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A filter whose calls take `signal` unless their options have one. */
function bindBloom(filter: BloomFilter, signal: AbortSignal): BloomFilter {
  const withDefault = <O extends { signal?: AbortSignal }>(options?: O) => ({
    ...options,
    signal: options?.signal ?? signal,
  });
  return {
    name: filter.name,
    bits: filter.bits,
    hashes: filter.hashes,
    add: (item, options) => filter.add(item, withDefault(options)),
    addMany: (items, options) => filter.addMany(items, withDefault(options)),
    has: (item, options) => filter.has(item, withDefault(options)),
    hasMany: (items, options) => filter.hasMany(items, withDefault(options)),
    clear: (options) => filter.clear(withDefault(options)),
  };
}
