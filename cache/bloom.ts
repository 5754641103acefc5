/**
 * Bloom filters on a cache's backend: a bit string under one key, set and read
 * through the driver's `setBits` / `getBits` (BITFIELD on plain Redis, no
 * module needed), with the hashing done here once for every driver.
 *
 * @module
 */
import { murmur2 } from "../internal/hash.ts";
import { underSignalOption } from "../internal/signal.ts";
import { requireText, requireTtl } from "./_util.ts";
import type { OpsContext } from "./_ops.ts";

/** Sizing of a Bloom filter. */
export interface BloomOptions {
  /** How many items the filter is made for: a positive integer. */
  readonly capacity: number;
  /** The false-positive rate wanted at `capacity` items: 0 < errorRate < 1 (0.01 for 1 %). */
  readonly errorRate: number;
  /**
   * Expiry of the filter's key, set by the first `add` that finds it without one (PEXPIRE NX):
   * the filter lasts `ttlMs` from its creation, then starts empty again. Without it the key
   * never expires.
   */
  readonly ttlMs?: number;
}

/** The optional `signal` of a Bloom filter call. */
export interface BloomCallOptions {
  /** Ends the wait with the signal's reason; a write already sent may still apply. */
  readonly signal?: AbortSignal;
}

/** An item of a Bloom filter: a string, or an integer (number or bigint) as its decimal digits. */
export type BloomItem = string | number | bigint;

/**
 * A Bloom filter: `has` never answers false for an added item, and answers true for an item never
 * added with about `errorRate` probability while at most `capacity` items were added.
 */
export interface BloomFilter {
  /** The filter's name, which is its key under the provider's key prefix. */
  readonly name: string;
  /** Its size in bits, m = ⌈−n·ln p / (ln 2)²⌉. */
  readonly bits: number;
  /** Bits set per item, k = round(m/n · ln 2), at least 1. */
  readonly hashes: number;
  /** Adds an item; resolves to true when it was probably new (some of its bits were unset). */
  add(item: BloomItem, options?: BloomCallOptions): Promise<boolean>;
  /** Adds items in one round trip; resolves to `add`'s answer for each, in order. */
  addMany(items: readonly BloomItem[], options?: BloomCallOptions): Promise<boolean[]>;
  /** Whether the item may have been added (false means certainly not). */
  has(item: BloomItem, options?: BloomCallOptions): Promise<boolean>;
  /** `has` for several items in one round trip. */
  hasMany(items: readonly BloomItem[], options?: BloomCallOptions): Promise<boolean[]>;
  /** Empties the filter (deletes its key). */
  clear(options?: BloomCallOptions): Promise<void>;
}

/** The largest bit string Redis holds: 512 MiB, 2^32 bits. */
export const MAX_BLOOM_BITS = 2 ** 32;

/** m and k of a filter for `capacity` items at `errorRate`, by the standard formulas. */
export function bloomSize(capacity: number, errorRate: number): { bits: number; hashes: number } {
  const bits = Math.ceil(-capacity * Math.log(errorRate) / Math.LN2 ** 2);
  return { bits, hashes: Math.max(1, Math.round(bits / capacity * Math.LN2)) };
}

const encoder = new TextEncoder();

