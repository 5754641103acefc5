/**
 * Coord conformance: a provider's `ping()` before and after `close()`.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as coord from "../mod.ts";
import type { CoordSuiteContext } from "./_context.ts";

/**
 * Registers the lifecycle case: `ping()` resolves on a live backend and rejects
 * once the provider is closed.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lifecycleCases(context: CoordSuiteContext): void {
  const { test, provider } = context;

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const { provider: instance } = await provider();
    await instance.ping();
    await instance.ping({ signal: new AbortController().signal });
    await instance.close();
    await assert.rejects(instance.ping(), coord.DriverError);
  });
}
