/**
 * Db conformance: a provider's `ping()` before and after `close()`.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as db from "../mod.ts";
import { capturingLogger } from "../../testing/logger.ts";
import type { DbSuiteContext } from "./_context.ts";

/**
 * Registers the lifecycle case: `ping()` resolves on a live backend and rejects
 * once the provider is closed.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lifecycleCases(context: DbSuiteContext): void {
  const { options, test } = context;

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await db.create({ ...db.defaultConfig("development"), ...options.config }, {
      driver: options.makeDriver(),
      logger: capturingLogger().logger,
    });
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), db.DriverError);
  });
}
