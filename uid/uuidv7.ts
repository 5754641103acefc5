/**
 * RFC 9562 UUIDv7: 48-bit Unix milliseconds, then a 26-bit counter (method 1,
 * "fixed-length dedicated counter bits"), then 48 random bits. Ids from one
 * generator sort strictly in creation order, within a millisecond too.
 *
 * @module
 */
import { type Clock, systemClock } from "../internal/clock.ts";

const HEX2: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => i.toString(16).padStart(2, "0"),
);
// Built on first use: 3 hex digits of rand_a, and variant bits `10` + 14 counter bits.
let hex3: readonly string[] = [];
let hex4Variant: readonly string[] = [];

const COUNTER_MAX = 0x3ff_ffff; // 26 bits: 12 in rand_a, 14 at the top of rand_b
const COUNTER_SEED_MASK = 0x1ff_ffff; // seeds leave the top bit free, so ≥ 2^25 ids fit in each ms
const TIME_MAX = 2 ** 48 - 1;
const POOL_IDS = 512;

/** Options of {@linkcode createUuidV7}. */
export interface UuidV7Options {
  /** Time source; only `now()` is used. */
  readonly clock?: Pick<Clock, "now">;
  /** Fills a byte array with random values; `crypto.getRandomValues` by default. */
  readonly random?: (bytes: Uint8Array) => void;
}

/**
 * Creates an independent UUIDv7 generator. {@linkcode uuidv7} is one shared
 * instance; create your own only to inject a clock or a random source.
 *
 * When the clock steps back, the generator keeps the last timestamp and goes
 * on counting; when the counter of one millisecond runs out, it moves its
 * timestamp one millisecond ahead (both as RFC 9562 §6.2 allows), so ids never
 * repeat and never sort out of order.
 *
 * @param options Injected clock and randomness.
 * @returns A function returning a new id in canonical lowercase form.
 *
 * @example Ids sort in creation order
 * ```ts
 * import { createUuidV7 } from "./uuidv7.ts";
 * import assert from "node:assert/strict";
 *
 * const next = createUuidV7({ clock: { now: () => 1_700_000_000_000 } });
 * const a = next();
 * const b = next();
 * assert.ok(a < b);
 * assert.equal(a.slice(0, 13), "018bcfe5-6800");
 * ```
 */
export function createUuidV7(options: UuidV7Options = {}): () => string {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? ((bytes: Uint8Array) => crypto.getRandomValues(bytes));
  if (hex3.length === 0) {
    hex3 = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(3, "0"));
    hex4Variant = Array.from({ length: 16384 }, (_, i) => (0x8000 | i).toString(16));
  }
  const seedBytes = new Uint8Array(4);
  const poolBytes = new Uint8Array(POOL_IDS * 6);
  let pool = "";
  let poolOffset = POOL_IDS * 12;
  let lastMs = -1;
  let prefix = "";
  let counter = 0;

  const seedCounter = (): void => {
    random(seedBytes);
    counter = ((seedBytes[0] << 24) | (seedBytes[1] << 16) | (seedBytes[2] << 8) | seedBytes[3]) &
      COUNTER_SEED_MASK;
  };
  const setTime = (ms: number): void => {
    if (ms > TIME_MAX) {
      throw new RangeError(`Cannot create UUIDv7 as the time ${ms} exceeds 48 bits`);
    }
    lastMs = ms;
    const hex = ms.toString(16).padStart(12, "0");
    prefix = hex.slice(0, 8) + "-" + hex.slice(8) + "-7";
  };
  // 48 random bits per id come from a pool of hex text refilled every POOL_IDS ids.
  const refillPool = (): void => {
    random(poolBytes);
    let text = "";
    for (let i = 0; i < poolBytes.length; i++) text += HEX2[poolBytes[i]];
    pool = text;
    poolOffset = 0;
  };

  return () => {
    const now = clock.now();
    if (now > lastMs) {
      setTime(now);
      seedCounter();
    } else if (++counter > COUNTER_MAX) {
      setTime(lastMs + 1);
      seedCounter();
    }
    if (poolOffset === POOL_IDS * 12) refillPool();
    const tail = pool.slice(poolOffset, poolOffset += 12);
    return prefix + hex3[counter >>> 14] + "-" + hex4Variant[counter & 0x3fff] + "-" + tail;
  };
}

let shared: (() => string) | undefined;

/**
 * A new RFC 9562 version 7 UUID, monotonic within this process.
 *
 * @returns The UUID in canonical lowercase form.
 *
 * @example
 * ```ts
 * import { uuidv7 } from "./uuidv7.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(uuidv7(), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
 * ```
 */
export function uuidv7(): string {
  return (shared ??= createUuidV7())();
}

/**
 * The Unix-millisecond timestamp embedded in a UUIDv7.
 *
 * @param id A UUIDv7 in canonical form.
 * @returns Milliseconds since the Unix epoch.
 * @throws {TypeError} When `id` is not a canonical UUIDv7.
 */
export function uuidv7Time(id: string): number {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) {
    throw new TypeError(
      `Cannot read UUIDv7 time as 'id' is not a UUIDv7: current value is ${JSON.stringify(id)}`,
    );
  }
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
