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
import type { Coord } from "../coord/mod.ts";
import type { Clock } from "../internal/clock.ts";
import { checkConfig } from "../internal/config.ts";
import { requireEnv } from "../internal/env.ts";
import type { Metrics } from "../metrics/mod.ts";
import { CircuitBreaker, type CircuitContext } from "./circuit.ts";
import { DEFAULT_POLICY, livePolicies, type Policy } from "./policy.ts";
import { breakerReport } from "./report.ts";
import type { Breaker, StateChange } from "./types.ts";

export type { Call } from "../internal/call.ts";
export type { Clock } from "../internal/clock.ts";
export { BreakerOpenError, BreakerTimeoutError } from "./circuit.ts";
export { validatePolicies } from "./policy.ts";
export type { Policy } from "./policy.ts";
export type { Breaker, BreakerState, BreakerStats, DoOptions, StateChange } from "./types.ts";

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
  const policies = await livePolicies(config, options.coord);
  const report = breakerReport(
    options.logger ?? namespace("breaker"),
    options.metrics,
    options.onStateChange,
  );
  const context: CircuitContext = {
    policyOf: policies.of,
    clock: options.clock ?? Date,
    isFailure: options.isFailure ?? (() => true),
    notify: report.changed,
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
        found = new CircuitBreaker(name, context, report.track(name));
        breakers.set(name, found);
      }
      return found;
    },
    policies: policies.current,
    close: policies.close,
    [Symbol.asyncDispose]: policies.close,
  };
}
