/**
 * Coord conformance: key prefixes and names as path segments.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import { prefixedDriver } from "../driver.ts";
import type { CoordSuiteContext } from "./_context.ts";

/**
 * Registers the path-segment cases: tenant prefixes on one backend cannot reach
 * each other, nor can a lock or election name its parent.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function prefixCases(context: CoordSuiteContext): void {
  const { options, ttlMs, test, provider, pair } = context;

  test("a prefix is a path segment: tenants '/x/app' and '/x/app2' on one backend cannot reach each other's keys", async () => {
    const space = testKeyspace("tenants");
    await using both = await pair([`/${space}x/app`, `/${space}x/app2`]);
    const [a, b] = both;
    await b.provider.config.set("/config/secret", "b");
    // Without the segment boundary, '/x/app' + '2/config/secret' is b's key.
    const climb = "2/config/secret";
    assert.throws(() => a.provider.config.watch(climb), /must start with '\/'/);
    assert.throws(() => a.provider.config.watchPrefix("2/"), /must start with '\/'/);
    for (
      const call of [
        () => a.provider.config.get(climb),
        () => a.provider.config.getWithVersion(climb),
        () => a.provider.config.set(climb, "a"),
        () => a.provider.config.compareAndSet(climb, "a", 0),
        () => a.provider.config.delete(climb),
        () => a.provider.config.list("2/"),
        () => a.provider.config.manager(climb, { default: "" }),
      ]
    ) {
      await assert.rejects(
        call(),
        (error: Error) => error instanceof TypeError && /must start with '\/'/.test(error.message),
      );
    }
    // The prefixed driver is the boundary itself, for code that uses it without the provider.
    const tenant = prefixedDriver(await options.makeDriver(), `/${space}x/app`);
    try {
      for (
        const call of [
          () => tenant.get(climb),
          () => tenant.list("2/"),
          () => tenant.put(climb, '"a"'),
          () => tenant.delete(climb),
          () => tenant.txn([], [{ type: "get", key: climb }], []),
          () => tenant.txn([], [{ type: "oldest", prefix: "2/" }], []),
          async () => {
            for await (
              const _ of tenant.watch({ key: "2/", prefix: true }, 1, AbortSignal.abort())
            ) {
              // nothing may arrive
            }
          },
        ]
      ) {
        await assert.rejects(call(), TypeError);
      }
    } finally {
      await tenant.close();
    }
    // Keys are opaque: '..' is a name inside a's space, not a way out of it.
    await a.provider.config.set("/../app2/config/secret", "a");
    assert.deepEqual(await a.provider.config.list("/"), [
      { key: "/../app2/config/secret", value: "a" },
    ]);
    assert.deepEqual(await b.provider.config.list("/"), [{ key: "/config/secret", value: "b" }]);
    assert.equal(await a.provider.config.delete("/config/secret"), false);
    assert.equal(await b.provider.config.get("/config/secret"), "b", "untouched by a");
    await a.provider.registry.register({ id: "a1", name: "svc", address: "h", port: 1 });
    assert.deepEqual(await b.provider.registry.discover("svc"), []);
    await using lockA = await a.provider.lock.acquire("job");
    const lockB = await b.provider.lock.tryAcquire("job");
    assert.ok(lockA && lockB, "one lock name per tenant");
    await lockB.unlock();
    // The prefix's own trailing '/' does not open a gap either: '/x/app/' is the tenant '/x/app'.
    const same = await provider(`/${space}x/app/`);
    try {
      assert.equal(await same.provider.config.get("/../app2/config/secret"), "a");
    } finally {
      await same.provider.close();
    }
  });

  test("a held lock 'a/b' does not block the lock 'a', nor a leader of 'e/f' lead 'e'", async () => {
    await using both = await pair();
    const [a, b] = both;
    const space = testKeyspace("nested names");
    const inner = await a.provider.lock.acquire(`${space}a/b`);
    const outer = await b.provider.lock.tryAcquire(`${space}a`);
    assert.ok(outer, "'a' is free while 'a/b' is held");
    await outer.unlock();
    await using waited = await b.provider.lock.acquire(`${space}a`, {
      signal: AbortSignal.timeout(ttlMs * 3 + 2000),
    });
    assert.ok(waited.token > 0);
    assert.equal(await b.provider.lock.tryAcquire(`${space}a/b`), null, "'a/b' is still held");
    await inner.unlock();
    const leadership = await a.provider.election<string>(`${space}e/f`).campaign("inner");
    assert.equal(await b.provider.election<string>(`${space}e`).leader(), undefined);
    const outerLeadership = await b.provider.election<string>(`${space}e`).campaign("outer", {
      signal: AbortSignal.timeout(ttlMs * 3 + 2000),
    });
    assert.equal((await a.provider.election<string>(`${space}e`).leader())?.value, "outer");
    assert.equal((await b.provider.election<string>(`${space}e/f`).leader())?.value, "inner");
    await outerLeadership.resign();
    await leadership.resign();
  });
}
