/**
 * Cache conformance: `withSignal`, which binds every operation to one signal.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the `withSignal` case: every operation is bound to the signal, and
 * none is sent after it aborts.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function signalCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("withSignal: every operation is bound to the signal; after the abort none is sent", async () => {
    await using env = await pair("signal");
    const controller = new AbortController();
    const bound = env.a.withSignal(controller.signal);
    await bound.string.set("k", { v: 1 });
    await bound.hash.hset("h", { f: 1 });
    await bound.set.add("s", "m");
    await bound.zset.add("z", { member: "m", score: 1 });
    assert.deepEqual(await bound.string.get("k"), { v: 1 });
    assert.equal(await bound.getOrLoad("l", () => Promise.resolve(7), { ttlMs: 60_000 }), 7);
    await assert.rejects(bound.string.incr(""), /'key' must be a non-empty string/);
    controller.abort(new Error("request ended"));
    for (
      const call of [
        () => bound.string.get("k"),
        () => bound.string.set("k", 2),
        () => bound.string.del("k", "other"),
        () => bound.hash.hgetAll("h"),
        () => bound.set.members("s"),
        () => bound.zset.range("z", 0, -1),
        () => bound.getOrLoad("l2", () => Promise.resolve(8), { ttlMs: 60_000 }),
      ]
    ) {
      await assert.rejects(call(), /request ended/);
    }
    assert.deepEqual(await env.b.string.get("k"), { v: 1 }, "the refused set was not sent");
    assert.equal(await env.b.string.get("l2"), undefined, "nor the refused load");
    assert.deepEqual(await env.a.string.get("k"), { v: 1 }, "the provider itself is unaffected");
    assert.throws(
      () => env.a.withSignal("soon" as unknown as AbortSignal),
      /must be an AbortSignal/,
    );
  });
}
