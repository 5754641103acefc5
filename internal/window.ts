/**
 * Counts over a sliding time window, kept in ten buckets: what the retry
 * budget and the circuit breaker judge recent traffic by.
 *
 * @module
 */
import type { Clock } from "./clock.ts";

const BUCKETS = 10;

/**
 * A few counters, numbered from 0, summed over the last `windowMs` to a tenth of the window: a
 * count leaves the window whole, in the tenth it was made in.
 */
export class RollingCounts {
  readonly #width: number;
  readonly #bucketMs: number;
  readonly #clock: Pick<Clock, "now">;
  /** Bucket `b`'s count of counter `n` at `b * width + n`. */
  readonly #counts: Float64Array;
  readonly #totals: Float64Array;
  #bucket = -1;

  /**
   * Creates empty counters.
   *
   * @param width How many counters.
   * @param windowMs The window, at least 10 ms.
   * @param clock Time source.
   */
  constructor(width: number, windowMs: number, clock: Pick<Clock, "now">) {
    this.#width = width;
    this.#bucketMs = windowMs / BUCKETS;
    this.#clock = clock;
    this.#counts = new Float64Array(BUCKETS * width);
    this.#totals = new Float64Array(width);
  }

  /** Adds one to counter `counter` now. */
  add(counter: number): void {
    this.#counts[this.advance() * this.#width + counter]++;
    this.#totals[counter]++;
  }

  /** Counter `counter` summed over the window, as of the last `add` or `advance`. */
  total(counter: number): number {
    return this.#totals[counter];
  }

  /** Forgets every count. */
  clear(): void {
    this.#counts.fill(0);
    this.#totals.fill(0);
  }

  /** Moves the window to now, dropping the buckets that left it; the current bucket's index. */
  advance(): number {
    const bucket = Math.floor(this.#clock.now() / this.#bucketMs);
    // A clock that steps back leaves the window where it is.
    if (bucket > this.#bucket) {
      const expired = this.#bucket < 0 ? BUCKETS : Math.min(bucket - this.#bucket, BUCKETS);
      const width = this.#width;
      for (let step = 1; step <= expired; step++) {
        const base = ((this.#bucket + step) % BUCKETS) * width;
        for (let n = 0; n < width; n++) {
          this.#totals[n] -= this.#counts[base + n];
          this.#counts[base + n] = 0;
        }
      }
      this.#bucket = bucket;
    }
    return this.#bucket % BUCKETS;
  }
}
