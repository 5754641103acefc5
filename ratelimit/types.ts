/**
 * Rate-limit rules, decisions and the driver interface.
 *
 * @module
 */

/** The algorithm of a rule. */
export type Algorithm = "token-bucket" | "gcra";

/** A named, declarative rule. */
export interface Rule {
  /**
   * `token-bucket` (tokens refill at `rate` per second up to `burst`) or `gcra` (the generic cell
   * rate algorithm: the same limits, kept as one timestamp per key).
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
  /** Releases timers and connections. */
  close(): Promise<void>;
}

/**
 * One key's state under one rule, updated in place by {@linkcode decide}.
 * A token bucket keeps `tokens` as counted at `time`; GCRA keeps its
 * theoretical arrival time in `time`. A bucket whose `idleAt` has passed is
 * full again and acts as a new one, as does one kept for the other algorithm
 * (a rule changed on reload).
 */
export interface BucketState {
  /** The algorithm the state is for. */
  algorithm: Algorithm;
  /** Token bucket: tokens left at `time`. */
  tokens: number;
  /** Token bucket: when `tokens` was counted; GCRA: the theoretical arrival time. Unix ms. */
  time: number;
  /** When the bucket is full again and can be forgotten. Unix ms. */
  idleAt: number;
}

/**
 * The token bucket and GCRA arithmetic of the memory driver, mirrored by the
 * Redis script: takes `cost` from `state` at time `now` if it has it, updates
 * `state` in place and returns the decision. A rejection consumes nothing.
 *
 * @param rule The rule.
 * @param cost Units asked for, at most the rule's burst.
 * @param now The time, Unix ms.
 * @param state The key's state; `{ algorithm, tokens: 0, time: 0, idleAt: 0 }` for a new key.
 * @returns The decision.
 */
export function decide(
  rule: Required<Rule>,
  cost: number,
  now: number,
  state: BucketState,
): Decision {
  const interval = 1000 / rule.rate; // ms per unit
  const fresh = state.idleAt <= now || state.algorithm !== rule.algorithm;
  state.algorithm = rule.algorithm;
  if (rule.algorithm === "gcra") {
    const full = rule.burst * interval; // ms to refill from empty
    const tat = fresh || state.time < now ? now : state.time;
    const next = tat + cost * interval;
    if (next - now > full) {
      state.time = tat;
      state.idleAt = tat + 1000;
      return {
        allowed: false,
        remaining: Math.max(0, Math.floor((full - (tat - now)) / interval)),
        retryAfterMs: Math.ceil(next - now - full),
        resetMs: Math.ceil(tat - now),
        limit: rule.burst,
      };
    }
    state.time = next;
    state.idleAt = next + 1000;
    return {
      allowed: true,
      remaining: Math.max(0, Math.floor((full - (next - now)) / interval)),
      retryAfterMs: 0,
      resetMs: Math.ceil(next - now),
      limit: rule.burst,
    };
  }
  const elapsed = fresh ? Infinity : now - state.time;
  const refilled = fresh ? rule.burst : state.tokens + (elapsed > 0 ? elapsed / interval : 0);
  const tokens = refilled < rule.burst ? refilled : rule.burst;
  const allowed = tokens >= cost;
  const left = allowed ? tokens - cost : tokens;
  const resetMs = Math.ceil((rule.burst - left) * interval);
  state.tokens = left;
  state.time = now;
  state.idleAt = now + resetMs + 1000;
  return {
    allowed,
    remaining: Math.floor(left),
    retryAfterMs: allowed ? 0 : Math.ceil((cost - tokens) * interval),
    resetMs,
    limit: rule.burst,
  };
}
