/**
 * Rate-limit conformance: which keys and rules share a bucket, and which keys are refused.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import type { RateLimitSuiteContext } from "./_context.ts";

/**
 * Registers the key cases: keys and rules are separate buckets, rule names are
 * own keys only, and keys must be well-formed Unicode.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function keyCases(context: RateLimitSuiteContext): void {
  const { test, limiter } = context;

  test("keys and rules are separate buckets", async () => {
    await using a = await limiter({ one: { rate: 1, burst: 1 }, two: { rate: 1, burst: 1 } });
    const key = testKeyspace("separate");
    assert.equal((await a.allow(key, "one")).allowed, true);
    assert.equal((await a.allow(key, "one")).allowed, false);
    assert.equal((await a.allow(key, "two")).allowed, true);
    assert.equal((await a.allow(`${key}-other`, "one")).allowed, true);
  });

  test("rule names are own keys only: Object.prototype's names are unknown rules", async () => {
    const inherited = ["constructor", "toString", "valueOf", "__proto__", "hasOwnProperty"];
    await using deny = await limiter({ r: { rate: 1, burst: 1 } });
    await using fallback = await limiter({ default: { rate: 1, burst: 2 } }, {
      unknownRule: "default",
    });
    for (const name of inherited) {
      const key = testKeyspace(`inherited ${name}`);
      for (let i = 0; i < 20; i++) {
        assert.equal((await deny.allow(key, name)).allowed, false, `'${name}' is denied`);
      }
      const underDefault = [];
      for (let i = 0; i < 3; i++) underDefault.push((await fallback.allow(key, name)).allowed);
      assert.deepEqual(underDefault, [true, true, false], `'${name}' gets the default rule`);
    }
    // The same names as real rules, as a JSON config delivers them (`__proto__` an own key).
    const own = JSON.parse(
      '{"constructor": {"rate": 1, "burst": 1}, "__proto__": {"rate": 1, "burst": 2}}',
    );
    await using named = await limiter(own);
    const key = testKeyspace("own names");
    assert.deepEqual(
      [
        (await named.allow(key, "constructor")).allowed,
        (await named.allow(key, "constructor")).allowed,
      ],
      [true, false],
    );
    const proto = [];
    for (let i = 0; i < 3; i++) proto.push((await named.allow(key, "__proto__")).limit);
    assert.deepEqual(proto, [2, 2, 2], "the rule named __proto__ applies");
    for (const field of ["rate", "burst", "algorithm"]) {
      assert.equal((await named.allow(key, field)).allowed, false, `'${field}' is no rule`);
    }
  });

  test("a rule name and a key never share a bucket with another split of the same text", async () => {
    await using a = await limiter({ a: { rate: 1, burst: 1 }, "a:b": { rate: 1, burst: 1 } });
    const key = testKeyspace("split");
    assert.equal((await a.allow(`b:${key}`, "a")).allowed, true);
    assert.equal((await a.allow(`b:${key}`, "a")).allowed, false);
    assert.equal((await a.allow(key, "a:b")).allowed, true, "rule a:b has its own bucket");
    assert.equal((await a.allow(key, "a:b")).allowed, false);
  });

  test("keys that are not well-formed Unicode are refused (Redis would fold them into one)", async () => {
    await using a = await limiter({ a: { rate: 1, burst: 1 } });
    const key = testKeyspace("lone");
    for (const lone of [`${key}\ud800`, `${key}\udc00`]) {
      await assert.rejects(a.allow(lone, "a"), /'key' must be a non-empty, well-formed Unicode/);
    }
  });
}
