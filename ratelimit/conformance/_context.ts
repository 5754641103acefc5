/**
 * What every rate-limit behaviour file shares: the `test` helper that names and registers a
 * case, and limiters on one backend under one key prefix.
 *
 * @module
 */
import { testKeyspace } from "../../testing/keyspace.ts";
import * as ratelimit from "../mod.ts";
import type { RateLimitSuiteOptions } from "../conformance.ts";

/** What each behaviour file of the rate-limit suite is given. */
export interface RateLimitSuiteContext {
  /** The driver under test. */
  readonly options: RateLimitSuiteOptions;
  /** Registers one case as `[name] ratelimit: title`, ignored when the backend is not available. */
  test(title: string, fn: () => Promise<void>): void;
  /** The key prefix of every limiter in this run of the suite. */
  readonly keyPrefix: string;
  /** A new limiter with `rules`, and `config` over the development defaults, on its own driver. */
  limiter(
    rules: Record<string, ratelimit.Rule>,
    config?: Partial<ratelimit.RateLimitConfig>,
  ): Promise<ratelimit.RateLimiter>;
}

/**
 * Builds the shared context of the rate-limit suite for one driver.
 *
 * @param options The driver under test.
 * @returns The `test` helper and the limiter factory.
 */
export function rateLimitSuiteContext(options: RateLimitSuiteOptions): RateLimitSuiteContext {
  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${options.name}] ratelimit: ${title}`, ignore: options.ignore, fn });

  // One namespace for the run: the limiters of one case share buckets, as services would.
  const keyPrefix = testKeyspace("ratelimit");
  const limiter = (
    rules: Record<string, ratelimit.Rule>,
    config: Partial<ratelimit.RateLimitConfig> = {},
  ) =>
    ratelimit.create({ ...ratelimit.defaultConfig("development"), rules, keyPrefix, ...config }, {
      driver: options.makeDriver(),
    });

  return { options, test, keyPrefix, limiter };
}
