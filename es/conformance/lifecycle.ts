/**
 * Search conformance: a provider's `ping()` before and after `close()`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { capturingLogger } from "../../testing/logger.ts";
import * as es from "../mod.ts";
import type { SearchSuiteContext } from "./_context.ts";

/**
 * Registers the lifecycle case: `ping()` resolves on a live backend and rejects
 * once the provider is closed.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lifecycleCases(context: SearchSuiteContext): void {
  const { options, run, test } = context;

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await es.create({ keyPrefix: `kit_${run}_` }, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), es.DriverError);
  });
}
