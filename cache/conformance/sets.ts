/**
 * Cache conformance: set operations between two providers.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the set cases: `add`, `remove`, `members`, `isMember` and `card` seen
 * from two providers.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function setCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("set: add, remove, members, isMember, card", async () => {
    await using env = await pair("set");
    const { a, b } = env;
    assert.equal(await a.set.add("s", "x", "y", "x"), 2);
    assert.equal(await a.set.add("s", "y", "z"), 1);
    assert.deepEqual((await b.set.members("s")).sort(), ["x", "y", "z"]);
    assert.equal(await b.set.isMember("s", "y"), true);
    assert.equal(await b.set.isMember("s", "w"), false);
    assert.equal(await a.set.remove("s", "y", "w"), 1);
    assert.equal(await b.set.card("s"), 2);
    assert.deepEqual(await b.set.members("missing"), []);
  });
}
