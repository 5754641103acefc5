/**
 * Cache conformance: sorted-set operations between two providers.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the sorted-set cases: adds, ranges by rank and score, removal,
 * counts and scores seen from two providers.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function zsetCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("zset: add, range, revRange, rangeByScore, rem, remRangeByRank, count, score, incrBy", async () => {
    await using env = await pair("zset");
    const { a, b } = env;
    const m = (member: string, score: number) => ({ member, score });
    assert.equal(await a.zset.add("z", m("a", 1), m("b", 2), m("c", 3), m("d", 4)), 4);
    assert.equal(await a.zset.add("z", m("a", 5)), 0, "an update adds nothing");
    assert.deepEqual(await b.zset.range("z", 0, -1), [m("b", 2), m("c", 3), m("d", 4), m("a", 5)]);
    assert.deepEqual(await b.zset.range("z", 1, 2), [m("c", 3), m("d", 4)]);
    assert.deepEqual(await b.zset.revRange("z", 0, 1), [m("a", 5), m("d", 4)]);
    assert.deepEqual(await b.zset.rangeByScore("z", 2, 4), [m("b", 2), m("c", 3), m("d", 4)]);
    assert.deepEqual(await b.zset.rangeByScore("z", 2, 4, { limit: 2 }), [m("b", 2), m("c", 3)]);
    assert.equal(await b.zset.count("z", 3, 5), 3);
    assert.equal(await b.zset.score("z", "c"), 3);
    assert.equal(await b.zset.score("z", "none"), undefined);
    assert.equal(await a.zset.incrBy("z", "c", 2.5), 5.5);
    assert.equal(await a.zset.rem("z", "b", "none"), 1);
    assert.equal(await a.zset.remRangeByRank("z", 0, 0), 1, "removes the lowest (d, 4)");
    assert.deepEqual(await b.zset.range("z", 0, -1), [m("a", 5), m("c", 5.5)]);
    assert.equal(await b.zset.card("z"), 2);
  });
}
