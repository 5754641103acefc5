/**
 * breaker: circuit breakers per downstream resource, as the Go kit's
 * `provider.GetBreaker(name).Do(ctx, fn)`. A breaker is closed while calls
 * mostly succeed; when too many fail it opens and rejects calls at once with
 * {@linkcode BreakerOpenError}, so a failing dependency gets time to recover
 * and callers do not pile up behind it; after `openMs` it lets probe calls
 * through (half-open), and closes again when they succeed.
 *
 * Policies are named and declarative; with `coord` they hot-reload from
 * `/config/{env}/{service}/breaker`. State lives in the process: each
 * instance judges the dependency by its own calls.
 *
 * @example Opening after failures
 * ```ts
 * import { breaker } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using breakers = await breaker.create({
 *   ...breaker.defaultConfig("development"),
 *   policies: { default: { consecutiveFailures: 2, openMs: 60_000 } },
 * });
 * const payments = breakers.get("payments");
 * const down = () => Promise.reject(new Error("503"));
 * await assert.rejects(payments.do(down), /503/);
 * await assert.rejects(payments.do(down), /503/);
 * assert.equal(payments.state, "open");
 * await assert.rejects(payments.do(down), breaker.BreakerOpenError);
 * ```
 *
 * @module
 */
import { type Logger, namespace } from "../clog/mod.ts";
import { componentConfig } from "../coord/driver.ts";
import type { Coord } from "../coord/mod.ts";
import type { Call } from "../internal/call.ts";
import type { Clock } from "../internal/clock.ts";
import { checkConfig } from "../internal/config.ts";
import { requireEnv } from "../internal/env.ts";
import type { BoundCounter, Metrics } from "../metrics/mod.ts";
import { optionalSignal } from "../internal/signal.ts";
import { RollingCounts } from "../internal/window.ts";

export type { Call } from "../internal/call.ts";
export type { Clock } from "../internal/clock.ts";

/** `closed` lets calls through, `open` rejects them, `half-open` lets a few probes through. */
export type BreakerState = "closed" | "open" | "half-open";

/** When a breaker opens and how it recovers. Every field has a default. */
export interface Policy {
  /**
   * Share of failed calls in the window that opens the breaker, from 0 (exclusive) to 1.
   * @default {0.5}
   */
  readonly failureRatio?: number;
  /**
   * Fewest calls in the window before `failureRatio` is judged.
   * @default {20}
   */
  readonly minCalls?: number;
  /**
   * Failures in a row that open the breaker whatever the ratio; 0 turns this off.
   * @default {0}
   */
  readonly consecutiveFailures?: number;
  /**
   * The sliding window calls are counted over.
   * @default {10000}
   */
  readonly windowMs?: number;
  /**
   * How long the breaker stays open before it lets probes through.
   * @default {30000}
   */
  readonly openMs?: number;
  /**
   * Probe calls let through while half-open; when all of them succeed the breaker closes, when
   * one fails it opens again.
   * @default {1}
   */
  readonly halfOpenCalls?: number;
  /**
   * A call slower than this fails with {@linkcode BreakerTimeoutError}, counts as a failure,
   * and its signal aborts; 0 waits as long as the call takes, except for half-open probes,
   * which get `openMs` (a probe that never settled would keep the breaker half-open for good).
   * @default {0}
   */
  readonly timeoutMs?: number;
}

/** Static settings of a breaker provider. */
export interface BreakerConfig {
  /**
   * Policies by breaker name; `default` applies to every name without its own. With `coord`,
   * the starting point until the config center has some.
   */
  readonly policies: Readonly<Record<string, Policy>>;
  /** Environment segment of the policies' config key `/config/{env}/{service}/breaker`. */
  readonly env?: string;
  /** Service segment of the policies' config key. */
  readonly service?: string;
}

/** A change of state, as `onStateChange` is told it. */
export interface StateChange {
  /** The breaker. */
  readonly breaker: string;
  /** The state before. */
  readonly from: BreakerState;
  /** The state now. */
  readonly to: BreakerState;
}

