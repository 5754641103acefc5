/**
 * The standalone cache driver: strings, hashes, sets and sorted sets in
 * process memory with Redis semantics, bounded by entries and by approximate
 * bytes (least recently used first), with TTLs expired lazily on read and by
 * a periodic sweep that stops with the last driver's `close()`.
 *
 * @module
 */
import { closedDriverError, DriverError } from "../internal/errors.ts";
import {
  type CacheDriver,
  type DriverMessageListener,
  type DriverSubscription,
  WrongTypeError,
  type ZMember,
} from "./types.ts";
import { type MemoryCacheOptions, MemoryCacheStore, type PubSubClient } from "./memory_store.ts";
import { SortedSet } from "./sorted_set.ts";
import { getBits, globRegExp, increment, rankRange, setBits, type Value } from "./memory_value.ts";

export { MemoryCacheStore } from "./memory_store.ts";
export type { MemoryCacheOptions } from "./memory_store.ts";

/** Options of {@linkcode memoryCache}. */
export interface MemoryCacheDriverOptions extends MemoryCacheOptions {
  /** Share one store between drivers (two providers on one backend); a new store by default. */
  readonly store?: MemoryCacheStore;
}

/** A memory cache driver: one client of a {@linkcode MemoryCacheStore}. */
export class MemoryCacheDriver implements CacheDriver {
  /** Always `memory`. */
  readonly name = "memory";
  /** The store this driver uses. */
  readonly store: MemoryCacheStore;
  #closed = false;
  /** Listeners by channel, and by pattern with its matcher: this client's subscriptions. */
  readonly #channels = new Map<string, Set<DriverMessageListener>>();
  readonly #patterns = new Map<
    string,
    { match: RegExp; listeners: Set<DriverMessageListener> }
  >();
  readonly #client: PubSubClient = {
    deliver: (channel, message) => {
      let reached = 0;
      const direct = this.#channels.get(channel);
      if (direct) {
        reached++;
        for (const listener of [...direct]) listener(channel, message);
      }
      for (const { match, listeners } of [...this.#patterns.values()]) {
        if (!match.test(channel)) continue;
        reached++;
        for (const listener of [...listeners]) listener(channel, message);
      }
      return reached;
    },
  };

  /**
   * Creates a client of `store`.
   *
   * @param store The store.
   */
  constructor(store: MemoryCacheStore) {
    this.store = store;
    store.attach();
  }

