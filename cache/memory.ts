/**
 * The standalone cache driver: strings, hashes, sets and sorted sets in
 * process memory with Redis semantics, bounded by entries and by approximate
 * bytes (least recently used first), with TTLs expired lazily on read and by
 * a periodic sweep that stops with the last driver's `close()`.
 *
 * @module
 */
import { closedDriverError, DriverError } from "../internal/errors.ts";
import { MAX_TIMER_MS, shownKey, unsafeIncrementError } from "./_util.ts";
import { type CacheDriver, WrongTypeError, type ZMember } from "./types.ts";

type Value =
  | { type: "string"; data: string }
  | { type: "hash"; data: Map<string, string> }
  | { type: "set"; data: Set<string> }
  | { type: "zset"; data: Map<string, number> };

interface Entry {
  key: string;
  value: Value;
  /** Unix ms, or Infinity. */
  expiresAt: number;
  bytes: number;
  /** Neighbours in recency order: `previous` was used less recently. */
  previous: Entry | undefined;
  next: Entry | undefined;
}

/** Options of {@linkcode MemoryCacheStore}. */
export interface MemoryCacheOptions {
  /**
   * Most entries kept; the least recently used go first.
   * @default {100000}
   */
  readonly maxEntries?: number;
  /**
   * Most approximate bytes kept (keys and values, UTF-16); the least recently used go first.
   * @default {67108864}
   */
  readonly maxBytes?: number;
  /**
   * How often expired entries are swept out, besides being dropped when read; at most
   * 2147483647 ms (the longest timer delay).
   * @default {1000}
   */
  readonly sweepIntervalMs?: number;
}

const ENTRY_OVERHEAD = 48;

function valueBytes(value: Value): number {
  switch (value.type) {
    case "string":
      return value.data.length * 2;
    case "hash": {
      let bytes = 0;
      for (const [field, data] of value.data) bytes += (field.length + data.length) * 2 + 16;
      return bytes;
    }
    case "set": {
      let bytes = 0;
      for (const member of value.data) bytes += member.length * 2 + 8;
      return bytes;
    }
    case "zset": {
      let bytes = 0;
      for (const member of value.data.keys()) bytes += member.length * 2 + 16;
      return bytes;
    }
  }
}

