/**
 * The cache driver interface: Redis's string, hash, set and sorted-set
 * commands on raw text, plus the three lock primitives. The provider adds key
 * prefixes, serialization, validation, locks with renewal and getOrLoad.
 * Keys, fields, members and values reach a driver as well-formed Unicode, and
 * keys already in the provider's layout (`keyspace`): a driver stores them as
 * given.
 *
 * Every method rejects with a `DriverError` naming the operation when the
 * backend fails, and with a `WrongTypeError` when a key holds another type.
 *
 * @module
 */
import { shownKey } from "./_util.ts";

/** A sorted-set member and its score. */
export interface ZMember {
  /** The member. */
  readonly member: string;
  /** Its score. */
  readonly score: number;
}

/** Thrown when an operation meets a key that holds another type (Redis's WRONGTYPE). */
export class WrongTypeError extends Error {
  /** Stable code. */
  readonly code = "CACHE_WRONG_TYPE";
  /** The key. */
  readonly key: string;

  /**
   * Creates the error.
   *
   * @param key The key, as the driver saw it (with prefix).
   * @param operation The operation.
   */
  constructor(key: string, operation: string) {
    super(`Cannot run ${operation} on key '${shownKey(key)}' as it holds a value of another type`);
    this.name = "WrongTypeError";
    this.key = key;
  }
}

/** A driver's pub/sub subscription, ended by `close()` (UNSUBSCRIBE / PUNSUBSCRIBE). */
export interface DriverSubscription {
  /** Stops delivery to this subscription's listener; resolves once the backend has dropped it. */
  close(): Promise<void>;
}

/**
 * What a driver calls for each message of a subscription: the backend channel (with prefix) and
 * the message text, in arrival order.
 */
export type DriverMessageListener = (channel: string, message: string) => void;

/** A cache backend. TTLs are milliseconds; 0 or undefined means no expiry. */
export interface CacheDriver {
  /** Name for errors and logs: `memory`, `redis`. */
  readonly name: string;
  /** Checks the backend answers. */
  ping(): Promise<void>;

  /** The value of a key, or undefined (GET). */
  get(key: string): Promise<string | undefined>;
  /**
   * Synchronous `get`, decoded by `decode`, offered by drivers that hold their data in process:
   * the provider answers a hit without an extra promise hop. The driver may keep a primitive
   * result and hand it out again until the value changes (a string, number or boolean cannot be
   * changed by its caller). Throws as `get` rejects, or with what `decode` throws.
   */
  getSyncDecoded?(key: string, decode: (text: string) => unknown): unknown;
  /**
   * `get` with the value decoded in the same promise step, offered by remote drivers so a hit costs
   * one promise hop, not two. Rejects as `get` does, or with what `decode` throws.
   */
  getDecoded?<T>(key: string, decode: (text: string) => T): Promise<T | undefined>;
  /** Synchronous `set`, offered by in-process drivers (see `getSyncDecoded`). */
  setSync?(key: string, value: string, ttlMs?: number): void;
  /** Sets a value; without `ttlMs` any previous expiry is cleared (Redis SET). */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets only when absent; resolves to whether it did (SET NX). */
  setNX(key: string, value: string, ttlMs?: number): Promise<boolean>;
  /** Sets a value and returns the previous one (SET GET); the expiry is cleared. */
  getSet(key: string, value: string): Promise<string | undefined>;
  /**
   * Adds `delta` (a safe integer) to an integer value, starting from 0 (INCRBY). Rejects with a
   * RangeError when the value is not an integer, and with `unsafeIncrementError` when the result
   * would not be a safe integer (Redis's int64 overflow included); the value is then unchanged.
   */
  incrBy(key: string, delta: number): Promise<number>;
  /** How many of the keys exist (EXISTS). */
  exists(keys: readonly string[]): Promise<number>;
  /** How many of the keys were deleted (DEL). */
  del(keys: readonly string[]): Promise<number>;
  /** Sets an expiry; resolves to false when the key does not exist (PEXPIRE). */
  expire(key: string, ttlMs: number): Promise<boolean>;
  /** Remaining TTL in ms; -1 when the key has no expiry, -2 when it does not exist (Redis PTTL). */
  ttl(key: string): Promise<number>;
  /** Values of several keys, undefined where missing or not a string (MGET). */
  mget(keys: readonly string[]): Promise<(string | undefined)[]>;
  /** Sets several keys at once, with one optional TTL for all (MULTI of SETs). */
  mset(entries: readonly (readonly [string, string])[], ttlMs?: number): Promise<void>;

