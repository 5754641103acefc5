/**
 * The time source every time-dependent component takes, so tests can inject a
 * fake one and stay deterministic.
 *
 * @module
 */

/** A source of wall-clock time and a way to wait on it synchronously. */
export interface Clock {
  /** Milliseconds since the Unix epoch, like `Date.now()`. */
  now(): number;
  /**
   * Blocks the calling thread for `ms` milliseconds. Used only where an API is
   * synchronous by contract and must wait for time to pass (a Snowflake
   * generator waiting out a backward clock step).
   */
  sleepSync(ms: number): void;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** The real clock: `Date.now()` and a thread sleep through `Atomics.wait`. */
export const systemClock: Clock = {
  now: Date.now,
  sleepSync(ms: number): void {
    if (ms > 0) Atomics.wait(sleepCell, 0, 0, ms);
  },
};

let turnNow = -1;
const endTurn = () => {
  turnNow = -1;
};

/**
 * `Date.now()` read once per turn of the microtask queue: the first call reads the clock and
 * queues a microtask that forgets it, so every call until that microtask runs gets the same
 * value. A hundred queries started or finished together cost one clock read instead of a
 * hundred (a read is ~80 ns on a VM). The value can be older than the real time by the work done
 * in one turn, so use it where whole milliseconds are enough (slow-query durations).
 *
 * @returns Milliseconds since the Unix epoch.
 */
export function turnClock(): number {
  if (turnNow < 0) {
    turnNow = Date.now();
    queueMicrotask(endTurn);
  }
  return turnNow;
}
