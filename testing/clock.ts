/**
 * A clock that moves only when told to, for deterministic tests.
 *
 * @module
 */
import type { Clock } from "../internal/clock.ts";

/**
 * A {@linkcode Clock} whose time only changes through `advance`, `set` or
 * `sleepSync` (which advances it instead of blocking).
 *
 * @example Stepping time
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * import assert from "node:assert/strict";
 *
 * const clock = new FakeClock(1_000);
 * clock.advance(5);
 * clock.sleepSync(10);
 * assert.equal(clock.now(), 1_015);
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  /** Total milliseconds callers asked `sleepSync` to wait. */
  sleptMs = 0;

  /**
   * Creates a clock standing at `startMs`.
   *
   * @param startMs Initial time in Unix milliseconds.
   */
  constructor(startMs: number = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
  }

  /**
   * The current fake time.
   *
   * @returns Unix milliseconds.
   */
  now(): number {
    return this.#now;
  }

  /**
   * Moves time forward.
   *
   * @param ms Milliseconds, non-negative.
   * @throws {RangeError} When `ms` is negative; use {@linkcode FakeClock.set} to step back.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) {
      throw new RangeError(
        `Cannot advance FakeClock as 'ms' must be non-negative: current value is ${ms}`,
      );
    }
    this.#now += ms;
  }

  /**
   * Sets the time, also backwards (to simulate an NTP step).
   *
   * @param ms New time in Unix milliseconds.
   */
  set(ms: number): void {
    this.#now = ms;
  }

  /**
   * Advances time by `ms` instead of blocking.
   *
   * @param ms Milliseconds.
   */
  sleepSync(ms: number): void {
    this.sleptMs += ms;
    this.advance(ms);
  }
}
