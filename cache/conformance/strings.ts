/**
 * Cache conformance: string values, their TTLs and counters, between two providers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { keyspace } from "../driver.ts";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the string cases: typed values, `setNX`, `getSet`, counters, `mget`
 * and `del` seen from two providers.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function stringCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("string: typed values round-trip between two providers; a miss is undefined", async () => {
    await using env = await pair("string");
    const { a, b } = env;
    await a.string.set("user", { id: 1, tags: ["x"], nested: { ok: true } });
    assert.deepEqual(await b.string.get("user"), { id: 1, tags: ["x"], nested: { ok: true } });
    assert.equal(await b.string.get("nobody"), undefined);
    assert.equal(await a.string.setNX("once", "first"), true);
    assert.equal(await b.string.setNX("once", "second"), false);
    assert.equal(await b.string.getSet("once", "third"), "first");
    assert.equal(await a.string.get("once"), "third");
    assert.equal(await a.string.incr("n"), 1);
    assert.equal(await b.string.incrBy("n", 41), 42);
    assert.equal(await a.string.decr("n"), 41);
    assert.equal(await b.string.get("n"), 41);
    assert.equal(await a.string.exists("user", "n", "nobody"), 2);
    await a.string.mset({ m1: 1, m2: "two" });
    assert.deepEqual(await b.string.mget(["m1", "m2", "m3"]), [1, "two", undefined]);
    assert.equal(await b.string.del("m1", "m2", "m3"), 2);
    assert.equal(await a.string.exists("m1"), 0);
  });
}

/**
 * Registers the string TTL cases: keys expire, `ttl()` reports it, a plain `set`
 * clears it.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function stringTtlCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("string: TTLs expire keys, ttl() reports them, a plain set clears them", async () => {
    await using env = await pair("ttl");
    const { a, b } = env;
    await a.string.set("short", "v", { ttlMs: 150 });
    const remaining = await b.string.ttl("short");
    assert.ok(remaining > 0 && remaining <= 150, `ttl ${remaining}`);
    assert.equal(await b.string.ttl("missing"), -2);
    await a.string.set("forever", "v");
    assert.equal(await a.string.ttl("forever"), -1);
    assert.equal(await a.string.expire("forever", 10_000), true);
    assert.ok((await a.string.ttl("forever")) > 9_000);
    await a.string.set("forever", "again");
    assert.equal(await a.string.ttl("forever"), -1, "SET without ttl clears the expiry");
    assert.equal(await a.string.expire("missing", 1000), false);
    await eventually(async () => assert.equal(await b.string.get("short"), undefined), {
      timeoutMs: 3000,
    });
  });
}

/**
 * Registers the counter range cases: `incrBy` results stay safe integers, and
 * integers written by another client are read exactly.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function counterRangeCases(context: CacheSuiteContext): void {
  const { test, pair, backend } = context;

  test("incrBy: counters stay safe integers; a result beyond is refused and the value kept", async () => {
    await using env = await pair("incr range");
    const { a, b } = env;
    const max = Number.MAX_SAFE_INTEGER;
    const unsafe = (e: Error) =>
      e instanceof RangeError && /beyond ±9007199254740991.*unchanged/.test(e.message);
    await a.string.set("n", max - 1);
    assert.equal(await a.string.incr("n"), max);
    await assert.rejects(a.string.incr("n"), unsafe);
    await assert.rejects(b.string.incrBy("n", max), unsafe);
    assert.equal(await b.string.get("n"), max);
    await a.string.set("m", -max);
    await assert.rejects(a.string.decr("m"), unsafe);
    assert.equal(await b.string.incrBy("m", max), 0);
    await a.hash.hset("h", { c: max });
    await assert.rejects(a.hash.hincrBy("h", "c", 1), unsafe);
    assert.equal(await b.hash.hget("h", "c"), max);
    assert.equal(await b.hash.hincrBy("h", "c", -2), max - 2, "odd, near 2^53: read exactly");
    for (const delta of [2 ** 53, -(2 ** 53), 1.5, NaN, Infinity]) {
      await assert.rejects(
        a.string.incrBy("n", delta),
        (e: Error) => e instanceof RangeError && /'delta' must be a safe integer/.test(e.message),
      );
    }
    await assert.rejects(a.string.incrBy("n", "1" as unknown as number), TypeError);
    // Integers another client stored beyond 2^53: exact arithmetic, Redis's syntax and int64 range.
    await using raw = await backend();
    const space = keyspace(env.keyPrefix);
    await raw.set(space.key("test", "big"), "9007199254740993");
    assert.equal(await a.string.incrBy("big", -2), max, "exact, not rounded through a double");
    await raw.set(space.key("test", "big"), "9223372036854775807");
    await assert.rejects(a.string.incr("big"), unsafe, "int64 overflow");
    assert.equal(await raw.get(space.key("test", "big")), "9223372036854775807");
    for (const text of ["99999999999999999999", "007", "-0", "+1", " 1", "1.0", ""]) {
      await raw.set(space.key("test", "odd"), text);
      await assert.rejects(a.string.incr("odd"), /not an integer/, JSON.stringify(text));
    }
  });
}
