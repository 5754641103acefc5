/**
 * The behaviour every db driver must show, as `Deno.test` cases. Each case
 * works in a schema of its own; several cases use two providers on one database.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { dbConformance } from "@gochat/kit/db/conformance";
 * import { pgliteDb } from "@gochat/kit/drivers/pglite";
 *
 * const driver = pgliteDb();
 * dbConformance({ name: "pglite", makeDriver: () => driver, config: {} });
 * ```
 *
 * @module
 */
import type * as db from "./mod.ts";
import type { DbDriver } from "./driver.ts";
import { errorCases } from "./conformance/errors.ts";
import { lifecycleCases } from "./conformance/lifecycle.ts";
import { migrateCases } from "./conformance/migrate.ts";
import { observabilityCases } from "./conformance/observability.ts";
import { queryCases } from "./conformance/queries.ts";
import { shardingCases } from "./conformance/sharding.ts";
import { signalCases } from "./conformance/signal.ts";
import { isolationCases, transactionCases } from "./conformance/transactions.ts";
import { dbSuiteContext } from "./conformance/_context.ts";

/** How to run the suite against one driver. */
export interface DbSuiteOptions {
  /** Driver name for test names (`[postgres] …`). */
  readonly name: string;
  /** The driver for a new provider; the same database each time. */
  makeDriver(): DbDriver;
  /** Connection settings merged into `defaultConfig("development")`. */
  readonly config: Partial<db.DbConfig>;
  /** Ignore every case (the database is not available). */
  readonly ignore?: boolean;
}

/**
 * Registers the db conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function dbConformance(options: DbSuiteOptions): void {
  // The cases register in the order they always ran: names and order are part of the contract.
  const context = dbSuiteContext(options);
  lifecycleCases(context);
  queryCases(context);
  transactionCases(context);
  signalCases(context);
  isolationCases(context);
  migrateCases(context);
  shardingCases(context);
  errorCases(context);
  observabilityCases(context);
}
