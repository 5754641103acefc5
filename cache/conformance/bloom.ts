/**
 * Cache conformance: Bloom filters shared by two providers: answers, false-positive rate, batch
 * calls, clearing, expiry, key-prefix isolation and sizing checks.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the Bloom filter cases.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function bloomCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("bloom: no added item is ever absent; 10,000 others give under 2% false positives at errorRate 0.01", async () => {
    await using env = await pair("bloom rate");
    const options = { capacity: 1000, errorRate: 0.01 };
    const writer = env.a.bloom("ids", options);
    const reader = env.b.bloom("ids", options);
    assert.equal(writer.bits, 9586, "m = ceil(-n ln p / ln² 2)");
    assert.equal(writer.hashes, 7, "k = round(m/n ln 2)");
    const added = Array.from({ length: 1000 }, (_, i) => `user:${i * 7919}`);
    const fresh = await writer.addMany(added);
    assert.ok(fresh.filter(Boolean).length >= 990, "nearly every item was new");
    assert.ok((await reader.hasMany(added)).every(Boolean), "no added item reported absent");
    const others = Array.from({ length: 10_000 }, (_, i) => `other:${i}`);
    const positives = (await reader.hasMany(others)).filter(Boolean).length;
    assert.ok(positives / others.length < 0.02, `false-positive rate ${positives / others.length}`);
    assert.ok(positives > 0, "a filter this full shows some false positives (the check is real)");
  });

  test("bloom: add says whether an item was new; numbers and bigints are their digits; clear empties it", async () => {
    await using env = await pair("bloom basics");
    const { a, b } = env;
    const options = { capacity: 100, errorRate: 0.001 };
    const filter = a.bloom("f", options);
    assert.equal(await filter.has("x"), false, "an empty (missing) filter has nothing");
    assert.equal(await filter.add("x"), true);
    assert.equal(await filter.add("x"), false);
    assert.equal(await b.bloom("f", options).has("x"), true, "seen by the other provider");
    assert.deepEqual(await filter.addMany([42, "y", 42n, "y"]), [true, true, false, false]);
    assert.equal(await filter.has("42"), true);
    assert.equal(await filter.has(9_007_199_254_740_993n), false);
    assert.deepEqual(await filter.hasMany(["x", "y", "z", "😀"]), [true, true, false, false]);
    assert.equal(await a.bloom("other", options).has("x"), false, "another name, another filter");
    assert.equal(await b.string.exists("f"), 1, "the filter is the key 'f' under the prefix");
    await b.bloom("f", options).clear();
    assert.equal(await filter.has("x"), false);
    assert.equal(await a.string.exists("f"), 0);
  });

  test("bloom: ttlMs expires the filter's key from its first add, not from each", async () => {
    await using env = await pair("bloom ttl");
    const filter = env.a.bloom("t", { capacity: 10, errorRate: 0.01, ttlMs: 60_000 });
    await filter.add("x");
    const first = await env.b.string.ttl("t");
    assert.ok(first > 59_000 && first <= 60_000, `ttl ${first}`);
    await env.a.string.expire("t", 30_000);
    await filter.add("y");
    const kept = await env.b.string.ttl("t");
    assert.ok(kept > 29_000 && kept <= 30_000, `a later add keeps the expiry: ${kept}`);
    await env.a.bloom("forever", { capacity: 10, errorRate: 0.01 }).add("x");
    assert.equal(await env.a.string.ttl("forever"), -1);
  });

  test("bloom: filters live under the key prefix", async () => {
    await using one = await pair("bloom ns one");
    await using two = await pair("bloom ns two");
    const options = { capacity: 100, errorRate: 0.01 };
    await one.a.bloom("ids", options).add("x");
    assert.equal(await two.a.bloom("ids", options).has("x"), false);
    assert.equal(await two.a.bloom("ids", options).add("x"), true);
  });

  test("bloom: bad sizing, names and items are refused naming the value", async () => {
    await using env = await pair("bloom input");
    const { a } = env;
    for (const capacity of [0, -1, 1.5, NaN, "10"]) {
      assert.throws(
        () => a.bloom("f", { capacity: capacity as number, errorRate: 0.01 }),
        (e: Error) =>
          e instanceof RangeError && e.message.includes(`'capacity' must be a positive integer`) &&
          e.message.includes(`current value is ${capacity}`),
      );
    }
    for (const errorRate of [0, 1, -0.1, 2, NaN]) {
      assert.throws(
        () => a.bloom("f", { capacity: 10, errorRate }),
        (e: Error) =>
          e instanceof RangeError && e.message.includes("'errorRate'") &&
          e.message.includes(`current value is ${errorRate}`),
      );
    }
    assert.throws(
      () => a.bloom("f", { capacity: 1e9, errorRate: 1e-6 }),
      (e: Error) => e instanceof RangeError && /4294967296/.test(e.message),
      "more bits than a Redis string holds",
    );
    assert.throws(() => a.bloom("f", { capacity: 10, errorRate: 0.1, ttlMs: -5 }), RangeError);
    assert.throws(() => a.bloom("", { capacity: 10, errorRate: 0.1 }), TypeError);
    const filter = a.bloom("f", { capacity: 10, errorRate: 0.1 });
    await assert.rejects(filter.add(1.5), /'item' must be a safe integer: current value is 1.5/);
    await assert.rejects(filter.has("lone \ud800"), TypeError);
    assert.deepEqual(await filter.addMany([]), [], "an empty batch is no error");
    assert.deepEqual(await filter.hasMany([]), []);
    await assert.rejects(filter.addMany("x" as never), /'items' must be an array/);
    await assert.rejects(filter.add({} as unknown as string), TypeError);
    const controller = new AbortController();
    controller.abort(new Error("request ended"));
    await assert.rejects(filter.add("x", { signal: controller.signal }), /request ended/);
    assert.equal(await filter.has("x"), false, "the aborted add was not sent");
  });
}