  #run<T>(operation: string, fn: () => T): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        closedDriverError(this.name, operation),
      );
    }
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(
        error instanceof WrongTypeError || error instanceof RangeError
          ? error
          : new DriverError(this.name, operation, error),
      );
    }
  }

  #hash(key: string, operation: string, create: boolean) {
    const entry = this.store.read(key, operation, "hash");
    if (entry || !create) return entry;
    this.store.write(key, { type: "hash", data: new Map() }, undefined);
    return this.store.read(key, operation, "hash");
  }
  #set(key: string, operation: string, create: boolean) {
    const entry = this.store.read(key, operation, "set");
    if (entry || !create) return entry;
    this.store.write(key, { type: "set", data: new Set() }, undefined);
    return this.store.read(key, operation, "set");
  }
  #zset(key: string, operation: string, create: boolean) {
    const entry = this.store.read(key, operation, "zset");
    if (entry || !create) return entry;
    this.store.write(key, { type: "zset", data: new SortedSet() }, undefined);
    return this.store.read(key, operation, "zset");
  }

  ping(): Promise<void> {
    return this.#run("ping", () => {});
  }

  get(key: string): Promise<string | undefined> {
    try {
      return Promise.resolve(this.#readString(key)?.data);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  getSyncDecoded(key: string, decode: (text: string) => unknown): unknown {
    const value = this.#readString(key);
    if (value === undefined) return undefined;
    if (value.decodedWith === decode) return value.decoded;
    const decoded = decode(value.data);
    // An object is decoded anew for each caller: one caller's change must not reach another.
    if (decoded === null || typeof decoded !== "object") {
      value.decoded = decoded;
      value.decodedWith = decode;
    }
    return decoded;
  }
  /** The string value at `key` (a GET), or undefined. */
  #readString(key: string): Extract<Value, { type: "string" }> | undefined {
    if (this.#closed) throw closedDriverError(this.name, "get");
    return this.store.read(key, "get", "string")?.value as Extract<Value, { type: "string" }>;
  }
  set(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.#run("set", () => this.setSync(key, value, ttlMs));
  }
  setSync(key: string, value: string, ttlMs?: number): void {
    if (this.#closed) throw closedDriverError(this.name, "set");
    this.store.write(key, { type: "string", data: value }, ttlMs ?? 0);
  }
  setNX(key: string, value: string, ttlMs?: number): Promise<boolean> {
    return this.#run("setNX", () => {
      if (this.store.read(key, "setNX") !== undefined) return false;
      this.store.write(key, { type: "string", data: value }, ttlMs ?? 0);
      return true;
    });
  }
  getSet(key: string, value: string): Promise<string | undefined> {
    return this.#run("getSet", () => {
      const previous = this.store.read(key, "getSet", "string")?.value.data as string | undefined;
      this.store.write(key, { type: "string", data: value }, 0);
      return previous;
    });
  }
  incrBy(key: string, delta: number): Promise<number> {
    return this.#run("incrBy", () => {
      const entry = this.store.read(key, "incrBy", "string");
      const next = increment(entry?.value.data as string | undefined, delta, key);
      this.store.write(key, { type: "string", data: String(next) }, undefined);
      return next;
    });
  }
  exists(keys: readonly string[]): Promise<number> {
    return this.#run(
      "exists",
      () => keys.filter((key) => this.store.read(key, "exists") !== undefined).length,
    );
  }
  del(keys: readonly string[]): Promise<number> {
    return this.#run("del", () => keys.filter((key) => this.store.delete(key)).length);
  }
  expire(key: string, ttlMs: number): Promise<boolean> {
    return this.#run("expire", () => this.store.setExpiry(key, ttlMs));
  }
  ttl(key: string): Promise<number> {
    return this.#run("ttl", () => {
      const entry = this.store.read(key, "ttl");
      if (entry === undefined) return -2;
      return entry.expiresAt === Infinity ? -1 : Math.max(0, entry.expiresAt - Date.now());
    });
  }
  mget(keys: readonly string[]): Promise<(string | undefined)[]> {
    return this.#run("mget", () =>
      keys.map((key) => {
        const entry = this.store.read(key, "mget");
        return entry?.value.type === "string" ? entry.value.data : undefined;
      }));
  }
  mset(entries: readonly (readonly [string, string])[], ttlMs?: number): Promise<void> {
    return this.#run("mset", () => {
      for (const [key, value] of entries) {
        this.store.write(key, { type: "string", data: value }, ttlMs ?? 0);
      }
    });
  }

  hget(key: string, field: string): Promise<string | undefined> {
    return this.#run(
      "hget",
      () =>
        (this.#hash(key, "hget", false)?.value.data as Map<string, string> | undefined)?.get(field),
    );
  }
  hset(key: string, entries: readonly (readonly [string, string])[]): Promise<number> {
    return this.#run("hset", () => {
      const entry = this.#hash(key, "hset", true)!;
      const data = entry.value.data as Map<string, string>;
      let added = 0;
      for (const [field, value] of entries) {
        if (!data.has(field)) added++;
        data.set(field, value);
      }
      this.store.changed(key, entry);
      return added;
    });
  }
  hgetAll(key: string): Promise<Record<string, string>> {
    return this.#run(
      "hgetAll",
      () =>
        Object.fromEntries(
          (this.#hash(key, "hgetAll", false)?.value.data as Map<string, string>) ?? [],
        ),
    );
  }
  hdel(key: string, fields: readonly string[]): Promise<number> {
    return this.#run("hdel", () => {
      const entry = this.#hash(key, "hdel", false);
      if (!entry) return 0;
      const removed = fields.filter((field) =>
        (entry.value.data as Map<string, string>).delete(field)
      ).length;
      this.store.changed(key, entry);
      return removed;
    });
  }
  hexists(key: string, field: string): Promise<boolean> {
    return this.#run(
      "hexists",
      () =>
        (this.#hash(key, "hexists", false)?.value.data as Map<string, string>)?.has(field) ?? false,
    );
  }
  hlen(key: string): Promise<number> {
    return this.#run(
      "hlen",
      () => (this.#hash(key, "hlen", false)?.value.data as Map<string, string>)?.size ?? 0,
    );
  }
  hincrBy(key: string, field: string, delta: number): Promise<number> {
    return this.#run("hincrBy", () => {
      const entry = this.#hash(key, "hincrBy", true)!;
      const data = entry.value.data as Map<string, string>;
      const current = data.get(field);
      const next = increment(current, delta, key, field);
      data.set(field, String(next));
      this.store.changed(key, entry);
      return next;
    });
  }

  sadd(key: string, members: readonly string[]): Promise<number> {
    return this.#run("sadd", () => {
      const entry = this.#set(key, "sadd", true)!;
      const data = entry.value.data as Set<string>;
      const before = data.size;
      for (const member of members) data.add(member);
      this.store.changed(key, entry);
      return data.size - before;
    });
  }
  srem(key: string, members: readonly string[]): Promise<number> {
    return this.#run("srem", () => {
      const entry = this.#set(key, "srem", false);
      if (!entry) return 0;
      const removed = members.filter((member) =>
        (entry.value.data as Set<string>).delete(member)
      ).length;
      this.store.changed(key, entry);
      return removed;
    });
  }
  smembers(key: string): Promise<string[]> {
    return this.#run(
      "smembers",
      () => [...((this.#set(key, "smembers", false)?.value.data as Set<string>) ?? [])],
    );
  }
  sismember(key: string, member: string): Promise<boolean> {
    return this.#run(
      "sismember",
      () => (this.#set(key, "sismember", false)?.value.data as Set<string>)?.has(member) ?? false,
    );
  }
  scard(key: string): Promise<number> {
    return this.#run(
      "scard",
      () => (this.#set(key, "scard", false)?.value.data as Set<string>)?.size ?? 0,
    );
  }

  zadd(key: string, members: readonly ZMember[]): Promise<number> {
    return this.#run("zadd", () => {
      const entry = this.#zset(key, "zadd", true)!;
      const data = entry.value.data as SortedSet;
      let added = 0;
      for (const { member, score } of members) if (data.set(member, score)) added++;
      this.store.changed(key, entry);
      return added;
    });
  }
  zrange(key: string, start: number, stop: number, reverse: boolean): Promise<ZMember[]> {
    return this.#run("zrange", () => {
      const data = this.#zset(key, "zrange", false)?.value.data as SortedSet | undefined;
      if (!data) return [];
      const [from, to] = rankRange(data.size, start, stop);
      return from > to ? [] : data.range(from, to, reverse);
    });
  }
  zrangeByScore(key: string, min: number, max: number, limit?: number): Promise<ZMember[]> {
    return this.#run("zrangeByScore", () => {
      const data = this.#zset(key, "zrangeByScore", false)?.value.data as SortedSet | undefined;
      return data ? data.rangeByScore(min, max, limit) : [];
    });
  }
  zrem(key: string, members: readonly string[]): Promise<number> {
    return this.#run("zrem", () => {
      const entry = this.#zset(key, "zrem", false);
      if (!entry) return 0;
      const data = entry.value.data as SortedSet;
      const removed = members.filter((member) => data.delete(member)).length;
      this.store.changed(key, entry);
      return removed;
    });
  }
  zremRangeByRank(key: string, start: number, stop: number): Promise<number> {
    return this.#run("zremRangeByRank", () => {
      const entry = this.#zset(key, "zremRangeByRank", false);
      if (!entry) return 0;
      const data = entry.value.data as SortedSet;
      const [from, to] = rankRange(data.size, start, stop);
      if (from > to) return 0;
      const removed = data.deleteRange(from, to);
      this.store.changed(key, entry);
      return removed;
    });
  }
  zcard(key: string): Promise<number> {
    return this.#run(
      "zcard",
      () => (this.#zset(key, "zcard", false)?.value.data as SortedSet | undefined)?.size ?? 0,
    );
  }
  zcount(key: string, min: number, max: number): Promise<number> {
    return this.#run("zcount", () => {
      const data = this.#zset(key, "zcount", false)?.value.data as SortedSet | undefined;
      return data?.countByScore(min, max) ?? 0;
    });
  }
  zscore(key: string, member: string): Promise<number | undefined> {
    return this.#run(
      "zscore",
      () => (this.#zset(key, "zscore", false)?.value.data as SortedSet | undefined)?.score(member),
    );
  }
  zincrBy(key: string, member: string, delta: number): Promise<number> {
    return this.#run("zincrBy", () => {
      const entry = this.#zset(key, "zincrBy", true)!;
      const data = entry.value.data as SortedSet;
      const next = (data.score(member) ?? 0) + delta;
      data.set(member, next);
      this.store.changed(key, entry);
      return next;
    });
  }

  lockAcquire(
    key: string,
    fenceKey: string,
    token: string,
    ttlMs: number,
  ): Promise<number | undefined> {
    return this.#run("lockAcquire", () => {
      if (this.store.read(key, "lockAcquire") !== undefined) return undefined;
      this.store.write(key, { type: "string", data: token }, ttlMs);
      const fence = this.store.read(fenceKey, "lockAcquire", "string");
      const next = (fence ? Number(fence.value.data) : 0) + 1;
      this.store.write(fenceKey, { type: "string", data: String(next) }, 0);
      return next;
    });
  }
  lockRenew(key: string, token: string, ttlMs: number): Promise<number> {
    return this.#run("lockRenew", () => {
      const entry = this.store.read(key, "lockRenew");
      if (entry?.value.data !== token) return 0;
      this.store.setExpiry(key, ttlMs);
      return ttlMs;
    });
  }
  lockRelease(key: string, token: string): Promise<boolean> {
    return this.#run(
      "lockRelease",
      () => this.store.read(key, "lockRelease")?.value.data === token && this.store.delete(key),
    );
  }

  publish(channel: string, message: string): Promise<number> {
    return this.#run("publish", () => this.store.publish(channel, message));
  }
  subscribe(
    channels: readonly string[],
    pattern: boolean,
    listener: DriverMessageListener,
  ): Promise<DriverSubscription> {
    const operation = pattern ? "psubscribe" : "subscribe";
    return this.#run(operation, () => {
      for (const name of channels) {
        if (pattern) {
          const entry = this.#patterns.get(name) ??
            { match: globRegExp(name), listeners: new Set<DriverMessageListener>() };
          entry.listeners.add(listener);
          this.#patterns.set(name, entry);
        } else {
          const listeners = this.#channels.get(name) ?? new Set<DriverMessageListener>();
          listeners.add(listener);
          this.#channels.set(name, listeners);
        }
      }
      this.store.subscriber(this.#client, true);
      return {
        close: () => {
          for (const name of channels) {
            const listeners = pattern
              ? this.#patterns.get(name)?.listeners
              : this.#channels.get(name);
            listeners?.delete(listener);
            if (listeners?.size === 0) {
              if (pattern) this.#patterns.delete(name);
              else this.#channels.delete(name);
            }
          }
          if (this.#channels.size === 0 && this.#patterns.size === 0) {
            this.store.subscriber(this.#client, false);
          }
          return Promise.resolve();
        },
      };
    });
  }

  setBits(key: string, offsets: readonly number[], ttlMs?: number): Promise<boolean[]> {
    return this.#run("setBits", () => {
      let highest = 0;
      for (const offset of offsets) if (offset > highest) highest = offset;
      const length = Math.floor(highest / 8) + 1;
      const entry = this.store.read(key, "setBits", "bits");
      if (entry === undefined) {
        const data = new Uint8Array(length);
        const previous = setBits(data, offsets);
        this.store.write(key, { type: "bits", data }, ttlMs ?? 0);
        return previous;
      }
      let data = entry.value.data as Uint8Array;
      if (data.length < length) {
        const grown = new Uint8Array(length);
        grown.set(data);
        entry.value = { type: "bits", data: data = grown };
      }
      const previous = setBits(data, offsets);
      this.store.changed(key, entry);
      if (ttlMs && entry.expiresAt === Infinity) this.store.setExpiry(key, ttlMs);
      return previous;
    });
  }
  getBits(key: string, offsets: readonly number[]): Promise<boolean[]> {
    return this.#run(
      "getBits",
      () => getBits(this.store.read(key, "getBits", "bits")?.value.data as Uint8Array, offsets),
    );
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#channels.clear();
      this.#patterns.clear();
      this.store.subscriber(this.#client, false);
      this.store.detach();
    }
    return Promise.resolve();
  }
}

/**
 * Creates a memory cache driver, the standalone default.
 *
 * @param options Bounds, sweep interval, or a store to share.
 * @returns The driver.
 */
export function memoryCache(options: MemoryCacheDriverOptions = {}): MemoryCacheDriver {
  return new MemoryCacheDriver(options.store ?? new MemoryCacheStore(options));
}
