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
   * Takes `cost` units from `key` under `rule` if it has them, atomically.
   * Rejects with a `DriverError` when the backend cannot be reached.
   */
  take(key: string, rule: Required<Rule>, cost: number): Promise<Decision>;
  /** Releases timers and connections. */
  close(): Promise<void>;
}

/**
 * The token bucket and GCRA arithmetic, shared by the memory driver and
 * mirrored by the Redis script. State is `[tokens, updatedMs]` for the token
 * bucket and `[tatMs]` for GCRA.
 */
export function decide(
  rule: Required<Rule>,
  cost: number,
  now: number,
  state: readonly number[] | undefined,
): { decision: Decision; state: number[]; ttlMs: number } {
  const interval = 1000 / rule.rate; // ms per unit
  const full = rule.burst * interval; // ms to refill from empty
  if (rule.algorithm === "gcra") {
    const tat = Math.max(state?.[0] ?? now, now);
    const next = tat + cost * interval;
    if (next - now > full) {
      return {
        decision: {
          allowed: false,
          remaining: Math.max(0, Math.floor((full - (tat - now)) / interval)),
          retryAfterMs: Math.ceil(next - now - full),
          resetMs: Math.ceil(tat - now),
          limit: rule.burst,
        },
        state: [tat],
        ttlMs: Math.ceil(tat - now) + 1000,
      };
    }
    return {
      decision: {
        allowed: true,
        remaining: Math.max(0, Math.floor((full - (next - now)) / interval)),
        retryAfterMs: 0,
        resetMs: Math.ceil(next - now),
        limit: rule.burst,
      },
      state: [next],
      ttlMs: Math.ceil(next - now) + 1000,
    };
  }
  const [storedTokens, updated] = state ?? [rule.burst, now];
  const tokens = Math.min(rule.burst, storedTokens + Math.max(0, now - updated) / interval);
  const allowed = tokens >= cost;
  const left = allowed ? tokens - cost : tokens;
  return {
    decision: {
      allowed,
      remaining: Math.floor(left),
      retryAfterMs: allowed ? 0 : Math.ceil((cost - tokens) * interval),
      resetMs: Math.ceil((rule.burst - left) * interval),
      limit: rule.burst,
    },
    state: [left, now],
    ttlMs: Math.ceil((rule.burst - left) * interval) + 1000,
  };
}
