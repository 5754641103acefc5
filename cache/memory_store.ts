/**
 * The shared state behind memory cache drivers: entries by key, bounded by
 * count and approximate bytes with least-recently-used eviction (an intrusive
 * list), and TTLs expired lazily on read and by a periodic sweep that runs
 * only while some entry expires and some driver is attached.
 *
 * @module
 */
import { MAX_TIMER_MS } from "./_util.ts";
import { WrongTypeError } from "./types.ts";
import { type Value, valueBytes } from "./memory_value.ts";

/** One key's value, expiry and size, linked into the recency list. */
export interface Entry {
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

/** A client of a store's pub/sub: delivers a message and says how many subscriptions it reached. */
export interface PubSubClient {
  /** @internal */
  deliver(channel: string, message: string): number;
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
  readonly #subscribers = new Set<PubSubClient>();

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

  /** @internal Registers (or, with `false`, drops) a driver that has subscriptions. */
  subscriber(client: PubSubClient, subscribed: boolean): void {
    if (subscribed) this.#subscribers.add(client);
    else this.#subscribers.delete(client);
  }

  /** @internal Fans a message out to every subscribed driver; returns the receivers reached. */
  publish(channel: string, message: string): number {
    let reached = 0;
    for (const client of [...this.#subscribers]) reached += client.deliver(channel, message);
    return reached;
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
    const empty = entry.value.type !== "string" && entry.value.type !== "bits" &&
      entry.value.data.size === 0;
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
