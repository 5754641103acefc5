/**
 * Snowflake ids: time since a custom epoch, worker id and a per-millisecond
 * sequence packed into a positive 63-bit integer. A generator never returns a
 * duplicate: when the sequence of a millisecond is used up it waits for the
 * next one, and when the clock steps back it waits up to a bound, then fails.
 *
 * @module
 */
import { type Clock, systemClock } from "../internal/clock.ts";
import { checkConfig } from "../internal/config.ts";

/** Static configuration of a Snowflake generator. */
export interface UidConfig {
  /**
   * This process's worker id, from 0 to 2^workerIdBits − 1, unique among the replicas of a
   * service. Needed unless `uid.create(config, { coord })` leases one, which replaces it.
   */
  readonly workerId?: number;
  /** Service name under which `uid.create(config, { coord })` leases the worker id. */
  readonly service?: string;
  /**
   * Start of the generator's time, in Unix milliseconds; must not be in the future.
   * @default {1704067200000} (2024-01-01T00:00:00Z)
   */
  readonly epochMs?: number;
  /**
   * Bits for the worker id.
   * @default {10}
   */
  readonly workerIdBits?: number;
  /**
   * Bits for the per-millisecond sequence.
   * @default {12}
   */
  readonly sequenceBits?: number;
  /**
   * How far back the clock may step before `nextId` fails instead of waiting it out.
   * @default {5}
   */
  readonly maxBackwardMs?: number;
}

/** The fields packed into a Snowflake id. */
export interface SnowflakeParts {
  /** Creation time in Unix milliseconds. */
  readonly timestampMs: number;
  /** Worker that generated the id. */
  readonly workerId: number;
  /** Position within its millisecond. */
  readonly sequence: number;
}

/** Thrown by `nextId` when the clock stepped back further than `maxBackwardMs`. */
export class ClockMovedBackwardsError extends Error {
  /** Stable code for branching without `instanceof`. */
  readonly code = "UID_CLOCK_MOVED_BACKWARDS";
  /** How many milliseconds the clock is behind the last issued id. */
  readonly behindMs: number;
  /** The configured bound. */
  readonly maxBackwardMs: number;

  /**
   * Creates the error.
   *
   * @param behindMs How far the clock is behind.
   * @param maxBackwardMs The bound that was exceeded.
   */
  constructor(behindMs: number, maxBackwardMs: number) {
    super(
      `Cannot generate a Snowflake id as the clock moved back ${behindMs} ms, more than maxBackwardMs (${maxBackwardMs} ms); refusing to risk a duplicate`,
    );
    this.name = "ClockMovedBackwardsError";
    this.behindMs = behindMs;
    this.maxBackwardMs = maxBackwardMs;
  }
}

/** The bit layout of ids, derived from a config. */
export interface SnowflakeLayout {
  /** Unix milliseconds of time zero. */
  readonly epochMs: number;
  /** Bits of the timestamp (63 − worker − sequence). */
  readonly timestampBits: number;
  /** Bits of the worker id. */
  readonly workerIdBits: number;
  /** Bits of the sequence. */
  readonly sequenceBits: number;
}

/** Ids after which the clock is re-read with a sleep, so a frozen clock cannot spin a core forever. */
const SPIN_READS = 100_000;
const MIN_TIMESTAMP_BITS = 39; // about 17 years of milliseconds

function fail(field: string, rule: string, value: unknown): never {
  throw new RangeError(
    `Cannot create Snowflake generator as '${field}' must be ${rule}: current value is ${
      JSON.stringify(value)
    }`,
  );
}

function requireInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(field, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

const CONFIG_KEYS = [
  "workerId",
  "service",
  "epochMs",
  "workerIdBits",
  "sequenceBits",
  "maxBackwardMs",
] as const satisfies readonly (keyof UidConfig)[];

/**
 * Checks a config and derives the bit layout from it.
 *
 * @param config The configuration.
 * @param nowMs Current time, to reject an epoch in the future.
 * @returns The layout.
 * @throws {RangeError} Naming the field, the rule and the bad value.
 * @throws {TypeError} When the config is not an object or holds an unknown key.
 */
export function snowflakeLayout(config: UidConfig, nowMs: number): SnowflakeLayout {
  checkConfig("Snowflake generator", config, CONFIG_KEYS);
  const workerIdBits = requireInteger("workerIdBits", config.workerIdBits ?? 10, 0, 22);
  const sequenceBits = requireInteger("sequenceBits", config.sequenceBits ?? 12, 1, 22);
  const timestampBits = 63 - workerIdBits - sequenceBits;
  if (timestampBits < MIN_TIMESTAMP_BITS) {
    fail(
      "workerIdBits + sequenceBits",
      `at most ${63 - MIN_TIMESTAMP_BITS} to leave ${MIN_TIMESTAMP_BITS} bits of time`,
      workerIdBits + sequenceBits,
    );
  }
  const epochMs = requireInteger("epochMs", config.epochMs ?? 1704067200000, 0, nowMs);
  if (nowMs - epochMs >= 2 ** timestampBits) {
    fail("epochMs", `within the ${timestampBits}-bit time range of now`, epochMs);
  }
  requireInteger("workerId", config.workerId, 0, 2 ** workerIdBits - 1);
  requireInteger("maxBackwardMs", config.maxBackwardMs ?? 5, 0, 60_000);
  return { epochMs, timestampBits, workerIdBits, sequenceBits };
}

/**
 * Splits an id into its time, worker and sequence.
 *
 * @param id The id, as bigint or decimal string.
 * @param layout The layout the id was generated with.
 * @returns The parts.
 * @throws {TypeError} When `id` is not a decimal integer.
 * @throws {RangeError} When `id` is negative or wider than 63 bits.
 */
export function parseSnowflake(id: bigint | string, layout: SnowflakeLayout): SnowflakeParts {
  let value: bigint;
  if (typeof id === "bigint") {
    value = id;
  } else if (typeof id === "string" && /^[0-9]{1,19}$/.test(id)) {
    value = BigInt(id);
  } else {
    throw new TypeError(
      `Cannot parse Snowflake id as it must be a bigint or a decimal string: current value is ${
        JSON.stringify(String(id))
      }`,
    );
  }
  if (value < 0n || value >= 1n << 63n) {
    throw new RangeError(
      `Cannot parse Snowflake id as it must be between 0 and 2^63 − 1: current value is ${value}`,
    );
  }
  const sequenceBits = BigInt(layout.sequenceBits);
  const workerIdBits = BigInt(layout.workerIdBits);
  return {
    timestampMs: Number(value >> (sequenceBits + workerIdBits)) + layout.epochMs,
    workerId: Number((value >> sequenceBits) & ((1n << workerIdBits) - 1n)),
    sequence: Number(value & ((1n << sequenceBits) - 1n)),
  };
}

/**
 * The synchronous core of a Snowflake generator.
 *
 * @example Two ids in order
 * ```ts
 * import { SnowflakeGenerator } from "./snowflake.ts";
 * import assert from "node:assert/strict";
 *
 * const ids = new SnowflakeGenerator({ workerId: 7 });
 * const first = ids.nextId();
 * assert.ok(ids.nextId() > first);
 * assert.equal(ids.parse(first).workerId, 7);
 * ```
 */
export class SnowflakeGenerator {
  /** The layout of this generator's ids. */
  readonly layout: SnowflakeLayout;
  /** This generator's worker id. */
  readonly workerId: number;
  readonly #clock: Clock;
  readonly #maxBackwardMs: number;
  readonly #sequenceMask: number;
  readonly #workerPart: number;
  readonly #timeShift: bigint;
  readonly #maxElapsed: number;
  #lastElapsed = -1;
  #sequence = 0;
  #timePart = 0n;
  #stopped: Error | undefined;

  /**
   * @param config Worker id, epoch, bit widths and the backward-step bound.
   * @param clock Time source; the system clock by default.
   * @throws {RangeError} On invalid config.
   */
  constructor(config: UidConfig, clock: Clock = systemClock) {
    this.layout = snowflakeLayout(config, clock.now());
    // snowflakeLayout checked it is an integer in range.
    const workerId = config.workerId as number;
    this.workerId = workerId;
    this.#clock = clock;
    this.#maxBackwardMs = config.maxBackwardMs ?? 5;
    this.#sequenceMask = 2 ** this.layout.sequenceBits - 1;
    this.#workerPart = workerId * 2 ** this.layout.sequenceBits;
    this.#timeShift = BigInt(this.layout.workerIdBits + this.layout.sequenceBits);
    this.#maxElapsed = 2 ** this.layout.timestampBits - 1;
  }

  /**
   * The next id, strictly greater than every id this generator returned before.
   *
   * @returns The id.
   * @throws {ClockMovedBackwardsError} When the clock stepped back more than `maxBackwardMs`.
   * @throws {Error} After {@linkcode SnowflakeGenerator.stop}, with the reason given there.
   */
  nextId(): bigint {
    if (this.#stopped !== undefined) throw this.#stopped;
    let elapsed = this.#clock.now() - this.layout.epochMs;
    if (elapsed === this.#lastElapsed) {
      this.#sequence = (this.#sequence + 1) & this.#sequenceMask;
      if (this.#sequence === 0) elapsed = this.#awaitNextMs();
    } else if (elapsed > this.#lastElapsed) {
      this.#sequence = 0;
    } else {
      elapsed = this.#awaitClockCatchUp(elapsed);
    }
    if (elapsed !== this.#lastElapsed) {
      if (elapsed > this.#maxElapsed) {
        throw new RangeError(
          `Cannot generate a Snowflake id as the time since epochMs no longer fits ${this.layout.timestampBits} bits`,
        );
      }
      this.#lastElapsed = elapsed;
      this.#timePart = BigInt(elapsed) << this.#timeShift;
    }
    return this.#timePart | BigInt(this.#workerPart + this.#sequence);
  }

  /**
   * The next id as a decimal string, for JSON and languages without 64-bit integers.
   *
   * @returns The id.
   */
  nextIdString(): string {
    return this.nextId().toString();
  }

  /**
   * Splits an id of this layout into its parts.
   *
   * @param id The id, as bigint or decimal string.
   * @returns Time, worker and sequence.
   */
  parse(id: bigint | string): SnowflakeParts {
    return parseSnowflake(id, this.layout);
  }

  /**
   * Makes every later `nextId` throw `reason` (used when a leased worker id is lost).
   *
   * @param reason The error to throw.
   */
  stop(reason: Error): void {
    this.#stopped ??= reason;
  }

  /** The sequence of this millisecond is used up: wait for the clock to tick, then restart at 0. */
  #awaitNextMs(): number {
    const last = this.#lastElapsed;
    for (;;) {
      for (let reads = 0; reads < SPIN_READS; reads++) {
        const elapsed = this.#clock.now() - this.layout.epochMs;
        if (elapsed > last) return elapsed;
        if (elapsed < last) return this.#awaitClockCatchUp(elapsed);
      }
      this.#clock.sleepSync(1);
    }
  }

  /** The clock is behind the last id: wait it out if within the bound, else fail. */
  #awaitClockCatchUp(elapsed: number): number {
    let waitedMs = 0;
    while (elapsed <= this.#lastElapsed) {
      const behindMs = this.#lastElapsed - elapsed;
      if (waitedMs + behindMs > this.#maxBackwardMs) {
        throw new ClockMovedBackwardsError(behindMs, this.#maxBackwardMs);
      }
      this.#clock.sleepSync(behindMs + 1);
      waitedMs += behindMs + 1;
      elapsed = this.#clock.now() - this.layout.epochMs;
    }
    this.#sequence = 0;
    return elapsed;
  }
}