/** Dependencies of a breaker provider. */
export interface CreateOptions {
  /** A coord provider: policies then hot-reload from `/config/{env}/{service}/breaker`. */
  readonly coord?: Pick<Coord, "config">;
  /** Logger; `clog.namespace("breaker")` by default. Every change of state is logged. */
  readonly logger?: Logger;
  /**
   * Which errors count against the dependency. Others (a 404, a validation error) count as
   * successes: the dependency answered.
   * @default {every error}
   */
  readonly isFailure?: (error: unknown) => boolean;
  /** Told of every change of state, for metrics and alerts. */
  readonly onStateChange?: (change: StateChange) => void;
  /**
   * Where to record `breaker_state{breaker}` (0 closed, 1 half-open, 2 open) and
   * `breaker_calls_total{breaker, outcome}` (`success`, `failure`, `rejected`).
   */
  readonly metrics?: Pick<Metrics, "counter" | "gauge">;
  /** Time source; the system clock by default. */
  readonly clock?: Pick<Clock, "now">;
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

/** A breaker provider: one breaker per name, created on first use. */
export interface Breakers extends AsyncDisposable {
  /**
   * The breaker protecting `name`.
   *
   * @throws {TypeError} On an empty name.
   */
  get(name: string): Breaker;
  /** The policies in force now, with every field set. */
  policies(): Readonly<Record<string, Required<Policy>>>;
  /** Stops watching the policies. */
  close(): Promise<void>;
}

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

const DEFAULT_POLICY: Required<Policy> = {
  failureRatio: 0.5,
  minCalls: 20,
  consecutiveFailures: 0,
  windowMs: 10_000,
  openMs: 30_000,
  halfOpenCalls: 1,
  timeoutMs: 0,
};

/**
 * The recommended configuration: the default policy for every breaker (opens at 50% failures
 * over 10 s once 20 calls were made, stays open 30 s, one probe).
 *
 * @param env `"development"` or `"production"`.
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 */
export function defaultConfig(env: "development" | "production"): BreakerConfig {
  requireEnv("breaker", env);
  return { policies: { default: { ...DEFAULT_POLICY } } };
}

/**
 * Checks a policy set and fills in defaults; the validator of hot-reloaded policies.
 *
 * @param value Policies by breaker name, as read from config.
 * @returns The policies with every field set, in an object without a prototype, so a name is only
 * ever one of its own keys (never `constructor` or `toString` from `Object.prototype`).
 * @throws {TypeError | RangeError} Naming the policy and field at fault.
 */
export function validatePolicies(value: unknown): Record<string, Required<Policy>> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `Cannot use breaker policies as they must be an object of named policies: got ${
        JSON.stringify(value)
      }`,
    );
  }
  const policies: Record<string, Required<Policy>> = Object.create(null);
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new TypeError(`Cannot use breaker policy '${name}' as it is not an object`);
    }
    checkConfig(`breaker policy '${name}'`, raw, Object.keys(DEFAULT_POLICY), {
      action: "use",
      noun: "policy field",
    });
    const policy = { ...DEFAULT_POLICY, ...raw as Policy };
    const bad = (field: keyof Policy, allowed: string): never => {
      throw new RangeError(
        `Cannot use breaker policy '${name}' as '${field}' must be ${allowed}: current value is ${
          JSON.stringify(policy[field])
        }`,
      );
    };
    const { failureRatio } = policy;
    if (typeof failureRatio !== "number" || !(failureRatio > 0 && failureRatio <= 1)) {
      bad("failureRatio", "a number above 0 and at most 1");
    }
    for (const field of ["minCalls", "halfOpenCalls"] as const) {
      if (!Number.isSafeInteger(policy[field]) || policy[field] < 1) {
        bad(field, "a positive integer");
      }
    }
    if (!Number.isSafeInteger(policy.consecutiveFailures) || policy.consecutiveFailures < 0) {
      bad("consecutiveFailures", "a non-negative integer (0 turns it off)");
    }
    // setTimeout fires at once for anything longer than 2^31 - 1 ms.
    if (
      !Number.isSafeInteger(policy.timeoutMs) || policy.timeoutMs < 0 ||
      policy.timeoutMs > MAX_TIMER_MS
    ) {
      bad("timeoutMs", `an integer from 0 (no limit) to ${MAX_TIMER_MS}`);
    }
    if (!Number.isSafeInteger(policy.windowMs) || policy.windowMs < 10) {
      bad("windowMs", "an integer of at least 10");
    }
    if (!Number.isSafeInteger(policy.openMs) || policy.openMs < 1) {
      bad("openMs", "a positive integer");
    }
    policies[name] = policy;
  }
  return policies;
}

/** The window's counters. */
const CALLS = 0;
const FAILURES = 1;

/** The longest delay setTimeout keeps (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `breaker_state` values. */
const STATE_VALUES: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

