/**
 * Cache conformance: what a provider refuses: keys of another type, bad input, strings that are not well-formed Unicode.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as cache from "../mod.ts";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the wrong-type case: an operation on a key of another type fails
 * with `WrongTypeError`.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function wrongTypeCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("an operation on a key of another type fails with WrongTypeError", async () => {
    await using env = await pair("wrongtype");
    await env.a.string.set("k", "text");
    await assert.rejects(env.b.hash.hget("k", "f"), cache.WrongTypeError);
    await assert.rejects(env.b.set.add("k", "m"), cache.WrongTypeError);
    await env.a.string.set("text", "abc");
    await assert.rejects(env.a.string.incr("text"), /not an integer/);
  });
}

/**
 * Registers the bad-input case: each invalid key, TTL, value, score or delta gets
 * an error naming it, and nothing is written.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function badInputCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("bad input gets a clear error naming the problem", async () => {
    await using env = await pair("bad input");
    await assert.rejects(env.a.string.set("", 1), /'key' must be a non-empty string/);
    await assert.rejects(
      env.a.string.set("k", 1, { ttlMs: -1 }),
      (e: Error) => e instanceof RangeError && /'ttlMs'/.test(e.message),
    );
    await assert.rejects(
      env.a.string.set("k", { m: new Map() }),
      /Cannot store the value of key 'k' as JSON: value.m is a Map/,
    );
    await assert.rejects(env.a.string.set("k", undefined), /value is a undefined/);
    await assert.rejects(env.a.hash.hset("h", { f: () => 1 }), /a function/);
    await assert.rejects(env.a.string.expire("k", 0), /'ttlMs' must be a positive integer/);
    await assert.rejects(env.a.getOrLoad("k", () => Promise.resolve(1), { ttlMs: 0 }), /'ttlMs'/);
    await assert.rejects(
      env.a.zset.add("z", { member: "m", score: NaN }),
      /'score' must be a number/,
    );
    await assert.rejects(
      env.a.string.incrBy("n", 1.5),
      (e: Error) => e instanceof RangeError && /'delta' must be a safe integer/.test(e.message),
    );
    await assert.rejects(env.a.string.incr(""), /'key' must be a non-empty string/);
    assert.equal(await env.a.string.exists("k"), 0, "nothing was written by the failed calls");
  });
}

/**
 * Registers the Unicode case: keys, fields, members and prefixes that are not
 * well-formed Unicode are refused; values keep them.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function unicodeCases(context: CacheSuiteContext): void {
  const { options, test, pair } = context;

  test("strings that are not well-formed Unicode are refused where they become keys, fields or members", async () => {
    await using env = await pair("unicode");
    const { a, b } = env;
    // On Redis both would be stored as "x" + U+FFFD: one key, one field, one member.
    for (const lone of ["x\ud800", "x\udc00", "\udfff", "a\ud800b"]) {
      const shown = JSON.stringify(lone).replaceAll("\\", "\\\\");
      const named = (name: string) => (e: Error) =>
        e instanceof TypeError &&
        new RegExp(`'${name}' must be well-formed Unicode: current value is ${shown}`).test(
          e.message,
        );
      for (
        const call of [
          () => a.string.set(lone, 1),
          () => a.string.get(lone),
          () => a.string.del("ok", lone),
          () => a.string.mset({ [lone]: 1 }),
          () => a.lock.tryAcquire(lone),
          () => a.getOrLoad(lone, () => Promise.resolve(1), { ttlMs: 1000 }),
        ]
      ) await assert.rejects(call(), named("key"));
      for (
        const call of [
          () => a.hash.hset("h", { [lone]: 1 }),
          () => a.hash.hget("h", lone),
          () => a.hash.hexists("h", lone),
          () => a.hash.hincrBy("h", lone, 1),
          () => a.hash.hdel("h", lone),
        ]
      ) await assert.rejects(call(), named("field"));
      for (
        const call of [
          () => a.set.add("s", "ok", lone),
          () => a.set.isMember("s", lone),
          () => a.zset.add("z", { member: lone, score: 1 }),
          () => a.zset.score("z", lone),
          () => a.zset.incrBy("z", lone, 1),
        ]
      ) await assert.rejects(call(), named("member"));
      await assert.rejects(
        cache.create({ ...cache.defaultConfig("development"), keyPrefix: lone }, {
          driver: await options.makeDriver(),
        }),
        named("keyPrefix"),
      );
    }
    assert.equal(await a.string.exists("ok"), 0, "nothing was written");
    assert.deepEqual(await a.set.members("s"), []);
    // JSON escapes lone surrogates, so values keep them, distinct; pairs (emoji) are well-formed.
    await a.string.set("v1", "x\ud800");
    await a.string.set("v2", "x\udc00");
    await a.hash.hset("😀", { "😀": "😀" });
    assert.deepEqual(await b.string.mget(["v1", "v2"]), ["x\ud800", "x\udc00"]);
    assert.deepEqual(await b.hash.hgetAll("😀"), { "😀": "😀" });
    // Another serializer's output is checked instead.
    await using raw = await cache.create(
      { ...cache.defaultConfig("development"), keyPrefix: env.keyPrefix },
      {
        driver: await options.makeDriver(),
        serializer: { encode: (value) => String(value), decode: (text) => text },
      },
    );
    await assert.rejects(
      raw.string.set("t", "x\ud800"),
      (e: Error) =>
        e instanceof TypeError && /serializer's output must be well-formed Unicode/.test(e.message),
    );
    await raw.string.set("t", "fine 😀");
    assert.equal(await raw.string.get("t"), "fine 😀");
  });
}
