/**
 * retry: policy-driven retries of an async operation, as the Go kit's
 * `retry.Do(ctx, policy, fn)`. Exponential or constant backoff with jitter, a
 * total time limit, an error filter, a retry budget shared across calls (so
 * retries cannot multiply the load on a backend that is already failing), and
 * an AbortSignal that ends the wait at once. Pure: no driver, no I/O.
 *
 * Put `retry.do` inside a breaker's `do`, not around it, so that an open
 * breaker stops the retries too.
 *
 * @example Retrying a flaky call
 * ```ts
 * import { retry } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * let calls = 0;
 * const value = await retry.do(async () => {
 *   if (++calls < 3) throw new Error("flaky");
 *   return "ok";
 * }, { maxRetries: 3, backoff: retry.exponential(1, 2) });
 * assert.equal(value, "ok");
 * assert.equal(calls, 3);
 * ```
 *
 * @module
 */
import type { Call } from "../internal/call.ts";
import type { Clock } from "../internal/clock.ts";
import { checkConfig } from "../internal/config.ts";
import { abortable, optionalSignal, sleep } from "../internal/signal.ts";
import { RollingCounts } from "../internal/window.ts";
import { gaveUp, retryEvent } from "./trace.ts";

export type { Call } from "../internal/call.ts";
export type { Clock } from "../internal/clock.ts";

/**
 * The delay before retry number `retry` (1 for the first retry), in milliseconds, before
 * jitter. Build one with {@linkcode exponential} or {@linkcode constant}, or write your own.
 */
export type Backoff = (retry: number) => number;

/**
 * How a delay is spread so that clients failing together do not retry together:
 * `full` waits a random time from 0 to the delay, `equal` from half the delay to the delay,
 * `none` the delay itself.
 */
export type Jitter = "full" | "equal" | "none";

/** What to retry, how often and how long to wait in between. */
export interface Policy {
  /**
   * Retries after the first attempt; 0 makes one attempt only.
   * @default {3}
   */
  readonly maxRetries?: number;
  /**
   * Delay before each retry.
   * @default {exponential(100, 2, 10_000)}
   */
  readonly backoff?: Backoff;
  /**
   * `full`, `equal` or `none`; `true` is `full`, `false` is `none`.
   * @default {"full"}
   */
  readonly jitter?: Jitter | boolean;
  /**
   * Time limit for the whole call, from its first attempt: a retry whose delay would end after
   * it is not started, and the last error is thrown instead.
   * @default {Infinity}
   */
  readonly maxElapsedMs?: number;
  /**
   * Which errors are worth another attempt. Errors wrapped with {@linkcode permanent} and the
   * caller's own abort are never retried, whatever this says.
   * @default {every error}
   */
  readonly retryIf?: (error: unknown, attempt: number) => boolean;
  /** A budget shared by many calls that bounds how many of their attempts are retries. */
  readonly budget?: RetryBudget;
  /** Told before each retry's wait: for logs and metrics. */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Source of randomness for jitter, `Math.random` by default (inject one in tests). */
  readonly random?: () => number;
  /** Time source for `maxElapsedMs`, the system clock by default. */
  readonly clock?: Pick<Clock, "now">;
}

/** What `onRetry` is told. */
export interface RetryEvent {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** Its error. */
  readonly error: unknown;
  /** How long the call waits before the next attempt. */
  readonly delayMs: number;
}

/**
 * What each attempt is given: its number beside the {@linkcode Call}'s `signal`, the caller's
 * signal (one that never aborts when the caller gave none).
 */
export interface Attempt extends Call {
  /** This attempt's number, from 1. */
  readonly attempt: number;
}

/** Options of one `retry.do` call. */
export interface DoOptions {
  /**
   * Ends the call when it aborts: it rejects with the signal's reason at once, no further
   * attempt starts, and the attempt in flight is told through its `signal`.
   */
  readonly signal?: AbortSignal;
}

/** Wraps an error that retrying cannot fix; see {@linkcode permanent}. */
export class PermanentError extends Error {
  /** Stable code. */
  readonly code = "RETRY_PERMANENT";

  /**
   * Creates the wrapper.
   *
   * @param cause The error `retry.do` rethrows without retrying.
   */
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "PermanentError";
  }
}

/**
 * Marks an error as not worth retrying: thrown from an attempt, it ends the call at once, and
 * `retry.do` rejects with the error inside (not the wrapper).
 *
 * @param error The error to rethrow.
 * @returns The wrapper to throw.
 */
export function permanent(error: unknown): PermanentError {
  return new PermanentError(error);
}

