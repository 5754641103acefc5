/**
 * Cache conformance: `keyPrefix`: disjoint nested prefixes and the backend key layout.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as cache from "../mod.ts";
import { capturingLogger } from "../../testing/logger.ts";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the `keyPrefix` case: nested prefixes are disjoint, and the backend
 * key is prefix, U+001F, key.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function namespaceCases(context: CacheSuiteContext): void {
  const { options, test, backend } = context;

  test("keyPrefix: nested prefixes ('n:' and 'n:x:') are disjoint; the backend key is prefix, U+001F, key", async () => {
    const base = testKeyspace("nested");
    const config = { ...cache.defaultConfig("development"), loadLeaseMs: 2000 };
    const logger = capturingLogger().logger;
    await using outer = await cache.create({ ...config, keyPrefix: `${base}n:` }, {
      driver: await options.makeDriver(),
      logger,
    });
    await using inner = await cache.create({ ...config, keyPrefix: `${base}n:x:` }, {
      driver: await options.makeDriver(),
      logger,
    });
    await inner.string.set("foo", "inner's");
    await inner.hash.hset("h", { f: 1 });
    assert.equal(await outer.string.get("x:foo"), undefined, "the outer prefix cannot read it");
    assert.equal(await outer.string.exists("x:foo", "x:h"), 0);
    await outer.string.set("x:foo", "outer's");
    assert.equal(await outer.string.del("x:foo", "x:h"), 1, "only its own key");
    assert.equal(await inner.string.get("foo"), "inner's", "nor overwrite or delete it");
    assert.deepEqual(await inner.hash.hgetAll("h"), { f: 1 });
    // The layout a service in another language computes: prefix + U+001F + key.
    await using raw = await backend();
    assert.equal(await raw.get(`${base}n:x:\x1ffoo`), JSON.stringify("inner's"));
    assert.equal(await raw.get(`${base}n:x:foo`), undefined);
    await assert.rejects(
      outer.string.get("x:\x1ffoo"),
      (e: Error) =>
        e instanceof TypeError && /'key' must not contain U\+001F.*"x:\\u001ffoo"/.test(e.message),
    );
    await assert.rejects(
      cache.create({ ...config, keyPrefix: `${base}n:\x1f` }, {
        driver: await options.makeDriver(),
      }),
      (e: Error) =>
        e instanceof TypeError && /'keyPrefix' must not contain U\+001F/.test(e.message),
    );
  });
}
