/**
 * Once conformance: how stored results are encoded: bigints a Go service reads, pluggable serializers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as once from "../mod.ts";
import type { OnceSuiteContext } from "./_context.ts";

/**
 * Registers the stored-result cases: bigints as JSON integers a Go service
 * reads, and a pluggable serializer whose output must be well-formed.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function resultCases(context: OnceSuiteContext): void {
  const { options, test, pair, storedPayload } = context;

  test("results: a bigint is stored as a JSON integer with all its digits and replayed exactly, nested too", async () => {
    await using env = await pair();
    const result = {
      id: 1234567890123456789n, // a Snowflake id, beyond 2^53
      ids: [2n ** 63n - 1n, -(2n ** 63n), 5n],
      page: { next: 9007199254740993n },
    };
    assert.deepEqual(await env.a.execute("order", 60_000, () => Promise.resolve(result)), result);
    // A bigint within ±(2^53 − 1) comes back as a number: JSON text cannot tell the two apart.
    const replayed = { ...result, ids: [2n ** 63n - 1n, -(2n ** 63n), 5] };
    assert.deepEqual(
      await env.b.execute("order", 60_000, () => Promise.reject(new Error("ran twice"))),
      replayed,
    );
    assert.equal(
      await storedPayload(`${env.prefix}order`),
      `{"id":1234567890123456789,"ids":[9223372036854775807,-9223372036854775808,5],"page":{"next":9007199254740993}}`,
    );
    assert.equal(await env.a.execute("id", 60_000, () => Promise.resolve(2n ** 60n)), 2n ** 60n);
    assert.equal(await env.b.execute("id", 60_000, () => Promise.resolve(0n)), 2n ** 60n);
    assert.equal(await storedPayload(`${env.prefix}id`), "1152921504606846976");
  });

  test("results: a serializer given to create encodes and decodes every result; its output must be well-formed", async () => {
    const keyPrefix = testKeyspace("once serializer");
    const serializer: once.Serializer = {
      encode: (value) => `v1:${JSON.stringify(value)}`,
      decode: (text) => {
        assert.ok(text.startsWith("v1:"), text);
        return JSON.parse(text.slice(3));
      },
    };
    const config = { ...once.defaultConfig("development"), keyPrefix };
    await using a = await once.create(config, { driver: options.makeDriver(), serializer });
    await using b = await once.create(config, { driver: options.makeDriver(), serializer });
    assert.deepEqual(await a.execute("k", 60_000, () => Promise.resolve({ n: 1 })), { n: 1 });
    assert.deepEqual(await b.execute("k", 60_000, () => Promise.resolve({ n: 2 })), { n: 1 });
    assert.equal(await storedPayload(`${keyPrefix}once:k`), `v1:{"n":1}`);
    assert.equal(await a.do("d", 60_000, () => Promise.resolve()), true);
    assert.equal(
      await storedPayload(`${keyPrefix}once:d`),
      "v1:null",
      "undefined is stored as null",
    );
    await using broken = await once.create(config, {
      driver: options.makeDriver(),
      serializer: { encode: () => "\ud800", decode: (text) => text },
    });
    await assert.rejects(
      broken.execute("bad", 60_000, () => Promise.resolve(1)),
      /must be well-formed Unicode/,
    );
    await assert.rejects(
      once.create(config, {
        driver: options.makeDriver(),
        serializer: { decode: () => 1 } as unknown as once.Serializer,
      }),
      (e: Error) => e instanceof TypeError && /'serializer' must have/.test(e.message),
    );
  });
}
