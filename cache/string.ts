/**
 * The string operation group: values under keys, with TTLs, counters and
 * multi-key reads and writes.
 *
 * @module
 */
import { requireTtl } from "./_util.ts";
import { decodeValue, encodeValue, type OpsContext, requireKeys, requireStep } from "./_ops.ts";
import { kitTracer } from "../internal/otel.ts";
import { cacheSpan, type Tracer } from "./trace.ts";

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

/** The TTL of a write's options, 0 (no expiry) when absent. */
function optionalTtl(action: string, options?: TtlOption): number {
  return requireTtl(action, options?.ttlMs ?? 0, true);
}

/** Creates the string operations over a provider context. */
export function stringOps(context: OpsContext): StringOps {
  const { driver, keyspace } = context;
  const { key } = keyspace;
  const encode = (value: unknown, name: string) => encodeValue(context, value, name);
  const decode = <T>(text: string | undefined) => decodeValue<T>(context, text);
  const tracedDel = (tracer: Tracer, names: string[]) =>
    cacheSpan(
      tracer,
      context.trace,
      "cache del",
      "del",
      () => driver.del(requireKeys(keyspace, "del", names)),
    );
  return {
    get: getOperation(context),
    set: setOperation(context),
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
    incrBy: async (name, delta) =>
      await driver.incrBy(key("incrBy", name), requireStep("incrBy", delta)),
    exists: async (...names) => await driver.exists(requireKeys(keyspace, "exists", names)),
    del: async (...names) => {
      const tracer = kitTracer();
      if (tracer === undefined) return await driver.del(requireKeys(keyspace, "del", names));
      return await tracedDel(tracer, names);
    },
    expire: async (name, ttlMs) =>
      await driver.expire(key("expire", name), requireTtl(`expire key '${name}'`, ttlMs)),
    ttl: async (name) => await driver.ttl(key("ttl", name)),
    mget: async <T>(names: readonly string[]) =>
      (await driver.mget(requireKeys(keyspace, "mget", names))).map((text) => decode<T>(text)),
    mset: async (entries, options) => {
      const list = Object.entries(entries ?? {});
      if (list.length === 0) throw new TypeError("Cannot mset as at least one entry is needed");
      const encoded = list.map(([name, value]) =>
        [key("mset", name), encode(value, name)] as const
      );
      await driver.mset(encoded, optionalTtl("mset", options));
    },
  };
}

/**
 * `get` in a `cache get` span (with `cache.hit`) when an SDK is registered; without one, the
 * plain `get` after a single check.
 */
function getOperation(context: OpsContext): StringOps["get"] {
  const get = plainGet(context);
  const { trace } = context;
  // Apart from the check: a closure in `get`'s own body would allocate a context on every call.
  const traced = <T>(tracer: Tracer, name: string): Promise<T | undefined> =>
    cacheSpan(tracer, trace, "cache get", "get", async (span) => {
      const value = await get<T>(name);
      span.setAttribute("cache.hit", value !== undefined);
      return value;
    });
  return <T>(name: string): Promise<T | undefined> => {
    const tracer = kitTracer();
    if (tracer === undefined) return get<T>(name);
    return traced<T>(tracer, name);
  };
}

/** `get`, the hot path: in-process drivers answer synchronously, one promise per call instead of three. */
function plainGet(context: OpsContext): StringOps["get"] {
  const { driver, keyspace: { key }, serializer, counters } = context;
  /** Counts a get's outcome when metrics are on; the text passes through. */
  const counted = <V>(value: V | undefined): V | undefined => {
    if (counters) (value === undefined ? counters.miss : counters.hit).inc();
    return value;
  };
  const { getDecoded, getSyncDecoded } = driver;
  // One decoder per provider: the driver may keep a primitive it decoded with it.
  const decode = (text: string): unknown => serializer.decode(text);
  if (getSyncDecoded) {
    return <T>(name: string): Promise<T | undefined> => {
      try {
        return Promise.resolve(
          counted(getSyncDecoded.call(driver, key("get", name), decode) as T | undefined),
        );
      } catch (error) {
        return Promise.reject(error);
      }
    };
  }
  return <T>(name: string): Promise<T | undefined> => {
    let full: string;
    try {
      full = key("get", name);
    } catch (error) {
      return Promise.reject(error);
    }
    if (counters) {
      return getDecoded
        ? getDecoded.call(driver, full, decode).then(counted) as Promise<T | undefined>
        : driver.get(full).then((text) => decodeValue<T>(context, counted(text)));
    }
    return getDecoded
      ? getDecoded.call(driver, full, decode) as Promise<T | undefined>
      : driver.get(full).then((text) => decodeValue<T>(context, text));
  };
}

/** `set` in a `cache set` span when an SDK is registered; the plain `set` without one. */
function setOperation(context: OpsContext): StringOps["set"] {
  const set = plainSet(context);
  const { trace } = context;
  // Apart from the check: a closure in `set`'s own body would allocate a context on every call.
  const traced = (
    tracer: Tracer,
    name: string,
    value: unknown,
    options: TtlOption | undefined,
  ): Promise<void> => cacheSpan(tracer, trace, "cache set", "set", () => set(name, value, options));
  return (name, value, options) => {
    const tracer = kitTracer();
    if (tracer === undefined) return set(name, value, options);
    return traced(tracer, name, value, options);
  };
}

/** `set`, synchronous underneath on in-process drivers (as `get`). */
function plainSet(context: OpsContext): StringOps["set"] {
  const { driver, keyspace: { key } } = context;
  const { setSync } = driver;
  if (setSync) {
    return (name, value, options) => {
      try {
        const full = key("set", name);
        return Promise.resolve(
          setSync.call(
            driver,
            full,
            encodeValue(context, value, name),
            optionalTtl("set", options),
          ),
        );
      } catch (error) {
        return Promise.reject(error);
      }
    };
  }
  return async (name, value, options) => {
    const full = key("set", name);
    await driver.set(full, encodeValue(context, value, name), optionalTtl("set", options));
  };
}
