/**
 * The behaviour every once driver must show, as `Deno.test` cases, with two
 * providers (two instances) on one backend.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { onceConformance } from "@gochat/kit/once/conformance";
 * import { redisOnce } from "@gochat/kit/drivers/redis";
 *
 * onceConformance({ name: "redis", makeDriver: () => redisOnce({ url }) });
 * ```
 *
 * @module
 */
import type { OnceDriver } from "./driver.ts";
import { exactlyOnceCases } from "./conformance/exactly_once.ts";
import { inputCases } from "./conformance/input.ts";
import { lifecycleCases } from "./conformance/lifecycle.ts";
import { lockCases, lostLockCases } from "./conformance/lock.ts";
import { resultCases } from "./conformance/results.ts";
import { signalCases } from "./conformance/signal.ts";
import { onceSuiteContext } from "./conformance/_context.ts";

/** How to run the suite against one driver. */
export interface OnceSuiteOptions {
  /** Driver name for test names (`[redis] …`). */
  readonly name: string;
  /** A new client of the shared backend; one per provider. */
  makeDriver(): OnceDriver;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

/**
 * Registers the once conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function onceConformance(options: OnceSuiteOptions): void {
  // The cases register in the order they always ran: names and order are part of the contract.
  const context = onceSuiteContext(options);
  lifecycleCases(context);
  resultCases(context);
  exactlyOnceCases(context);
  signalCases(context);
  lockCases(context);
  inputCases(context);
  lostLockCases(context);
}
