/**
 * The standalone rate-limit driver: buckets in process memory, bounded in
 * keys, idle (full) buckets swept out, time from an injectable clock.
 *
 * @module
 */
import type { Clock } from "../internal/clock.ts";
import { closedDriverError } from "../internal/errors.ts";
import {
  type BucketState,
  decide,
  type Decision,
  type RateLimitDriver,
  type Rule,
} from "./types.ts";

/** Options of {@linkcode memoryRateLimit}. */
export interface MemoryRateLimitOptions {
  /**
   * Most keys tracked (over all rules); beyond it, each new key drops an idle (full) bucket
   * among the 16 oldest created, or else the oldest.
   * @default {100000}
   */
  readonly maxKeys?: number;
  /**
   * How often idle (full again) buckets are swept out.
   * @default {10000}
   */
  readonly sweepIntervalMs?: number;
  /** Time source; the system clock by default. */
  readonly clock?: Pick<Clock, "now">;
}

class MemoryRateLimit implements RateLimitDriver {
  readonly name = "memory";
  /** Buckets by rule name, then by key: no key is concatenated or re-hashed per call. */
  readonly #rules = new Map<string, Map<string, BucketState>>();
  #size = 0;
  readonly #maxKeys: number;
  readonly #clock: Pick<Clock, "now">;
  readonly #sweepIntervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(options: MemoryRateLimitOptions) {
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
    this.#clock = options.clock ?? Date;
    if (!Number.isSafeInteger(this.#maxKeys) || this.#maxKeys < 1) {
      throw new RangeError(
        `Cannot create memory rate limiter as 'maxKeys' must be a positive integer: current value is ${this.#maxKeys}`,
      );
    }
  }

  /** Synchronous take, for the provider's fast path and the rescue limiter. */
  takeSync(
    ruleName: string,
    key: string,
    rule: Required<Rule>,
    cost: number,
    now: number = this.#clock.now(),
  ): Decision {
    let buckets = this.#rules.get(ruleName);
    if (buckets === undefined) this.#rules.set(ruleName, buckets = new Map());
    const bucket = buckets.get(key);
    if (bucket !== undefined) return decide(rule, cost, now, bucket);
    const created: BucketState = { fullAt: 0 };
    const decision = decide(rule, cost, now, created);
    buckets.set(key, created);
    if (++this.#size > this.#maxKeys) this.#evict(now);
    this.#timer ??= this.#startSweep();
    return decision;
  }

  take(ruleName: string, key: string, rule: Required<Rule>, cost: number): Promise<Decision> {
    try {
      return Promise.resolve(this.takeSync(ruleName, key, rule, cost));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Keys tracked now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Drops one bucket: the first idle one among the oldest few, else the oldest. Bounded work, so
   * a flood of new keys at the bound costs O(1) per key, not a sweep each.
   */
  #evict(now: number): void {
    let checked = 0;
    let oldest: [Map<string, BucketState>, string] | undefined;
    for (const buckets of this.#rules.values()) {
      for (const [key, bucket] of buckets) {
        if (bucket.fullAt <= now) return this.#drop(buckets, key);
        oldest ??= [buckets, key];
        if (++checked === 16) return this.#drop(...oldest);
      }
    }
    if (oldest) this.#drop(...oldest);
  }

  #drop(buckets: Map<string, BucketState>, key: string): void {
    buckets.delete(key);
    this.#size--;
  }

  /** Forgets buckets that are full again: they behave exactly like absent ones. */
  sweep(now: number = this.#clock.now()): void {
    for (const [ruleName, buckets] of this.#rules) {
      for (const [key, bucket] of buckets) if (bucket.fullAt <= now) this.#drop(buckets, key);
      if (buckets.size === 0) this.#rules.delete(ruleName);
    }
  }

  #startSweep(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => this.sweep(), this.#sweepIntervalMs);
    Deno.unrefTimer(timer);
    return timer;
  }

  ping(): Promise<void> {
    return this.#closed ? Promise.reject(closedDriverError(this.name, "ping")) : Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#rules.clear();
    this.#size = 0;
    return Promise.resolve();
  }
}

/** The memory driver, with its synchronous take and sweep exposed. */
export interface MemoryRateLimitDriver extends RateLimitDriver {
  /**
   * Takes synchronously, as of `now` (Unix ms, the clock's time by default): the rescue limiter
   * passes the time a request arrived, which may be earlier than a decision already made.
   */
  takeSync(
    ruleName: string,
    key: string,
    rule: Required<Rule>,
    cost: number,
    now?: number,
  ): Decision;
  /** Drops full buckets now. */
  sweep(now?: number): void;
  /** Keys tracked now. */
  readonly size: number;
}

/**
 * Creates the memory rate-limit driver, the standalone default.
 *
 * @param options Key bound, sweep interval, clock.
 * @returns The driver.
 */
export function memoryRateLimit(options: MemoryRateLimitOptions = {}): MemoryRateLimitDriver {
  return new MemoryRateLimit(options);
}
