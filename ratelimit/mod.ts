/**
 * ratelimit: token bucket and GCRA limits per key, by named declarative rules
 * that hot-reload from the config center, on process memory (standalone) or
 * Redis (one atomic Lua script on Redis's clock, `@gochat/kit/drivers/redis`).
 *
 * @example A rule and a decision
 * ```ts
 * import { ratelimit } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using limiter = await ratelimit.create({
 *   ...ratelimit.defaultConfig("development"),
 *   rules: { login: { rate: 1, burst: 2 } },
 * });
 * assert.equal((await limiter.allow("user:7", "login")).allowed, true);
 * assert.equal((await limiter.allow("user:7", "login")).allowed, true);
 * const third = await limiter.allow("user:7", "login");
 * assert.equal(third.allowed, false);
 * assert.ok(third.retryAfterMs > 0);
 * ```
 *
 * @module
 */
import { type Logger, namespace } from "../clog/mod.ts";
import { componentConfig } from "../coord/driver.ts";
import type { Coord } from "../coord/mod.ts";
import { checkConfig } from "../internal/config.ts";
import { ownKeyPrefix } from "../internal/namespace.ts";
import { requireEnv } from "../internal/env.ts";
import type { Clock } from "../internal/clock.ts";
import { DriverError } from "../internal/errors.ts";
import { type PingOptions, pingProvider } from "../internal/ping.ts";
import { kitTracer } from "../internal/otel.ts";
import { optionalSignal, underSignal } from "../internal/signal.ts";
import type { BoundCounter, Metrics } from "../metrics/mod.ts";
import { memoryRateLimit, type MemoryRateLimitDriver } from "./memory.ts";
import { allowSpan } from "./trace.ts";
import type { Decision, RateLimitDriver, Rule } from "./types.ts";

