/**
 * Cache conformance: how values are encoded: bigints a Go service reads, pluggable serializers, `null` from a loader.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as cache from "../mod.ts";
import { keyspace } from "../driver.ts";
import { capturingLogger } from "../../testing/logger.ts";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the bigint value case: bigints as JSON integers a Go service reads,
 * and read back exactly.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function valueCases(context: CacheSuiteContext): void {
  const { test, pair, backend } = context;

  test("values: a bigint is stored as a JSON integer with all its digits and reads back exactly, nested too", async () => {
    await using env = await pair("bigint");
    const { a, b } = env;
    const id = 1234567890123456789n; // a Snowflake id, beyond 2^53
    await a.string.set("user", { id });
    assert.deepEqual(await b.string.get("user"), { id });
    // What a Go service reading the key sees: a JSON number, which it reads into an int64.
    await using raw = await backend();
    const space = keyspace(env.keyPrefix);
    assert.equal(await raw.get(space.key("test", "user")), `{"id":1234567890123456789}`);

    const nested = {
      ids: [2n ** 63n - 1n, -(2n ** 63n), 5n],
      page: { next: 9007199254740993n, size: 20 },
      wide: 2 ** 70, // a number beyond 2^53 stays a number
      safe: Number.MAX_SAFE_INTEGER,
    };
    await a.string.set("nested", nested);
    assert.equal(
      await raw.get(space.key("test", "nested")),
      `{"ids":[9223372036854775807,-9223372036854775808,5],"page":{"next":9007199254740993,"size":20},"wide":1.1805916207174113e+21,"safe":9007199254740991}`,
    );
    // A bigint within ±(2^53 − 1) reads back as a number: JSON text cannot tell the two apart.
    const read = { ...nested, ids: [2n ** 63n - 1n, -(2n ** 63n), 5] };
    assert.deepEqual(await b.string.get("nested"), read);
    assert.deepEqual(await b.string.mget(["nested", "user"]), [read, { id }]);
    await a.hash.hset("h", { id, list: [id] });
    assert.deepEqual(await b.hash.hgetAll("h"), { id, list: [id] });
    await a.string.mset({ m: id });
    assert.equal(await b.string.getSet("m", [id, -id]), id);
    assert.deepEqual(await b.string.get("m"), [id, -id]);
    const loaded = { id, at: 1 };
    assert.deepEqual(
      await a.getOrLoad("l", () => Promise.resolve(loaded), { ttlMs: 10_000 }),
      loaded,
    );
    assert.deepEqual(
      await b.getOrLoad("l", () => Promise.reject(new Error("cached")), { ttlMs: 10_000 }),
      loaded,
    );
    // Written by another service: an int64 beyond 2^53 becomes a bigint, a small one a number.
    await raw.set(space.key("test", "go"), `{"id":-9223372036854775808,"n":1,"f":1e300}`);
    assert.deepEqual(await a.string.get("go"), { id: -(2n ** 63n), n: 1, f: 1e300 });
  });
}

/**
 * Registers the serializer and loader value cases: a pluggable serializer, and
 * `null` rather than `undefined` from a loader.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function serializerCases(context: CacheSuiteContext): void {
  const { options, test, pair, backend } = context;

  test("values: a serializer given to create encodes and decodes every value; its output must be well-formed", async () => {
    const keyPrefix = testKeyspace("serializer");
    const serializer: cache.Serializer = {
      encode: (value) => `v1:${JSON.stringify(value)}`,
      decode: (text) => {
        assert.ok(text.startsWith("v1:"), text);
        return JSON.parse(text.slice(3));
      },
    };
    const config = { ...cache.defaultConfig("development"), keyPrefix, loadLeaseMs: 2000 };
    const logger = capturingLogger().logger;
    await using a = await cache.create(config, {
      driver: await options.makeDriver(),
      logger,
      serializer,
    });
    await using b = await cache.create(config, {
      driver: await options.makeDriver(),
      logger,
      serializer,
    });
    await a.string.set("k", { n: 1 });
    assert.deepEqual(await b.string.get("k"), { n: 1 });
    await using raw = await backend();
    assert.equal(await raw.get(keyspace(keyPrefix).key("test", "k")), `v1:{"n":1}`);
    await a.hash.hset("h", { f: "x" });
    assert.deepEqual(await b.hash.hgetAll("h"), { f: "x" });
    assert.equal(await a.getOrLoad("l", () => Promise.resolve(7), { ttlMs: 10_000 }), 7);
    assert.equal(await b.getOrLoad("l", () => Promise.resolve(8), { ttlMs: 10_000 }), 7);
    await using broken = await cache.create(config, {
      driver: await options.makeDriver(),
      logger,
      serializer: { encode: () => "\ud800", decode: (text) => text },
    });
    await assert.rejects(broken.string.set("bad", 1), /must be well-formed Unicode/);
    await assert.rejects(
      cache.create(config, {
        driver: await options.makeDriver(),
        serializer: { encode: () => "" } as unknown as cache.Serializer,
      }),
      (e: Error) => e instanceof TypeError && /'serializer' must have/.test(e.message),
    );
  });

  test("getOrLoad: a loader resolving to undefined is refused, saying to return null; null is cached", async () => {
    await using env = await pair("load undefined");
    await assert.rejects(
      env.a.getOrLoad("u", () => Promise.resolve(undefined), { ttlMs: 10_000 }),
      (e: Error) =>
        e instanceof TypeError && /loader returned undefined: return null/.test(e.message),
    );
    assert.equal(await env.a.string.exists("u"), 0, "nothing was stored");
    assert.equal(await env.a.getOrLoad("u", () => Promise.resolve(null), { ttlMs: 10_000 }), null);
    assert.equal(
      await env.b.getOrLoad("u", () => Promise.reject(new Error("cached")), { ttlMs: 10_000 }),
      null,
    );
  });
}
