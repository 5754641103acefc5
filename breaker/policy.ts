/**
 * Breaker policies: when a breaker opens and how it recovers, their defaults and validation,
 * and the policy set in force (hot-reloaded from coord when a provider is given).
 *
 * @module
 */
import { componentConfig, type ComponentConfigSite } from "../coord/driver.ts";
import type { Coord } from "../coord/mod.ts";
import { checkConfig } from "../internal/config.ts";

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

/** Every policy field's default. */
export const DEFAULT_POLICY: Required<Policy> = {
  failureRatio: 0.5,
  minCalls: 20,
  consecutiveFailures: 0,
  windowMs: 10_000,
  openMs: 30_000,
  halfOpenCalls: 1,
  timeoutMs: 0,
};

/** The longest delay setTimeout keeps (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

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

/** The policies in force: the static ones, or the config center's latest good ones. */
export interface PolicySet {
  /** Every policy now, by name. */
  current(): Record<string, Required<Policy>>;
  /** The policy of breaker `name`: its own, else `default`, else the built-in default. */
  of(name: string): Required<Policy>;
  /** Stops watching the config center. */
  close(): Promise<void>;
}

/**
 * Validates the static policies and, with `coord`, watches `/config/{env}/{service}/breaker`.
 *
 * @param site The static policies, and the config key's `env` and `service`.
 * @param coord The provider the policies hot-reload from, if any.
 * @returns The policy set.
 * @throws {TypeError | RangeError} On invalid policies, or a config key without a provider.
 */
export async function livePolicies(
  site: ComponentConfigSite & { readonly policies: unknown },
  coord: Pick<Coord, "config"> | undefined,
): Promise<PolicySet> {
  const staticPolicies = validatePolicies(site.policies);
  const manager = await componentConfig(
    coord,
    site,
    "breaker",
    { action: "create breakers", holds: "policies" },
    { default: staticPolicies, validate: validatePolicies },
  );
  const current = (): Record<string, Required<Policy>> => manager?.current ?? staticPolicies;
  return {
    current,
    of(name: string): Required<Policy> {
      const policies = current();
      return policies[name] ?? policies.default ?? DEFAULT_POLICY;
    },
    async close(): Promise<void> {
      await manager?.close();
    },
  };
}