/** Given to `fn` when neither the caller nor a timeout can abort it: one object for every call. */
const UNABORTABLE: Call = Object.freeze({ signal: new AbortController().signal });

/**
 * Creates a breaker provider.
 *
 * @param config Policies; see {@linkcode defaultConfig}.
 * @param options coord for hot-reloaded policies, logger, failure filter, state listener, clock.
 * @returns The provider.
 * @throws {TypeError | RangeError} On invalid policies or config.
 */
export async function create(
  config: BreakerConfig = defaultConfig("development"),
  options: CreateOptions = {},
): Promise<Breakers> {
  checkConfig("breakers", config, ["policies", "env", "service"] satisfies (keyof BreakerConfig)[]);
  for (const name of ["isFailure", "onStateChange"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") {
      throw new TypeError(
        `Cannot create breakers as '${name}' must be a function: current value is ${options[name]}`,
      );
    }
  }
  const staticPolicies = validatePolicies(config.policies);
  const logger = options.logger ?? namespace("breaker");
  const clock = options.clock ?? Date;
  const isFailure = options.isFailure ?? (() => true);
  const manager = await componentConfig(
    options.coord,
    config,
    "breaker",
    { action: "create breakers", holds: "policies" },
    { default: staticPolicies, validate: validatePolicies },
  );
  const policies = (): Record<string, Required<Policy>> => manager?.current ?? staticPolicies;
  const policyOf = (name: string): Required<Policy> => {
    const current = policies();
    return current[name] ?? current.default ?? DEFAULT_POLICY;
  };
  const stateGauge = options.metrics?.gauge("breaker_state", {
    help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
    labels: ["breaker"],
  });
  const calls = options.metrics?.counter("breaker_calls_total", {
    help: "Calls through circuit breakers, by outcome: success, failure, rejected (not run).",
    labels: ["breaker", "outcome"],
  });
  const notify = (change: StateChange, fields: Record<string, unknown>) => {
    stateGauge?.set(STATE_VALUES[change.to], { breaker: change.breaker });
    const message = `circuit breaker ${change.to === "half-open" ? "half-open" : change.to}`;
    if (change.to === "open") logger.warn(message, { breaker: change.breaker, ...fields });
    else logger.info(message, { breaker: change.breaker, ...fields });
    try {
      options.onStateChange?.(change);
    } catch (error) {
      logger.error("onStateChange threw", { breaker: change.breaker, err: error });
    }
  };

  const close = async (): Promise<void> => {
    await manager?.close();
  };
  const breakers = new Map<string, Breaker>();
  return {
    get(name: string): Breaker {
      let found = breakers.get(name);
      if (found === undefined) {
        if (typeof name !== "string" || name.length === 0) {
          throw new TypeError(
            `Cannot get breaker as 'name' must be a non-empty string: current value is ${
              JSON.stringify(name)
            }`,
          );
        }
        found = new CircuitBreaker(
          name,
          () => policyOf(name),
          clock,
          isFailure,
          notify,
          calls && {
            success: calls.with({ breaker: name, outcome: "success" }),
            failure: calls.with({ breaker: name, outcome: "failure" }),
            rejected: calls.with({ breaker: name, outcome: "rejected" }),
          },
        );
        stateGauge?.set(0, { breaker: name });
        breakers.set(name, found);
      }
      return found;
    },
    policies,
    close,
    [Symbol.asyncDispose]: close,
  };
}

class CircuitBreaker implements Breaker {
  readonly name: string;
  readonly #policy: () => Required<Policy>;
  readonly #clock: Pick<Clock, "now">;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #notify: (change: StateChange, fields: Record<string, unknown>) => void;
  readonly #counters: Record<"success" | "failure" | "rejected", BoundCounter> | undefined;
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

  constructor(
    name: string,
    policy: () => Required<Policy>,
    clock: Pick<Clock, "now">,
    isFailure: (error: unknown) => boolean,
    notify: (change: StateChange, fields: Record<string, unknown>) => void,
    counters?: Record<"success" | "failure" | "rejected", BoundCounter>,
  ) {
    this.name = name;
    this.#counters = counters;
    this.#policy = policy;
    this.#clock = clock;
    this.#isFailure = isFailure;
    this.#notify = notify;
    this.#windowMs = policy().windowMs;
    this.#counts = new RollingCounts(2, this.#windowMs, clock);
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
    this.#notify({ breaker: this.name, from, to }, fields);
  }
}
