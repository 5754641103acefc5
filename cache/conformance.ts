/**
 * The behaviour every cache driver must show, as `Deno.test` cases. Each case
 * runs two providers on one backend, as two service instances would.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { cacheConformance } from "@gochat/kit/cache/conformance";
 * import { cache } from "@gochat/kit";
 *
 * const store = new cache.MemoryCacheStore();
 * cacheConformance({ name: "memory", makeDriver: () => cache.memoryCache({ store }) });
 * ```
 *
 * @module
 */
import type { CacheDriver } from "./driver.ts";
import { hashCases } from "./conformance/hashes.ts";
import { badInputCases, unicodeCases, wrongTypeCases } from "./conformance/input.ts";
import { lifecycleCases } from "./conformance/lifecycle.ts";
import { loadCases } from "./conformance/load.ts";
import { lockCases, lockIsolationCases, lockTtlLimitCases } from "./conformance/lock.ts";
import { namespaceCases } from "./conformance/namespace.ts";
import { setCases } from "./conformance/sets.ts";
import { signalCases } from "./conformance/signal.ts";
import { counterRangeCases, stringCases, stringTtlCases } from "./conformance/strings.ts";
import { serializerCases, valueCases } from "./conformance/values.ts";
import { zsetCases } from "./conformance/zsets.ts";
import { cacheSuiteContext } from "./conformance/_context.ts";
import { pubSubCases } from "./conformance/pubsub.ts";
import { bloomCases } from "./conformance/bloom.ts";

/** How to run the suite against one driver. */
export interface CacheSuiteOptions {
  /** Driver name for test names (`[redis] …`). */
  readonly name: string;
  /** A new client of the shared backend; called once per provider. */
  makeDriver(): CacheDriver | Promise<CacheDriver>;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

/**
 * Registers the cache conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function cacheConformance(options: CacheSuiteOptions): void {
  // The cases register in the order they always ran: names and order are part of the contract.
  const context = cacheSuiteContext(options);
  lifecycleCases(context);
  stringCases(context);
  valueCases(context);
  serializerCases(context);
  stringTtlCases(context);
  hashCases(context);
  setCases(context);
  zsetCases(context);
  wrongTypeCases(context);
  lockCases(context);
  loadCases(context);
  signalCases(context);
  badInputCases(context);
  namespaceCases(context);
  lockIsolationCases(context);
  lockTtlLimitCases(context);
  counterRangeCases(context);
  unicodeCases(context);
  // Added later, after every earlier case.
  pubSubCases(context);
  bloomCases(context);
}
