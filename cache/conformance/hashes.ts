/**
 * Cache conformance: hash operations between two providers.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the hash cases: `hset`, `hget`, `hgetAll`, `hdel`, `hexists`, `hlen`
 * and `hincrBy` seen from two providers.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function hashCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("hash: set, get, getAll, del, exists, len, incrBy", async () => {
    await using env = await pair("hash");
    const { a, b } = env;
    assert.equal(await a.hash.hset("h", { name: "ann", age: 30, meta: { vip: true } }), 3);
    assert.equal(await a.hash.hset("h", { age: 31, city: "Oslo" }), 1);
    assert.equal(await b.hash.hget("h", "age"), 31);
    assert.equal(await b.hash.hget("h", "none"), undefined);
    assert.deepEqual(await b.hash.hgetAll("h"), {
      name: "ann",
      age: 31,
      meta: { vip: true },
      city: "Oslo",
    });
    assert.equal(await b.hash.hexists("h", "city"), true);
    assert.equal(await b.hash.hlen("h"), 4);
    assert.equal(await a.hash.hincrBy("h", "visits", 5), 5);
    assert.equal(await a.hash.hincrBy("h", "visits", -2), 3);
    assert.equal(await a.hash.hdel("h", "city", "none"), 1);
    assert.deepEqual(await b.hash.hgetAll("missing"), {});
  });
}
