/**
 * The behaviour every coord driver must show, as one suite of `Deno.test`
 * cases. Each case runs two providers on one backend (two clients of one
 * store or cluster), as two service instances would.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { coordConformance } from "@gochat/kit/coord/conformance";
 * import { coord } from "@gochat/kit";
 *
 * const store = new coord.MemoryCoordStore();
 * coordConformance({
 *   name: "memory",
 *   makeDriver: () => coord.memoryCoord({ store }),
 *   sever: (driver) => (driver as coord.MemoryCoordDriver).setReachable(false),
 *   heal: (driver) => (driver as coord.MemoryCoordDriver).setReachable(true),
 *   ttlMs: 300,
 * });
 * ```
 *
 * @module
 */
import type { CoordDriver } from "./driver.ts";
import { configCases, configUpdateCases } from "./conformance/config.ts";
import { electionCases } from "./conformance/election.ts";
import { inputCases } from "./conformance/input.ts";
import { instanceIdCases } from "./conformance/instance_ids.ts";
import { lifecycleCases } from "./conformance/lifecycle.ts";
import { lockCases } from "./conformance/lock.ts";
import { prefixCases } from "./conformance/prefix.ts";
import { presenceCases } from "./conformance/presence.ts";
import { registryCases } from "./conformance/registry.ts";
import { abandonedCallCases, handleSignalCases, signalCases } from "./conformance/signal.ts";
import { coordSuiteContext } from "./conformance/_context.ts";

/** How to run the suite against one driver. */
export interface CoordSuiteOptions {
  /** Driver name for test names (`[etcd] …`); a service name also tells `.ci/run` whose suite it is. */
  readonly name: string;
  /** A new client of the shared backend; called once per provider. */
  makeDriver(): CoordDriver | Promise<CoordDriver>;
  /** Cuts a client off from the backend without releasing anything it holds (a crash or partition). */
  sever(driver: CoordDriver): void | Promise<void>;
  /**
   * Reconnects a severed client. A driver that cannot (etcd: a closed client stays closed) leaves
   * it out, and the re-registration case is then covered by that driver's own fault test.
   */
  heal?(driver: CoordDriver): void | Promise<void>;
  /** A short lease TTL the backend grants exactly (memory: a few hundred ms; etcd: 2000). */
  readonly ttlMs: number;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

/**
 * Registers the coord conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function coordConformance(options: CoordSuiteOptions): void {
  // The cases register in the order they always ran: names and order are part of the contract.
  const context = coordSuiteContext(options);
  lifecycleCases(context);
  configCases(context);
  signalCases(context);
  handleSignalCases(context);
  abandonedCallCases(context);
  configUpdateCases(context);
  lockCases(context);
  registryCases(context);
  electionCases(context);
  instanceIdCases(context);
  prefixCases(context);
  inputCases(context);
  presenceCases(context);
}
