/**
 * The per-name circuit state machine behind `Breakers.get(name)`: it counts outcomes over a
 * sliding window, opens on too many failures, lets probes through once `openMs` has passed,
 * and rejects with the errors below.
 *
 * @module
 */
import type { Call } from "../internal/call.ts";
import type { Clock } from "../internal/clock.ts";
import { optionalSignal } from "../internal/signal.ts";
import { RollingCounts } from "../internal/window.ts";
import { MAX_TIMER_MS, type Policy } from "./policy.ts";
import type { CallCounters } from "./report.ts";
import { rejectedEvent, stateChangeEvent } from "./trace.ts";
import type { Breaker, BreakerState, BreakerStats, DoOptions, StateChange } from "./types.ts";

/** Rejects a call without running it: the breaker is open. */
export class BreakerOpenError extends Error {
  /** Stable code. */
  readonly code = "BREAKER_OPEN";
  /** The breaker's name. */
  readonly breaker: string;
  /** `open`, or `half-open` when every probe slot was taken. */
  readonly state: BreakerState;
  /** How long until the breaker lets a probe through (0 while half-open). */
  readonly retryAfterMs: number;

  /**
   * Creates the error.
   *
   * @param breaker The breaker's name.
   * @param state Its state.
   * @param retryAfterMs Time until a probe may run.
   */
  constructor(breaker: string, state: BreakerState, retryAfterMs: number) {
    super(
      state === "open"
        ? `Circuit breaker '${breaker}' is open: calls resume in ${retryAfterMs} ms`
        : `Circuit breaker '${breaker}' is half-open and its probe calls are taken`,
    );
    this.name = "BreakerOpenError";
    this.breaker = breaker;
    this.state = state;
    this.retryAfterMs = retryAfterMs;
  }
}

/** A call outlasted its policy's `timeoutMs`. */
export class BreakerTimeoutError extends Error {
  /** Stable code. */
  readonly code = "BREAKER_TIMEOUT";
  /** The breaker's name. */
  readonly breaker: string;
  /** The limit it outlasted. */
  readonly timeoutMs: number;

  /**
   * Creates the error.
   *
   * @param breaker The breaker's name.
   * @param timeoutMs The limit.
   */
  constructor(breaker: string, timeoutMs: number) {
    super(`Call through circuit breaker '${breaker}' took longer than ${timeoutMs} ms`);
    this.name = "BreakerTimeoutError";
    this.breaker = breaker;
    this.timeoutMs = timeoutMs;
  }
}

/** The window's counters. */
const CALLS = 0;
const FAILURES = 1;

/** Given to `fn` when neither the caller nor a timeout can abort it: one object for every call. */
const UNABORTABLE: Call = Object.freeze({ signal: new AbortController().signal });

/** What every breaker of one provider shares. */
export interface CircuitContext {
  /** The policy in force for a breaker, read at each call. */
  readonly policyOf: (name: string) => Required<Policy>;
  /** Time source. */
  readonly clock: Pick<Clock, "now">;
  /** Which errors count against the dependency. */
  readonly isFailure: (error: unknown) => boolean;
  /** Told of every change of state, with fields for the log line. */
  readonly notify: (change: StateChange, fields: Record<string, unknown>) => void;
}

/** One breaker's state machine: closed, open, half-open, judged by its own calls. */
export class CircuitBreaker implements Breaker {
  readonly name: string;
  readonly #policy: () => Required<Policy>;
  readonly #clock: Pick<Clock, "now">;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #notify: (change: StateChange, fields: Record<string, unknown>) => void;
  readonly #counters: CallCounters | undefined;
  #state: BreakerState = "closed";
  /** Bumped on every change of state: outcomes of calls started before it are not counted. */
  #generation = 0;
  #counts: RollingCounts;
  #windowMs: number;
  #consecutive = 0;
  #openedAt = 0;
  #openMs = 0;
  /** Half-open: probes running and probes that succeeded. */
  #probing = 0;
  #probed = 0;
  #rejected = 0;

  /**
   * Creates a closed breaker.
   *
   * @param name The resource it protects.
   * @param context What every breaker of a provider shares.
   * @param counters Its outcome counters, with metrics.
   */
  constructor(name: string, context: CircuitContext, counters: CallCounters | undefined) {
    this.name = name;
    this.#counters = counters;
    this.#policy = () => context.policyOf(name);
    this.#clock = context.clock;
    this.#isFailure = context.isFailure;
    this.#notify = context.notify;
    this.#windowMs = this.#policy().windowMs;
    this.#counts = new RollingCounts(2, this.#windowMs, context.clock);
  }

  get state(): BreakerState {
    if (this.#state === "open" && this.#clock.now() - this.#openedAt >= this.#openMs) {
      return "half-open";
    }
    return this.#state;
  }

  stats(): BreakerStats {
    this.#counts.advance();
    return {
      state: this.state,
      calls: this.#counts.total(CALLS),
      failures: this.#counts.total(FAILURES),
      consecutiveFailures: this.#consecutive,
      rejected: this.#rejected,
    };
  }

