/**
 * The behaviour every rate-limit driver must show, as `Deno.test` cases, with
 * two limiters (two instances) on one backend. Timing is real here; exact
 * decisions under an injected clock are tested on the memory driver.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { rateLimitConformance } from "@gochat/kit/ratelimit/conformance";
 * import { redisRateLimit } from "@gochat/kit/drivers/redis";
 *
 * rateLimitConformance({ name: "redis", makeDriver: () => redisRateLimit({ url }) });
 * ```
 *
 * @module
 */
import type { RateLimitDriver } from "./driver.ts";
import { bucketCases } from "./conformance/buckets.ts";
import { keyCases } from "./conformance/keys.ts";
import { lifecycleCases } from "./conformance/lifecycle.ts";
import { signalCases } from "./conformance/signal.ts";
import { rateLimitSuiteContext } from "./conformance/_context.ts";

/** How to run the suite against one driver. */
export interface RateLimitSuiteOptions {
  /** Driver name for test names (`[redis] …`). */
  readonly name: string;
  /** A new client of the shared backend; one per limiter. */
  makeDriver(): RateLimitDriver;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

/**
 * Registers the rate-limit conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function rateLimitConformance(options: RateLimitSuiteOptions): void {
  // The cases register in the order they always ran: names and order are part of the contract.
  const context = rateLimitSuiteContext(options);
  lifecycleCases(context);
  bucketCases(context);
  signalCases(context);
  keyCases(context);
}