/** The longest delay setTimeout keeps (about 24.8 days); a longer one fires at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

function requireNumber(
  what: string,
  value: unknown,
  min: number,
  allowInfinity = false,
  max = Infinity,
): number {
  if (
    typeof value !== "number" || Number.isNaN(value) || value < min || value > max ||
    (!allowInfinity && !Number.isFinite(value))
  ) {
    throw new RangeError(
      `Cannot build retry ${what} as it must be a ${allowInfinity ? "" : "finite "}number ${
        max === Infinity ? `of at least ${min}` : `from ${min} to ${max}`
      }: current value is ${value}`,
    );
  }
  return value;
}

/**
 * Exponential backoff: `initialMs`, then each delay `multiplier` times the one before, up to
 * `maxMs`.
 *
 * @param initialMs Delay before the first retry.
 * @param multiplier Growth per retry, at least 1.
 * @param maxMs Longest delay.
 * @returns The backoff.
 * @throws {RangeError} On a negative delay or a multiplier below 1.
 */
export function exponential(initialMs: number, multiplier = 2, maxMs = 30_000): Backoff {
  requireNumber("backoff 'initialMs'", initialMs, 0);
  requireNumber("backoff 'multiplier'", multiplier, 1);
  requireNumber("backoff 'maxMs'", maxMs, initialMs, false, MAX_DELAY_MS);
  // 0 × Infinity is NaN once multiplier ** n overflows: a zero start stays zero.
  return initialMs === 0
    ? () => 0
    : (retry) => Math.min(initialMs * multiplier ** (retry - 1), maxMs);
}

/**
 * The same delay before every retry.
 *
 * @param delayMs The delay.
 * @returns The backoff.
 * @throws {RangeError} On a negative delay.
 */
export function constant(delayMs: number): Backoff {
  requireNumber("backoff 'delayMs'", delayMs, 0, false, MAX_DELAY_MS);
  return () => delayMs;
}

const DEFAULT_BACKOFF = exponential(100, 2, 10_000);
/** Given to attempts when the caller passed no signal. */
const NEVER_ABORTED = new AbortController().signal;
const checked = new WeakSet<Policy>();

const POLICY_KEYS = [
  "maxRetries",
  "backoff",
  "jitter",
  "maxElapsedMs",
  "retryIf",
  "budget",
  "onRetry",
  "random",
  "clock",
] as const satisfies readonly (keyof Policy)[];

function validatePolicy(policy: Policy): void {
  checkConfig("", policy, POLICY_KEYS, {
    action: "retry",
    argument: "policy",
    noun: "policy field",
  });
  if (
    policy.maxRetries !== undefined &&
    (!Number.isSafeInteger(policy.maxRetries) || policy.maxRetries < 0)
  ) {
    throw new RangeError(
      `Cannot retry as 'maxRetries' must be a non-negative integer: current value is ${policy.maxRetries}`,
    );
  }
  for (const name of ["backoff", "retryIf", "onRetry", "random"] as const) {
    if (policy[name] !== undefined && typeof policy[name] !== "function") {
      throw new TypeError(
        `Cannot retry as '${name}' must be a function: current value is ${policy[name]}`,
      );
    }
  }
  const { jitter } = policy;
  if (
    jitter !== undefined && typeof jitter !== "boolean" && jitter !== "full" &&
    jitter !== "equal" && jitter !== "none"
  ) {
    throw new RangeError(
      `Cannot retry as 'jitter' must be "full", "equal", "none" or a boolean: current value is ${
        JSON.stringify(jitter)
      }`,
    );
  }
  if (policy.maxElapsedMs !== undefined) {
    requireNumber("policy 'maxElapsedMs'", policy.maxElapsedMs, 0, true);
  }
  if (policy.budget !== undefined && !(policy.budget instanceof RetryBudget)) {
    throw new TypeError("Cannot retry as 'budget' must come from retry.budget()");
  }
  checked.add(policy);
}

function jittered(delayMs: number, jitter: Policy["jitter"], random: () => number): number {
  if (jitter === "none" || jitter === false) return delayMs;
  if (jitter === "equal") return delayMs / 2 + random() * delayMs / 2;
  return random() * delayMs;
}

/**
 * Runs `fn` until it succeeds, retrying failures as `policy` says. When no retry is left (or
 * the budget, the time limit or `retryIf` refuses one), rejects with the last error as thrown.
 *
 * @param fn The operation; it gets the attempt number and the caller's signal.
 * @param policy Retries, backoff, jitter, limits; every field has a default.
 * @param options The caller's signal.
 * @returns What `fn` returned.
 * @throws {TypeError | RangeError} On an invalid policy or signal.
 */