  /** One field of a hash (HGET). */
  hget(key: string, field: string): Promise<string | undefined>;
  /** Returns how many fields were new. */
  hset(key: string, entries: readonly (readonly [string, string])[]): Promise<number>;
  /** Every field of a hash; empty when the key is missing (HGETALL). */
  hgetAll(key: string): Promise<Record<string, string>>;
  /** Deletes fields; resolves to how many existed (HDEL). */
  hdel(key: string, fields: readonly string[]): Promise<number>;
  /** Whether a hash has the field (HEXISTS). */
  hexists(key: string, field: string): Promise<boolean>;
  /** Number of fields of a hash (HLEN). */
  hlen(key: string): Promise<number>;
  /** Adds `delta` to an integer field, starting from 0 (HINCRBY); rejects as `incrBy` does. */
  hincrBy(key: string, field: string, delta: number): Promise<number>;

  /** Adds members; resolves to how many were new (SADD). */
  sadd(key: string, members: readonly string[]): Promise<number>;
  /** Removes members; resolves to how many were there (SREM). */
  srem(key: string, members: readonly string[]): Promise<number>;
  /** Every member of a set (SMEMBERS). */
  smembers(key: string): Promise<string[]>;
  /** Whether the set has the member (SISMEMBER). */
  sismember(key: string, member: string): Promise<boolean>;
  /** Number of members of a set (SCARD). */
  scard(key: string): Promise<number>;

  /** Adds or updates members; resolves to how many were new (ZADD). */
  zadd(key: string, members: readonly ZMember[]): Promise<number>;
  /** Members by rank, inclusive, negative ranks count from the end; `reverse` for highest first. */
  zrange(key: string, start: number, stop: number, reverse: boolean): Promise<ZMember[]>;
  /** Members with min ≤ score ≤ max, lowest first; `limit` caps the count. */
  zrangeByScore(key: string, min: number, max: number, limit?: number): Promise<ZMember[]>;
  /** Removes members; resolves to how many were there (ZREM). */
  zrem(key: string, members: readonly string[]): Promise<number>;
  /** Removes members by rank, inclusive; resolves to how many (ZREMRANGEBYRANK). */
  zremRangeByRank(key: string, start: number, stop: number): Promise<number>;
  /** Number of members of a sorted set (ZCARD). */
  zcard(key: string): Promise<number>;
  /** Number of members with min ≤ score ≤ max (ZCOUNT). */
  zcount(key: string, min: number, max: number): Promise<number>;
  /** Score of a member, or undefined (ZSCORE). */
  zscore(key: string, member: string): Promise<number | undefined>;
  /** Adds `delta` to a member's score, starting from 0 (ZINCRBY). */
  zincrBy(key: string, member: string, delta: number): Promise<number>;

  /**
   * Takes `key` for `token` if it is free (SET NX PX) and then increments `fenceKey`, atomically.
   * Resolves to the new fencing token, or undefined when the lock is held.
   */
  lockAcquire(
    key: string,
    fenceKey: string,
    token: string,
    ttlMs: number,
  ): Promise<number | undefined>;
  /** Extends the lock if `token` still holds it; resolves to the TTL granted, or 0 when it does not. */
  lockRenew(key: string, token: string, ttlMs: number): Promise<number>;
  /** Deletes the lock if `token` still holds it; resolves to whether it did. */
  lockRelease(key: string, token: string): Promise<boolean>;

  /**
   * Sends a message to a channel; resolves to how many subscribers received it (PUBLISH: one per
   * subscribed client, plus one per matching pattern of a client).
   */
  publish(channel: string, message: string): Promise<number>;
  /**
   * Subscribes `listener` to channels, or to glob patterns (`*`, `?`, `[…]`, `\` escapes, as
   * Redis's PSUBSCRIBE) when `pattern` is true; resolves once the backend has confirmed the
   * subscription, so a message published afterwards reaches it. Messages are at most once.
   */
  subscribe(
    channels: readonly string[],
    pattern: boolean,
    listener: DriverMessageListener,
  ): Promise<DriverSubscription>;
  /**
   * Sets the bits at `offsets` of a bit string (BITFIELD SET u1), growing it as needed, and, when
   * `ttlMs` is given and the key has no expiry, sets one (PEXPIRE NX); resolves to each bit's
   * previous value, in order.
   */
  setBits(key: string, offsets: readonly number[], ttlMs?: number): Promise<boolean[]>;
  /** The bits at `offsets` of a bit string, false beyond its end or when it is missing (BITFIELD_RO GET u1). */
  getBits(key: string, offsets: readonly number[]): Promise<boolean[]>;

  /** Releases connections and timers; ends every subscription. */
  close(): Promise<void>;
}
