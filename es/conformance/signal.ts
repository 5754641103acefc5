/**
 * Search conformance: signals on index calls.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SearchSuiteContext } from "./_context.ts";

/**
 * Registers the signal case: once it aborts, nothing is sent.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function signalCases(context: SearchSuiteContext): void {
  const { test, pair } = context;

  test("calls take a signal: once it aborts nothing is sent", async () => {
    await using env = await pair("signal");
    const gone = new AbortController();
    gone.abort(new Error("request over"));
    const signal = gone.signal;
    await assert.rejects(env.a.put("x", { content: "no" }, { signal }), /request over/);
    await assert.rejects(env.a.search({}, { signal }), /request over/);
    await assert.rejects(env.a.get("x", { signal }), /request over/);
    assert.equal(await env.b.get("x"), undefined, "the refused write was not sent");
  });
}
