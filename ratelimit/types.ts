/**
 * Rate-limit rules, decisions and the driver interface.
 *
 * @module
 */

/**
 * The algorithm of a rule. A token bucket (tokens refill at `rate` per second
 * up to `burst`) and GCRA (the generic cell rate algorithm) make the same
 * decisions for the same rate and burst; both names are accepted, and both
 * keep one number per key: the time the bucket is full again.
 */
export type Algorithm = "token-bucket" | "gcra";

/** A named, declarative rule. */
export interface Rule {
  /**
   * `token-bucket` or `gcra`; the same limit either way (see {@linkcode Algorithm}).
   * @default {"token-bucket"}
   */
  readonly algorithm?: Algorithm;
  /** Sustained rate, requests (cost units) per second; positive. */
  readonly rate: number;
  /** Most requests allowed at once; a positive integer. */
  readonly burst: number;
}

/** The outcome of `allow` / `allowN`. */
export interface Decision {
  /** Whether the request may proceed. A rejected request consumed nothing. */
  readonly allowed: boolean;
  /** Cost units left right after this decision. */
  readonly remaining: number;
  /** When rejected, how long until the same request would be allowed; 0 when allowed. */
  readonly retryAfterMs: number;
  /** How long until the key is back to its full burst. */
  readonly resetMs: number;
  /** The rule's burst, for `RateLimit-Limit`. */
  readonly limit: number;
}

/** A rate-limit backend: applies a rule to a key atomically. */
export interface RateLimitDriver {
  /** Name for errors and logs: `memory`, `redis`. */
  readonly name: string;
  /**
   * Takes `cost` units from the bucket of `key` under the rule named `ruleName` (each rule has
   * its own buckets) if it has them, atomically.
   * Rejects with a `DriverError` when the backend cannot be reached.
   */
  take(ruleName: string, key: string, rule: Required<Rule>, cost: number): Promise<Decision>;
  /**
   * Puts every key the driver writes under `keyPrefix`, the provider's config `keyPrefix`; the
   * provider calls it once, before any other call. A driver whose state lives in this process
   * leaves it out.
   */
  useKeyPrefix?(keyPrefix: string): void;
  /** Checks that the backend answers; rejects with a `DriverError` when it does not. */
  ping(): Promise<void>;
  /** Releases timers and connections. */
  close(): Promise<void>;
}

/**
 * One key's state under one rule, updated in place by {@linkcode decide}:
 * the bucket's theoretical arrival time (GCRA's TAT), when it is full again.
 * A bucket whose `fullAt` has passed is full, and the same as an absent one.
 */
export interface BucketState {
  /** When the bucket is full again, Unix ms. */
  fullAt: number;
}

/**
 * Float slack, 1 µs: `fullAt` is an epoch time in ms built up from fractional intervals, and a
 * double near 1.7e12 only resolves about 0.25 µs, so an exact boundary can land a few ulps off.
 */
const EPSILON_MS = 1e-3;

/**
 * The decision for a key whose bucket is full again `untilFullMs` from now:
 * after taking `cost` when allowed, as it stands when not. Shared by the
 * memory driver and the Redis driver, which gets `untilFullMs` from its script.
 *
 * @param rule The rule.
 * @param cost Units asked for.
 * @param allowed Whether they were taken.
 * @param untilFullMs Milliseconds until the bucket is full again.
 * @returns The decision.
 */
export function decision(
  rule: Required<Rule>,
  cost: number,
  allowed: boolean,
  untilFullMs: number,
): Decision {
  const interval = 1000 / rule.rate;
  const remaining = Math.floor((rule.burst * interval - untilFullMs + EPSILON_MS) / interval);
  return {
    allowed,
    remaining: remaining > 0 ? remaining : 0,
    retryAfterMs: allowed
      ? 0
      : Math.ceil(untilFullMs + (cost - rule.burst) * interval - EPSILON_MS),
    resetMs: Math.ceil(untilFullMs - EPSILON_MS),
    limit: rule.burst,
  };
}

/**
 * The limit's arithmetic (GCRA, the same decisions as a token bucket), as the
 * memory driver applies it and the Redis script mirrors it: takes `cost` from
 * the bucket in `state` at time `now` if it has it, updating `state` in place.
 * A rejection consumes nothing.
 *
 * @param rule The rule.
 * @param cost Units asked for, at most the rule's burst.
 * @param now The time, Unix ms.
 * @param state The key's state; `{ fullAt: 0 }` for a new key.
 * @returns The decision.
 */
export function decide(
  rule: Required<Rule>,
  cost: number,
  now: number,
  state: BucketState,
): Decision {
  const interval = 1000 / rule.rate;
  const fullAt = state.fullAt > now ? state.fullAt : now;
  const next = fullAt + cost * interval;
  if (next - now > rule.burst * interval + EPSILON_MS) {
    return decision(rule, cost, false, fullAt - now);
  }
  state.fullAt = next;
  return decision(rule, cost, true, next - now);
}