export { DriverError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export type { Exchange, Middleware, Next } from "../http/middleware.ts";
export type { ServeHandler } from "../http/serve.ts";
export { rateLimitHandler, rateLimitMiddleware } from "./http.ts";
export type { Limiter, RateLimitHandlerOptions, RateLimitMiddlewareOptions } from "./http.ts";
export { memoryRateLimit } from "./memory.ts";
export type { MemoryRateLimitDriver, MemoryRateLimitOptions } from "./memory.ts";
export type { Algorithm, Decision, Rule } from "./types.ts";

/** What happens to a rule name no rule has. */
export type UnknownRulePolicy = "deny" | "allow" | "default";

/** Static settings of a rate limiter. */
export interface RateLimitConfig {
  /** The rules by name; with `coord`, the starting point until the config center has some. */
  readonly rules: Readonly<Record<string, Rule>>;
  /**
   * A rule name that is not defined: `deny` every request, `allow` every request, or apply the
   * rule called `default`. The first call with each such name logs a warning.
   * @default {"deny"}
   */
  readonly unknownRule: UnknownRulePolicy;
  /**
   * When the backend is unreachable: `open` lets requests through, still bounded by an
   * in-process limiter with the same rules (each request counted at the time it arrived);
   * `closed` denies them. Once a call has failed, later calls are decided in process at once
   * while a single call at a time goes on to the backend, to notice when it is back.
   * @default {"open"}
   */
  readonly failPolicy: "open" | "closed";
  /**
   * Environment segment of the rules' config key `/config/{env}/{service}/ratelimit`; only with
   * `coord` (refused without it).
   */
  readonly env?: string;
  /** Service segment of the rules' config key. */
  readonly service?: string;
  /**
   * Namespace of the buckets on a shared backend (`im-logic:`): on Redis a bucket is
   * `{keyPrefix}rl:{length of rule}:{rule}:{key}`. Required on any driver but memory, so two
   * services on one Redis never share buckets by accident; `""` shares them on purpose.
   * @default {"" on the memory driver; none (required) on the others}
   */
  readonly keyPrefix?: string;
}

/** Dependencies of a rate limiter. */
export interface CreateOptions {
  /** The backend; `memoryRateLimit()` by default. The limiter closes it. */
  readonly driver?: RateLimitDriver;
  /** A coord provider: rules then hot-reload from `/config/{env}/{service}/ratelimit`. */
  readonly coord?: Pick<Coord, "config">;
  /** Logger; `clog.namespace("ratelimit")` by default. */
  readonly logger?: Logger;
  /** Time source of the in-process rescue limiter; the system clock by default. */
  readonly clock?: Pick<Clock, "now">;
  /**
   * Where to record `ratelimit_decisions_total{rule, decision}` (`allowed`, `denied`); a rule
   * name no rule has is recorded as `(unknown)`.
   */
  readonly metrics?: Pick<Metrics, "counter">;
}

/** Options of `allow` and `allowN`. */
export interface AllowOptions {
  /** Ends the call with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A rate limiter. */
export interface RateLimiter extends AsyncDisposable {
  /** Name of the driver in use. */
  readonly driver: string;
  /**
   * Decides one request of `key` under the rule `ruleName`. With `signal`, an aborted call
   * rejects with its reason (taking nothing if not yet sent; a decision in flight may still have
   * taken its units).
   */
  allow(key: string, ruleName: string, options?: AllowOptions): Promise<Decision>;
  /** Decides a request costing `n` units. */
  allowN(key: string, ruleName: string, n: number, options?: AllowOptions): Promise<Decision>;
  /** The rules in force now. */
  rules(): Readonly<Record<string, Rule>>;
  /**
   * Checks that the backend answers, for readiness probes.
   *
   * @throws {DriverError} When it does not, or the provider is closed.
   */
  ping(options?: PingOptions): Promise<void>;
  /** Stops watching the rules and closes the driver. */
  close(): Promise<void>;
}

/**
 * The recommended configuration: no rules yet, unknown rules denied, fail open.
 *
 * @param env `"development"` or `"production"`.
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 */
export function defaultConfig(env: "development" | "production"): RateLimitConfig {
  requireEnv("ratelimit", env);
  return { rules: {}, unknownRule: "deny", failPolicy: "open" };
}

/**
 * Checks a rule set and fills in defaults; the validator of hot-reloaded rules.
 *
 * @param value Rules by name, as read from config.
 * @returns The rules with every field set, in an object without a prototype, so a name is only
 * ever one of its own keys (never `constructor` or `toString` from `Object.prototype`).
 * @throws {TypeError | RangeError} Naming the rule and field at fault.
 */
export function validateRules(value: unknown): Record<string, Required<Rule>> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `Cannot use rate-limit rules as they must be an object of named rules: got ${
        JSON.stringify(value)
      }`,
    );
  }
  const rules: Record<string, Required<Rule>> = Object.create(null);
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    const rule = raw as Partial<Rule>;
    if (rule === null || typeof rule !== "object") {
      throw new TypeError(`Cannot use rate-limit rule '${name}' as it is not an object`);
    }
    const algorithm = rule.algorithm ?? "token-bucket";
    if (algorithm !== "token-bucket" && algorithm !== "gcra") {
      throw new RangeError(
        `Cannot use rate-limit rule '${name}' as 'algorithm' must be "token-bucket" or "gcra": current value is ${
          JSON.stringify(algorithm)
        }`,
      );
    }
    if (typeof rule.rate !== "number" || !Number.isFinite(rule.rate) || rule.rate <= 0) {
      throw new RangeError(
        `Cannot use rate-limit rule '${name}' as 'rate' must be positive: current value is ${rule.rate}`,
      );
    }
    if (!Number.isSafeInteger(rule.burst) || (rule.burst as number) < 1) {
      throw new RangeError(
        `Cannot use rate-limit rule '${name}' as 'burst' must be a positive integer: current value is ${rule.burst}`,
      );
    }
    rules[name] = { algorithm, rate: rule.rate, burst: rule.burst as number };
  }
  return rules;
}

const CONFIG_KEYS = [
  "rules",
  "unknownRule",
  "failPolicy",
  "env",
  "service",
  "keyPrefix",
] as const satisfies readonly (keyof RateLimitConfig)[];

/** What each unknown-rule policy does, for the warning about an undefined rule. */
const UNKNOWN_RULE_EFFECT: Readonly<Record<UnknownRulePolicy, string>> = {
  deny: "denies every request for it",
  allow: "allows every request for it",
  default: "applies the rule 'default' (denying every request while there is none)",
};
// Rule names come from code, but a name built from input must not grow the set without end.
const MAX_REPORTED_RULES = 1000;

const ALWAYS: Decision = {
  allowed: true,
  remaining: Number.MAX_SAFE_INTEGER,
  retryAfterMs: 0,
  resetMs: 0,
  limit: Number.MAX_SAFE_INTEGER,
};
const NEVER: Decision = {
  allowed: false,
  remaining: 0,
  retryAfterMs: 60_000,
  resetMs: 60_000,
  limit: 0,
};