/** 32-bit FNV-1a of bytes: the second hash of the double hashing. */
function fnv1aBytes(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

/**
 * The bit offsets of an item: g_i = (h1 + i·h2) mod m for i < k, with h1 = murmur2 (Kafka's) and
 * h2 = FNV-1a (forced odd) of the item's UTF-8 bytes, as unsigned 32-bit integers.
 */
export function bloomOffsets(item: string, bits: number, hashes: number): number[] {
  const bytes = encoder.encode(item);
  const h1 = murmur2(bytes) >>> 0;
  const h2 = (fnv1aBytes(bytes) | 1) >>> 0;
  const offsets = new Array<number>(hashes);
  // h1 + i·h2 < 2^32 · (k + 1), exact in a double.
  for (let i = 0; i < hashes; i++) offsets[i] = (h1 + i * h2) % bits;
  return offsets;
}

function itemText(action: string, item: unknown): string {
  if (typeof item === "bigint") return item.toString();
  if (typeof item === "number") {
    if (!Number.isSafeInteger(item)) {
      throw new TypeError(
        `Cannot ${action} as a number 'item' must be a safe integer: current value is ${item}`,
      );
    }
    return String(item);
  }
  return requireText(action, "item", item);
}

function requireItems(action: string, items: readonly BloomItem[]): string[] {
  if (!Array.isArray(items)) {
    throw new TypeError(`Cannot ${action} as 'items' must be an array: current value is ${items}`);
  }
  return items.map((item) => itemText(action, item));
}

/** Checks a filter's options; returns its size. */
function checkOptions(name: string, options: BloomOptions) {
  const action = `create bloom filter '${name}'`;
  const { capacity, errorRate, ttlMs } = options ?? {} as BloomOptions;
  if (typeof capacity !== "number" || !Number.isSafeInteger(capacity) || capacity <= 0) {
    throw new RangeError(
      `Cannot ${action} as 'capacity' must be a positive integer: current value is ${capacity}`,
    );
  }
  if (typeof errorRate !== "number" || !(errorRate > 0 && errorRate < 1)) {
    throw new RangeError(
      `Cannot ${action} as 'errorRate' must be a number between 0 and 1 (exclusive): current value is ${errorRate}`,
    );
  }
  const size = bloomSize(capacity, errorRate);
  if (size.bits > MAX_BLOOM_BITS) {
    throw new RangeError(
      `Cannot ${action} as 'capacity' ${capacity} at 'errorRate' ${errorRate} needs ${size.bits} bits, more than the ${MAX_BLOOM_BITS} a Redis string holds`,
    );
  }
  return { ...size, ttlMs: ttlMs === undefined ? 0 : requireTtl(action, ttlMs) };
}

/**
 * Makes the `bloom` function of a provider.
 *
 * @param context The provider's operations context.
 * @returns `bloom(name, options)`.
 */
export function bloomFunction(
  context: OpsContext,
): (name: string, options: BloomOptions) => BloomFilter {
  const { driver, keyspace } = context;
  return (name, options) => {
    const key = keyspace.key(`create bloom filter '${name}'`, name);
    const { bits, hashes, ttlMs } = checkOptions(name, options);
    const offsetsOf = (texts: string[]) =>
      texts.flatMap((text) => bloomOffsets(text, bits, hashes));
    /** Per item: whether any of its k bits is `expected`. */
    const anyPerItem = (found: boolean[], count: number, expected: boolean) => {
      const result = new Array<boolean>(count);
      for (let i = 0; i < count; i++) {
        result[i] = found.slice(i * hashes, (i + 1) * hashes).some((bit) => bit === expected);
      }
      return result;
    };
    const addMany = (action: string, items: readonly BloomItem[], options?: BloomCallOptions) =>
      underSignalOption(action, options?.signal, async () => {
        const texts = requireItems(action, items);
        if (texts.length === 0) return []; // an empty batch: nothing to send
        const previous = await driver.setBits(key, offsetsOf(texts), ttlMs || undefined);
        // New when some bit was unset before.
        return anyPerItem(previous, texts.length, false);
      });
    const hasMany = (action: string, items: readonly BloomItem[], options?: BloomCallOptions) =>
      underSignalOption(action, options?.signal, async () => {
        const texts = requireItems(action, items);
        if (texts.length === 0) return [];
        const found = await driver.getBits(key, offsetsOf(texts));
        return anyPerItem(found, texts.length, false).map((missing) => !missing);
      });
    return {
      name,
      bits,
      hashes,
      add: async (item, options) =>
        (await addMany(`add to bloom filter '${name}'`, [item], options))[0],
      addMany: (items, options) => addMany(`add to bloom filter '${name}'`, items, options),
      has: async (item, options) =>
        (await hasMany(`check bloom filter '${name}'`, [item], options))[0],
      hasMany: (items, options) => hasMany(`check bloom filter '${name}'`, items, options),
      clear: (options) =>
        underSignalOption(`clear bloom filter '${name}'`, options?.signal, async () => {
          await driver.del([key]);
        }),
    };
  };
}
