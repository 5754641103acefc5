/**
 * Rate-limit conformance: a limiter's `ping()` before and after `close()`.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as ratelimit from "../mod.ts";
import type { RateLimitSuiteContext } from "./_context.ts";

/**
 * Registers the lifecycle case: `ping()` resolves on a live backend and rejects
 * once the limiter is closed.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lifecycleCases(context: RateLimitSuiteContext): void {
  const { test, limiter } = context;

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await limiter({});
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), ratelimit.DriverError);
  });
}