/** Redis's integer syntax: no sign on zero, no leading zeros, no spaces. */
const INTEGER = /^(?:0|-?[1-9]\d*)$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * `text + delta` as Redis's INCRBY and HINCRBY compute it, refusing a result that is not a safe
 * integer as the Redis driver does (Redis's own int64 overflow included).
 */
function increment(text: string | undefined, delta: number, key: string, field?: string): number {
  if (text === undefined) return delta;
  const current = INTEGER.test(text) ? Number(text) : NaN;
  // A safe number is exact: a text beyond the safe range never rounds into it.
  if (Number.isSafeInteger(current)) {
    const next = current + delta;
    if (Number.isSafeInteger(next)) return next;
    throw unsafeIncrementError(key, field);
  }
  // Rare: an integer beyond 2^53 stored by another client; exact arithmetic decides.
  const exact = Number.isNaN(current) ? undefined : BigInt(text);
  if (exact === undefined || exact < INT64_MIN || exact > INT64_MAX) {
    const what = field === undefined
      ? `key '${shownKey(key)}'`
      : `field '${field}' of key '${shownKey(key)}'`;
    throw new RangeError(`Cannot increment ${what} as its value is not an integer`);
  }
  const next = exact + BigInt(delta);
  if (next < -Number.MAX_SAFE_INTEGER || next > Number.MAX_SAFE_INTEGER) {
    throw unsafeIncrementError(key, field);
  }
  return Number(next);
}

function sortedMembers(data: Map<string, number>): ZMember[] {
  return [...data].map(([member, score]) => ({ member, score }))
    .sort((a, b) => a.score - b.score || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
}

function rankRange(length: number, start: number, stop: number): [number, number] {
  const from = Math.max(0, start < 0 ? length + start : start);
  const to = Math.min(length - 1, stop < 0 ? length + stop : stop);
  return [from, to];
}

/** The shared state behind memory drivers; several drivers on one store act as clients of one server. */
export class MemoryCacheStore {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #sweepIntervalMs: number;
  #bytes = 0;
  /** Least and most recently used entries: an intrusive list, so a hit moves in O(1). */
  #oldest: Entry | undefined;
  #newest: Entry | undefined;
  #expiring = 0;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #clients = 0;

  /**
   * Creates an empty store.
   *
   * @param options Bounds and sweep interval.
   * @throws {RangeError} When a bound is not a positive integer.
   */
  constructor(options: MemoryCacheOptions = {}) {
    const { maxEntries = 100_000, maxBytes = 64 * 1024 * 1024, sweepIntervalMs = 1000 } = options;
    for (
      const [name, value] of [["maxEntries", maxEntries], ["maxBytes", maxBytes], [
        "sweepIntervalMs",
        sweepIntervalMs,
      ]] as const
    ) {
      if (!Number.isSafeInteger(value) || value <= 0) {
        throw new RangeError(
          `Cannot create memory cache as '${name}' must be a positive integer: current value is ${value}`,
        );
      }
    }
    if (sweepIntervalMs > MAX_TIMER_MS) {
      // A longer interval would make setInterval fire every millisecond.
      throw new RangeError(
        `Cannot create memory cache as 'sweepIntervalMs' must be at most ${MAX_TIMER_MS} ms (the longest timer delay): current value is ${sweepIntervalMs}`,
      );
    }
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
    this.#sweepIntervalMs = sweepIntervalMs;
  }

  /** Entries held now (expired ones not yet swept included). */
  get size(): number {
    return this.#entries.size;
  }

  /** Approximate bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** @internal */
  attach(): void {
    this.#clients++;
  }

  /** @internal */
  detach(): void {
    if (--this.#clients > 0) return;
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  /** @internal The live entry, or undefined; checks the type when `type` is given. */
  read(key: string, operation: string, type?: Value["type"]): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== Infinity && entry.expiresAt <= Date.now()) {
      this.#remove(key, entry);
      return undefined;
    }
    if (type !== undefined && entry.value.type !== type) throw new WrongTypeError(key, operation);
    if (entry !== this.#newest) {
      this.#unlink(entry);
      this.#append(entry);
    }
    return entry;
  }

  /** @internal Stores a value; `ttlMs` undefined keeps the current expiry, 0 clears it. */
  write(key: string, value: Value, ttlMs: number | undefined): void {
    const previous = this.#entries.get(key);
    // The clock is read only when an expiry is set or kept (Date.now costs ~70 ns on Deno).
    const expiresAt = ttlMs === undefined
      ? (previous !== undefined && previous.expiresAt !== Infinity &&
          previous.expiresAt > Date.now()
        ? previous.expiresAt
        : Infinity)
      : ttlMs > 0
      ? Date.now() + ttlMs
      : Infinity;
    const bytes = key.length * 2 + valueBytes(value) + ENTRY_OVERHEAD;
    if (previous !== undefined) {
      // Overwritten in place: the map keeps its entry, and the list moves it to the newest end.
      if ((previous.expiresAt !== Infinity) !== (expiresAt !== Infinity)) {
        this.#trackExpiry(expiresAt !== Infinity ? 1 : -1);
      }
      this.#bytes += bytes - previous.bytes;
      previous.bytes = bytes;
      previous.value = value;
      previous.expiresAt = expiresAt;
      if (previous !== this.#newest) {
        this.#unlink(previous);
        this.#append(previous);
      }
    } else {
      const entry: Entry = { key, value, expiresAt, bytes, previous: undefined, next: undefined };
      this.#entries.set(key, entry);
      this.#append(entry);
      this.#bytes += bytes;
      if (expiresAt !== Infinity) this.#trackExpiry(1);
    }
    this.#evict();
  }

  /** @internal Re-measures an entry changed in place (hash, set, zset) and drops it when empty. */
  changed(key: string, entry: Entry): void {
    const empty = entry.value.type !== "string" && entry.value.data.size === 0;
    if (empty) return this.#remove(key, entry);
    this.#bytes -= entry.bytes;
    entry.bytes = key.length * 2 + valueBytes(entry.value) + ENTRY_OVERHEAD;
    this.#bytes += entry.bytes;
    this.#evict();
  }

  /** @internal */
  delete(key: string): boolean {
    const entry = this.read(key, "del");
    if (entry === undefined) return false;
    this.#remove(key, entry);
    return true;
  }

  /** @internal */
  setExpiry(key: string, ttlMs: number): boolean {
    const entry = this.read(key, "expire");
    if (entry === undefined) return false;
    if (entry.expiresAt === Infinity) this.#trackExpiry(1);
    entry.expiresAt = Date.now() + ttlMs;
    return true;
  }

  #append(entry: Entry): void {
    entry.previous = this.#newest;
    entry.next = undefined;
    if (this.#newest) this.#newest.next = entry;
    else this.#oldest = entry;
    this.#newest = entry;
  }

  #unlink(entry: Entry): void {
    if (entry.previous) entry.previous.next = entry.next;
    else this.#oldest = entry.next;
    if (entry.next) entry.next.previous = entry.previous;
    else this.#newest = entry.previous;
    entry.previous = entry.next = undefined;
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#unlink(entry);
    this.#bytes -= entry.bytes;
    if (entry.expiresAt !== Infinity) this.#trackExpiry(-1);
  }

  #evict(): void {
    while (
      this.#entries.size > this.#maxEntries ||
      (this.#bytes > this.#maxBytes && this.#entries.size > 1)
    ) {
      const oldest = this.#oldest as Entry;
      this.#remove(oldest.key, oldest);
    }
  }

  #trackExpiry(delta: number): void {
    this.#expiring += delta;
    if (this.#expiring > 0 && this.#sweepTimer === undefined && this.#clients > 0) {
      this.#sweepTimer = setInterval(() => this.sweep(), this.#sweepIntervalMs);
      Deno.unrefTimer(this.#sweepTimer);
    } else if (this.#expiring === 0 && this.#sweepTimer !== undefined) {
      clearInterval(this.#sweepTimer);
      this.#sweepTimer = undefined;
    }
  }

  /** Drops every expired entry now (the periodic sweep calls this). */
  sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#remove(key, entry);
  }
}

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
    this.store.write(key, { type: "zset", data: new Map() }, undefined);
    return this.store.read(key, operation, "zset");
  }

  ping(): Promise<void> {
    return this.#run("ping", () => {});
  }

  get(key: string): Promise<string | undefined> {
    try {
      return Promise.resolve(this.getSync(key));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  getSync(key: string): string | undefined {
    if (this.#closed) throw closedDriverError(this.name, "get");
    const entry = this.store.read(key, "get", "string");
    return entry === undefined ? undefined : entry.value.data as string;
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
      const data = entry.value.data as Map<string, number>;
      let added = 0;
      for (const { member, score } of members) {
        if (!data.has(member)) added++;
        data.set(member, score);
      }
      this.store.changed(key, entry);
      return added;
    });
  }
  zrange(key: string, start: number, stop: number, reverse: boolean): Promise<ZMember[]> {
    return this.#run("zrange", () => {
      const entry = this.#zset(key, "zrange", false);
      if (!entry) return [];
      const sorted = sortedMembers(entry.value.data as Map<string, number>);
      if (reverse) sorted.reverse();
      const [from, to] = rankRange(sorted.length, start, stop);
      return from > to ? [] : sorted.slice(from, to + 1);
    });
  }
  zrangeByScore(key: string, min: number, max: number, limit?: number): Promise<ZMember[]> {
    return this.#run("zrangeByScore", () => {
      const entry = this.#zset(key, "zrangeByScore", false);
      if (!entry) return [];
      const found = sortedMembers(entry.value.data as Map<string, number>).filter((m) =>
        m.score >= min && m.score <= max
      );
      return limit === undefined ? found : found.slice(0, limit);
    });
  }
  zrem(key: string, members: readonly string[]): Promise<number> {
    return this.#run("zrem", () => {
      const entry = this.#zset(key, "zrem", false);
      if (!entry) return 0;
      const removed = members.filter((member) =>
        (entry.value.data as Map<string, number>).delete(member)
      ).length;
      this.store.changed(key, entry);
      return removed;
    });
  }
  zremRangeByRank(key: string, start: number, stop: number): Promise<number> {
    return this.#run("zremRangeByRank", () => {
      const entry = this.#zset(key, "zremRangeByRank", false);
      if (!entry) return 0;
      const data = entry.value.data as Map<string, number>;
      const sorted = sortedMembers(data);
      const [from, to] = rankRange(sorted.length, start, stop);
      if (from > to) return 0;
      for (const { member } of sorted.slice(from, to + 1)) data.delete(member);
      this.store.changed(key, entry);
      return to - from + 1;
    });
  }
  zcard(key: string): Promise<number> {
    return this.#run(
      "zcard",
      () => (this.#zset(key, "zcard", false)?.value.data as Map<string, number>)?.size ?? 0,
    );
  }
  zcount(key: string, min: number, max: number): Promise<number> {
    return this.#run("zcount", () => {
      const data = this.#zset(key, "zcount", false)?.value.data as Map<string, number> | undefined;
      let count = 0;
      for (const score of data?.values() ?? []) if (score >= min && score <= max) count++;
      return count;
    });
  }
  zscore(key: string, member: string): Promise<number | undefined> {
    return this.#run(
      "zscore",
      () => (this.#zset(key, "zscore", false)?.value.data as Map<string, number>)?.get(member),
    );
  }
  zincrBy(key: string, member: string, delta: number): Promise<number> {
    return this.#run("zincrBy", () => {
      const entry = this.#zset(key, "zincrBy", true)!;
      const data = entry.value.data as Map<string, number>;
      const next = (data.get(member) ?? 0) + delta;
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

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
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