/**
 * Creates a rate limiter.
 *
 * @param config Rules, unknown-rule and failure policies; see {@linkcode defaultConfig}.
 * @param options Driver (memory by default), coord for hot-reloaded rules, logger.
 * @returns The limiter.
 * @throws {TypeError | RangeError} On invalid rules or config: an unknown key, or `env` or
 * `service` without `coord`.
 */
export async function create(
  config: RateLimitConfig = defaultConfig("development"),
  options: CreateOptions = {},
): Promise<RateLimiter> {
  checkConfig("rate limiter", config, CONFIG_KEYS);
  if (!["deny", "allow", "default"].includes(config.unknownRule)) {
    throw new RangeError(
      `Cannot create rate limiter as 'unknownRule' must be "deny", "allow" or "default": current value is ${
        JSON.stringify(config.unknownRule)
      }`,
    );
  }
  if (config.failPolicy !== "open" && config.failPolicy !== "closed") {
    throw new RangeError(
      `Cannot create rate limiter as 'failPolicy' must be "open" or "closed": current value is ${
        JSON.stringify(config.failPolicy)
      }`,
    );
  }
  const staticRules = validateRules(config.rules);
  const manager = await componentConfig(
    options.coord,
    config,
    "ratelimit",
    { action: "create rate limiter", holds: "rules" },
    { default: staticRules, validate: validateRules },
  );
  const driver = options.driver ?? memoryRateLimit();
  try {
    driver.useKeyPrefix?.(ownKeyPrefix("rate limiter", config.keyPrefix, driver.name));
  } catch (error) {
    await manager?.close();
    await driver.close().catch(() => {});
    throw error;
  }
  const logger = options.logger ?? namespace("ratelimit");
  const clock = options.clock ?? Date;
  // Bounds traffic while the real backend is unreachable and the policy is to fail open.
  const rescue: MemoryRateLimitDriver = memoryRateLimit({ clock });
  /** Rule names already reported as unknown: one warning each, a bounded number in all. */
  const reported = new Set<string>();
  const reportUnknown = (ruleName: string): void => {
    if (reported.has(ruleName) || reported.size >= MAX_REPORTED_RULES) return;
    reported.add(ruleName);
    logger.warn(
      `rate-limit rule '${ruleName}' is not defined: unknownRule "${config.unknownRule}" ${
        UNKNOWN_RULE_EFFECT[config.unknownRule]
      }`,
      { rule: ruleName, unknownRule: config.unknownRule },
    );
  };
  const rules = (): Record<string, Required<Rule>> => manager?.current ?? staticRules;
  const fast = (driver as Partial<MemoryRateLimitDriver>).takeSync?.bind(driver);
  /** Since a call failed and until one succeeds: calls are decided in process at once. */
  let outage = false;
  /** During an outage, whether a call to the backend (the probe) is in flight. */
  let probing = false;
  /**
   * The decision while the backend is unreachable. Open: the rescue limiter's, as of the time
   * the request arrived, so a wave of calls that fail together (a timeout, a dropped connection)
   * is judged as it came in, not as one burst at the moment of failure.
   */
  const unreachable = (
    ruleName: string,
    key: string,
    rule: Required<Rule>,
    n: number,
    arrivedAt: number,
  ): Decision =>
    config.failPolicy === "open"
      ? rescue.takeSync(ruleName, key, rule, n, arrivedAt)
      : { ...NEVER, retryAfterMs: 1000, resetMs: 1000, limit: rule.burst };
  const decisions = options.metrics?.counter("ratelimit_decisions_total", {
    help: "Rate-limit decisions, by rule and decision (allowed, denied).",
    labels: ["rule", "decision"],
  });
  /** Bound counters per rule name, so a decision costs one Map lookup to record. */
  const byRule = new Map<string, { allowed: BoundCounter; denied: BoundCounter }>();
  const record = (rule: string, decision: Decision): Decision => {
    let bound = byRule.get(rule);
    if (bound === undefined) {
      byRule.set(
        rule,
        bound = {
          allowed: decisions!.with({ rule, decision: "allowed" }),
          denied: decisions!.with({ rule, decision: "denied" }),
        },
      );
    }
    (decision.allowed ? bound.allowed : bound.denied).inc();
    return decision;
  };

  /** `decide` in a `ratelimit allow` span when an SDK is registered. */
  const allowN = (
    key: string,
    ruleName: string,
    n: number,
    options?: AllowOptions,
  ): Promise<Decision> => {
    const tracer = kitTracer();
    if (tracer === undefined) return decide(key, ruleName, n, options);
    return tracedDecide(tracer, key, ruleName, n, options);
  };
  // Apart from allowN: a closure in its own body would allocate a context on every call.
  const tracedDecide = (
    tracer: NonNullable<ReturnType<typeof kitTracer>>,
    key: string,
    ruleName: string,
    n: number,
    options: AllowOptions | undefined,
  ): Promise<Decision> =>
    allowSpan(tracer, driver.name, ruleName, n, () => decide(key, ruleName, n, options));

  const decide = (
    key: string,
    ruleName: string,
    n: number,
    options?: AllowOptions,
  ): Promise<Decision> => {
    if (options?.signal !== undefined) return allowWithSignal(key, ruleName, n, options.signal);
    if (typeof key !== "string" || key.length === 0 || !key.isWellFormed()) {
      return Promise.reject(
        new TypeError(
          `Cannot rate-limit as 'key' must be a non-empty, well-formed Unicode string: current value is ${
            JSON.stringify(key)
          }`,
        ),
      );
    }
    if (!Number.isSafeInteger(n) || n < 1) {
      return Promise.reject(
        new RangeError(
          `Cannot rate-limit as 'n' must be a positive integer: current value is ${n}`,
        ),
      );
    }
    const current = rules();
    let rule = current[ruleName];
    if (rule === undefined) {
      reportUnknown(ruleName);
      if (config.unknownRule === "allow") {
        return Promise.resolve(decisions ? record("(unknown)", ALWAYS) : ALWAYS);
      }
      if (config.unknownRule === "default" && current.default) rule = current.default;
      else return Promise.resolve(decisions ? record("(unknown)", NEVER) : NEVER);
    }
    if (n > rule.burst) {
      const never: Decision = {
        allowed: false,
        remaining: 0,
        retryAfterMs: Infinity,
        resetMs: 0,
        limit: rule.burst,
      };
      return Promise.resolve(decisions ? record(ruleName, never) : never);
    }
    if (fast) {
      try {
        const decision = fast(ruleName, key, rule, n);
        return Promise.resolve(decisions ? record(ruleName, decision) : decision);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const arrivedAt = clock.now();
    if (outage && probing) {
      // One probe at a time finds out when the backend is back; nobody else waits for it.
      const fallback = unreachable(ruleName, key, rule, n, arrivedAt);
      return Promise.resolve(decisions ? record(ruleName, fallback) : fallback);
    }
    const probe = outage;
    if (probe) probing = true;
    return driver.take(ruleName, key, rule, n).then((decision) => {
      if (probe) probing = false;
      if (decisions) record(ruleName, decision);
      if (outage) {
        outage = false;
        logger.info("rate-limit backend reachable again", { driver: driver.name });
      }
      return decision;
    }, (error) => {
      if (probe) probing = false;
      if (!(error instanceof DriverError)) throw error;
      if (!outage) {
        outage = true;
        logger.warn(`rate-limit backend unreachable; failing ${config.failPolicy}`, {
          driver: driver.name,
          err: error,
        });
      }
      const fallback = unreachable(ruleName, key, rule, n, arrivedAt);
      return decisions ? record(ruleName, fallback) : fallback;
    });
  };

  // Off the hot path: only calls that pass a signal come here.
  const allowWithSignal = (
    key: string,
    ruleName: string,
    n: number,
    signal: AbortSignal,
  ): Promise<Decision> => {
    try {
      optionalSignal("rate-limit", signal);
    } catch (error) {
      return Promise.reject(error);
    }
    return underSignal(signal, () => decide(key, ruleName, n));
  };

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      await manager?.close();
      await rescue.close();
      await driver.close();
    })();
  return {
    driver: driver.name,
    allow: (key, ruleName, options) => allowN(key, ruleName, 1, options),
    allowN,
    rules,
    ping: (options?: PingOptions) =>
      pingProvider(
        "ratelimit",
        driver.name,
        () => closed !== undefined,
        options,
        () => driver.ping(),
      ),
    close,
    [Symbol.asyncDispose]: close,
  };
}
