/**
 * Once conformance: a provider's `ping()` before and after `close()`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as once from "../mod.ts";
import type { OnceSuiteContext } from "./_context.ts";

/**
 * Registers the lifecycle case: `ping()` resolves on a live backend and rejects
 * once the provider is closed.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lifecycleCases(context: OnceSuiteContext): void {
  const { options, test } = context;

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await once.create(
      { ...once.defaultConfig("development"), keyPrefix: testKeyspace("once ping") },
      { driver: options.makeDriver() },
    );
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), once.DriverError);
  });
}
