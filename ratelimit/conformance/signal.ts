/**
 * Rate-limit conformance: signals on `allow`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import type { RateLimitSuiteContext } from "./_context.ts";

/**
 * Registers the signal case: an aborted `allow` rejects with its reason and
 * takes nothing.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function signalCases(context: RateLimitSuiteContext): void {
  const { test, limiter } = context;

  test("allow takes a signal: an aborted call rejects with its reason and takes nothing", async () => {
    await using a = await limiter({ r: { rate: 1, burst: 2 } });
    const key = testKeyspace("signal");
    const controller = new AbortController();
    const first = await a.allow(key, "r", { signal: controller.signal });
    assert.deepEqual([first.allowed, first.remaining], [true, 1]);
    controller.abort(new Error("request over"));
    await assert.rejects(a.allow(key, "r", { signal: controller.signal }), /request over/);
    await assert.rejects(a.allowN(key, "r", 1, { signal: controller.signal }), /request over/);
    const after = await a.allow(key, "r");
    assert.deepEqual([after.allowed, after.remaining], [true, 0], "the aborted calls took nothing");
    await assert.rejects(
      a.allow(key, "r", { signal: "soon" as unknown as AbortSignal }),
      /'signal' must be an AbortSignal/,
    );
  });
}
