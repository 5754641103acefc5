/**
 * The standalone rate-limit driver: buckets in process memory, bounded in
 * keys, idle (full) buckets swept out, time from an injectable clock.
 *
 * @module
 */
import type { Clock } from "../internal/clock.ts";
import { decide, type Decision, type RateLimitDriver, type Rule } from "./types.ts";

interface Bucket {
  state: number[];
  /** When the bucket is full again and can be forgotten. */
  idleAt: number;
}

/** Options of {@linkcode memoryRateLimit}. */
export interface MemoryRateLimitOptions {
  /**
   * Most keys tracked; beyond it, idle (full) buckets go first, then the oldest created.
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
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxKeys: number;
  readonly #clock: Pick<Clock, "now">;
  readonly #sweepIntervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

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
  takeSync(key: string, rule: Required<Rule>, cost: number): Decision {
    const now = this.#clock.now();
    const bucket = this.#buckets.get(key);
    const { decision, state, ttlMs } = decide(
      rule,
      cost,
      now,
      bucket && bucket.idleAt > now ? bucket.state : undefined,
    );
    if (bucket) {
      // Updated in place: eviction drops idle buckets first, then the oldest created.
      bucket.state = state;
      bucket.idleAt = now + ttlMs;
    } else {
      this.#buckets.set(key, { state, idleAt: now + ttlMs });
      if (this.#buckets.size > this.#maxKeys) this.#evict(now);
      this.#timer ??= this.#startSweep();
    }
    return decision;
  }

  take(key: string, rule: Required<Rule>, cost: number): Promise<Decision> {
    return Promise.resolve(this.takeSync(key, rule, cost));
  }

  /** Keys tracked now. */
  get size(): number {
    return this.#buckets.size;
  }

  #evict(now: number): void {
    this.sweep(now);
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys) break;
      this.#buckets.delete(key);
    }
  }

  /** Forgets buckets that are full again: they behave exactly like absent ones. */
  sweep(now: number = this.#clock.now()): void {
    for (const [key, bucket] of this.#buckets) if (bucket.idleAt <= now) this.#buckets.delete(key);
  }

  #startSweep(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => this.sweep(), this.#sweepIntervalMs);
    Deno.unrefTimer(timer);
    return timer;
  }

  close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#buckets.clear();
    return Promise.resolve();
  }
}

/** The memory driver, with its synchronous take and sweep exposed. */
export interface MemoryRateLimitDriver extends RateLimitDriver {
  /** Takes synchronously. */
  takeSync(key: string, rule: Required<Rule>, cost: number): Decision;
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