  do<T>(fn: (call: Call) => T | Promise<T>, options?: DoOptions): Promise<T> {
    let signal: AbortSignal | undefined;
    try {
      if (typeof fn !== "function") {
        throw new TypeError(
          `Cannot call through breaker '${this.name}' as 'fn' must be a function: current value is ${fn}`,
        );
      }
      signal = optionalSignal(`call through breaker '${this.name}'`, options?.signal);
      signal?.throwIfAborted();
    } catch (error) {
      return Promise.reject(error);
    }
    const policy = this.#policy();
    if (this.#state !== "closed") {
      const refusal = this.#admitProbe(policy);
      if (refusal) {
        this.#rejected++;
        this.#counters?.rejected.inc();
        rejectedEvent(refusal);
        return Promise.reject(refusal);
      }
    }
    const generation = this.#generation;
    const probe = this.#state === "half-open";
    // A probe that never settled would keep the breaker half-open for good: probes get openMs.
    const timeoutMs = policy.timeoutMs || (probe ? Math.min(policy.openMs, MAX_TIMER_MS) : 0);
    if (timeoutMs === 0 && signal === undefined) {
      // The hot path: no timer, no controller.
      let result: T | Promise<T>;
      try {
        result = fn(UNABORTABLE);
      } catch (error) {
        this.#settle(policy, generation, probe, false, error);
        return Promise.reject(error);
      }
      return Promise.resolve(result).then((value) => {
        this.#settle(policy, generation, probe, true, undefined);
        return value;
      }, (error) => {
        this.#settle(policy, generation, probe, false, error);
        throw error;
      });
    }
    return this.#guarded(fn, policy, timeoutMs, signal, generation, probe);
  }

  /** A call with a timeout or the caller's signal: either one ends the wait at once. */
  #guarded<T>(
    fn: (call: Call) => T | Promise<T>,
    policy: Required<Policy>,
    timeoutMs: number,
    callerSignal: AbortSignal | undefined,
    generation: number,
    probe: boolean,
  ): Promise<T> {
    const controller = new AbortController();
    return new Promise<T>((resolve, reject) => {
      let done = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = () => {
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        callerSignal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        if (done) return;
        finish();
        this.#abandon(generation, probe);
        controller.abort(callerSignal?.reason);
        reject(callerSignal?.reason);
      };
      callerSignal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          if (done) return;
          finish();
          const error = new BreakerTimeoutError(this.name, timeoutMs);
          this.#settle(policy, generation, probe, false, error);
          controller.abort(error);
          reject(error);
        }, timeoutMs);
      }
      new Promise<T>((run) => run(fn({ signal: controller.signal }))).then((value) => {
        if (done) return;
        finish();
        this.#settle(policy, generation, probe, true, undefined);
        resolve(value);
      }, (error) => {
        if (done) return;
        finish();
        this.#settle(policy, generation, probe, false, error);
        reject(error);
      });
    });
  }

  /** Whether a call may run while not closed; the error to reject it with when not. */
  #admitProbe(policy: Required<Policy>): BreakerOpenError | undefined {
    if (this.#state === "open") {
      const waitMs = this.#openedAt + this.#openMs - this.#clock.now();
      if (waitMs > 0) return new BreakerOpenError(this.name, "open", Math.ceil(waitMs));
      this.#moveTo("half-open", {});
    }
    if (this.#probing + this.#probed >= policy.halfOpenCalls) {
      return new BreakerOpenError(this.name, "half-open", 0);
    }
    this.#probing++;
    return undefined;
  }

  /** Records a finished call, unless the breaker changed state since it started. */
  #settle(
    policy: Required<Policy>,
    generation: number,
    probe: boolean,
    succeeded: boolean,
    error: unknown,
  ): void {
    const failed = !succeeded && this.#isFailureSafe(error);
    this.#counters?.[failed ? "failure" : "success"].inc();
    if (generation !== this.#generation) return;
    if (probe) {
      this.#probing--;
      if (failed) return this.#open(policy, { probe: "failed", err: error });
      if (++this.#probed >= policy.halfOpenCalls) this.#moveTo("closed", {});
      return;
    }
    if (policy.windowMs !== this.#windowMs) {
      // A policy whose window changed gets a new, empty window.
      this.#windowMs = policy.windowMs;
      this.#counts = new RollingCounts(2, policy.windowMs, this.#clock);
    }
    this.#counts.add(CALLS);
    if (!failed) {
      this.#consecutive = 0;
      return;
    }
    this.#counts.add(FAILURES);
    this.#consecutive++;
    const calls = this.#counts.total(CALLS);
    const failures = this.#counts.total(FAILURES);
    if (
      (policy.consecutiveFailures > 0 && this.#consecutive >= policy.consecutiveFailures) ||
      (calls >= policy.minCalls && failures / calls >= policy.failureRatio)
    ) {
      this.#open(policy, { calls, failures, consecutive: this.#consecutive, err: error });
    }
  }

  /** A call its caller abandoned: it frees its probe slot and counts for nothing. */
  #abandon(generation: number, probe: boolean): void {
    if (probe && generation === this.#generation) this.#probing--;
  }

  #isFailureSafe(error: unknown): boolean {
    try {
      return this.#isFailure(error);
    } catch {
      return true;
    }
  }

  #open(policy: Required<Policy>, fields: Record<string, unknown>): void {
    this.#openedAt = this.#clock.now();
    this.#openMs = policy.openMs;
    this.#moveTo("open", { ...fields, openMs: policy.openMs });
  }

  #moveTo(to: BreakerState, fields: Record<string, unknown>): void {
    const from = this.#state;
    this.#state = to;
    this.#generation++;
    this.#probing = 0;
    this.#probed = 0;
    if (to === "closed") {
      this.#counts.clear();
      this.#consecutive = 0;
    }
    const change: StateChange = { breaker: this.name, from, to };
    stateChangeEvent(change);
    this.#notify(change, fields);
  }
}