async function run<T>(
  fn: (attempt: Attempt) => T | Promise<T>,
  policy: Policy = {},
  options: DoOptions = {},
): Promise<T> {
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot retry as 'fn' must be a function: current value is ${fn}`);
  }
  if (!checked.has(policy)) validatePolicy(policy);
  const signal = optionalSignal("retry", options?.signal);
  signal?.throwIfAborted();
  const { budget } = policy;
  budget?.deposit();
  const maxRetries = policy.maxRetries ?? 3;
  const clock = policy.clock ?? Date;
  // The clock is read only when there is a time limit to keep.
  const startedAt = policy.maxElapsedMs === undefined ? 0 : clock.now();
  for (let attempt = 1;; attempt++) {
    try {
      const result = fn({ attempt, signal: signal ?? NEVER_ABORTED });
      return await (signal ? abortable(Promise.resolve(result), signal) : result);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof PermanentError) throw gaveUp("permanent", attempt, error.cause);
      if (attempt > maxRetries) throw gaveUp("max_retries", attempt, error);
      if (policy.retryIf && !policy.retryIf(error, attempt)) {
        throw gaveUp("not_retryable", attempt, error);
      }
      const delayMs = jittered(
        backoffDelay(policy.backoff ?? DEFAULT_BACKOFF, attempt, error),
        policy.jitter ?? "full",
        policy.random ?? Math.random,
      );
      if (
        policy.maxElapsedMs !== undefined &&
        clock.now() + delayMs - startedAt > policy.maxElapsedMs
      ) {
        throw gaveUp("max_elapsed", attempt, error);
      }
      if (budget && !budget.tryWithdraw()) throw gaveUp("budget", attempt, error);
      retryEvent(attempt, delayMs, error);
      policy.onRetry?.({ attempt, error, delayMs });
      // A zero delay needs no timer (one costs a millisecond or more).
      if (delayMs > 0) await sleep(delayMs, signal);
    }
  }
}

export { run as do };

/** A backoff's delay, checked: a custom backoff that returns nonsense is named, not obeyed. */
function backoffDelay(backoff: Backoff, attempt: number, failure: unknown): number {
  const delayMs = backoff(attempt);
  if (typeof delayMs !== "number" || !(delayMs >= 0) || delayMs > MAX_DELAY_MS) {
    throw new RangeError(
      `Cannot retry as 'backoff' returned ${delayMs} ms for retry ${attempt}: it must return 0 to ${MAX_DELAY_MS}`,
      { cause: failure },
    );
  }
  return delayMs;
}

/** Options of {@linkcode budget}. */
export interface RetryBudgetOptions {
  /**
   * Retries allowed as a share of the calls made in the window (0.2: one retry per five calls).
   * @default {0.2}
   */
  readonly ratio?: number;
  /**
   * Retries allowed per second of the window whatever the traffic, so a service with few calls
   * can still retry.
   * @default {10}
   */
  readonly minPerSecond?: number;
  /**
   * How far back calls and retries count.
   * @default {10000}
   */
  readonly windowMs?: number;
  /** Time source, the system clock by default. */
  readonly clock?: Pick<Clock, "now">;
}

/**
 * A retry budget, as in Finagle and Linkerd: over a sliding window, retries may make up at most
 * `ratio` of the calls plus `minPerSecond` a second. When a backend fails every call, its
 * callers then send about `1 + ratio` times their normal load instead of `1 + maxRetries` times.
 * Share one budget among the calls to one backend.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #reserve: number;
  /** Calls (0) and retries (1). */
  readonly #counts: RollingCounts;

  /**
   * Creates a budget; see {@linkcode budget}.
   *
   * @param options Ratio, reserve per second, window, clock.
   * @throws {RangeError} On a negative ratio or reserve, or a window under 10 ms.
   * @throws {TypeError} On an unknown option.
   */
  constructor(options: RetryBudgetOptions = {}) {
    checkConfig("retry budget", options, ["ratio", "minPerSecond", "windowMs", "clock"], {
      argument: "options",
      noun: "option",
    });
    const { ratio = 0.2, minPerSecond = 10, windowMs = 10_000 } = options;
    requireNumber("budget 'ratio'", ratio, 0);
    requireNumber("budget 'minPerSecond'", minPerSecond, 0);
    requireNumber("budget 'windowMs'", windowMs, 10);
    this.#ratio = ratio;
    this.#reserve = minPerSecond * windowMs / 1000;
    this.#counts = new RollingCounts(2, windowMs, options.clock ?? Date);
  }

  /** Retries the budget would allow right now. */
  get available(): number {
    return Math.max(0, Math.floor(this.#left()));
  }

  /** Counts one call (its first attempt). */
  deposit(): void {
    this.#counts.add(0);
  }

  /** Takes one retry from the budget; false when none is left. */
  tryWithdraw(): boolean {
    if (this.#left() < 1) return false;
    this.#counts.add(1);
    return true;
  }

  #left(): number {
    this.#counts.advance();
    return this.#reserve + this.#ratio * this.#counts.total(0) - this.#counts.total(1);
  }
}

/**
 * Creates a retry budget to share among the calls to one backend.
 *
 * @param options Ratio (0.2), reserve per second (10), window (10 s), clock.
 * @returns The budget.
 * @throws {RangeError} On a negative ratio or reserve, or a window under 10 ms.
 * @throws {TypeError} On an unknown option.
 */
export function budget(options: RetryBudgetOptions = {}): RetryBudget {
  return new RetryBudget(options);
}
