/**
 * The public shape of one circuit breaker: its states, the `do` call, its counts, and the
 * changes of state a listener is told of.
 *
 * @module
 */
import type { Call } from "../internal/call.ts";

/** `closed` lets calls through, `open` rejects them, `half-open` lets a few probes through. */
export type BreakerState = "closed" | "open" | "half-open";

/** A change of state, as `onStateChange` is told it. */
export interface StateChange {
  /** The breaker. */
  readonly breaker: string;
  /** The state before. */
  readonly from: BreakerState;
  /** The state now. */
  readonly to: BreakerState;
}

/** Options of `do`. */
export interface DoOptions {
  /**
   * The caller's signal: the call rejects with its reason at once when it aborts, and the
   * `signal` of `fn`'s {@linkcode Call} aborts too. A call the caller abandoned counts neither
   * for nor against the dependency.
   */
  readonly signal?: AbortSignal;
}

/** Counts of one breaker, for dashboards and tests. */
export interface BreakerStats {
  /** The state now. */
  readonly state: BreakerState;
  /** Calls finished in the window (in the closed state). */
  readonly calls: number;
  /** Of them, failures. */
  readonly failures: number;
  /** Failures in a row. */
  readonly consecutiveFailures: number;
  /** Calls rejected without running since the provider started. */
  readonly rejected: number;
}

/** One circuit breaker. */
export interface Breaker {
  /** The breaker's name, the resource it protects. */
  readonly name: string;
  /** The state now (`half-open` once `openMs` has passed, even before a probe). */
  readonly state: BreakerState;
  /**
   * Runs `fn` if the breaker lets it: its outcome, as returned or thrown. `fn` gets a
   * {@linkcode Call} whose `signal` aborts when the caller's does or `timeoutMs` passes.
   *
   * @throws {BreakerOpenError} Without running `fn`, while open (or half-open with every
   * probe slot taken).
   * @throws {BreakerTimeoutError} When `fn` outlasts the policy's `timeoutMs`.
   */
  do<T>(fn: (call: Call) => T | Promise<T>, options?: DoOptions): Promise<T>;
  /** Current counts. */
  stats(): BreakerStats;
}
