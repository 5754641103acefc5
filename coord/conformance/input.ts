/**
 * Coord conformance: what a provider refuses: lease TTLs no timer can wait for, and bad input.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as coord from "../mod.ts";
import type { CoordSuiteContext } from "./_context.ts";

/**
 * Registers the refusal cases: a lease TTL no timer can wait for, and bad input,
 * each with an error naming the problem.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function inputCases(context: CoordSuiteContext): void {
  const { options, test, pair } = context;

  test("a lease TTL longer than a timer can wait (2^31-1 ms) is refused; the longest allowed holds", async () => {
    await using both = await pair();
    const { provider, driver } = both[0];
    const space = testKeyspace("long ttl");
    const service = space.replaceAll("/", "-");
    const tooLong = 3e9; // setTimeout would fire at once, and the lease would count as lost
    const refused = (error: Error) =>
      error instanceof RangeError && /'ttlMs' must be at most \d+ ms/.test(error.message) &&
      error.message.includes(String(tooLong));
    const long = { ttlMs: tooLong };
    await assert.rejects(provider.lock.acquire(`${space}lock`, long), refused);
    await assert.rejects(provider.lock.tryAcquire(`${space}lock`, long), refused);
    await assert.rejects(
      provider.registry.register({ id: "i1", name: service, address: "h", port: 1 }, long),
      refused,
    );
    await assert.rejects(provider.election(`${space}election`).campaign("a", long), refused);
    await assert.rejects(provider.instanceIds.allocate(service, 1, long), refused);
    for (const field of ["leaseTtlMs", "lockTtlMs"] as const) {
      await assert.rejects(
        coord.create({ ...coord.defaultConfig("development"), [field]: tooLong }, {
          driver: await options.makeDriver(),
        }),
        (error: Error) =>
          error instanceof RangeError &&
          new RegExp(`'${field}' must be at most \\d+ ms`).test(error.message),
      );
    }
    const longest = Math.floor((2 ** 31 - 1) / driver.leaseTtlGranularityMs) *
      driver.leaseTtlGranularityMs;
    const lock = await provider.lock.acquire(`${space}lock`, { ttlMs: longest });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(lock.lost.aborted, false, "a lock with the longest TTL is still held");
    assert.ok((await lock.ttl()) > 0);
    await lock.unlock();
  });

  test("bad input gets a clear error naming the problem", async () => {
    await using both = await pair();
    const { provider, driver } = both[0];
    await assert.rejects(provider.config.set("", 1), /'key' must be a non-empty string/);
    await assert.rejects(provider.config.set("k", 1), /'key' must start with '\/'/);
    for (const key of ["/lone\ud800", "/lone\udc00"]) {
      await assert.rejects(provider.config.set(key, 1), /'key' must be well-formed Unicode/);
      await assert.rejects(
        provider.lock.acquire(key.slice(1)),
        /'key' must be well-formed Unicode/,
      );
    }
    await assert.rejects(
      provider.config.set("/k", undefined),
      /Cannot store config key '\/k' as JSON: value is a undefined/,
    );
    await assert.rejects(provider.config.set("/k", { n: 1n }), /value\.n is a bigint/);
    await assert.rejects(provider.config.set("/k", { n: NaN }), /value\.n is NaN/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(provider.config.set("/k", cyclic), /cycle/);
    await assert.rejects(provider.lock.acquire(""), /'key' must be a non-empty string/);
    if (driver.minLeaseTtlMs > 1) {
      await assert.rejects(
        provider.lock.acquire("k", { ttlMs: driver.minLeaseTtlMs - 1 }),
        (e: Error) => e instanceof RangeError && /'ttlMs' must be at least/.test(e.message),
      );
    }
    await assert.rejects(
      provider.registry.register({ id: "x", name: "a/b", address: "h", port: 1 }),
      /'name' must not contain '\/'/,
    );
    await assert.rejects(
      provider.registry.register({ id: "x", name: "s", address: "h", port: 70000 }),
      /'port'/,
    );
    // Two registers of one id at once: the second is refused while the first is still in flight.
    const twice = {
      id: "twice",
      name: testKeyspace("twice").replaceAll("/", "-"),
      address: "h",
      port: 1,
    };
    const [first, second] = await Promise.allSettled([
      provider.registry.register(twice),
      provider.registry.register(twice),
    ]);
    assert.equal(first.status, "fulfilled");
    assert.ok(
      second.status === "rejected" && /'twice' is already registered/.test(second.reason.message),
    );
    if (first.status === "fulfilled") await first.value.unregister();
    await assert.rejects(
      provider.instanceIds.allocate("s", 0),
      /'maxId' must be a positive integer/,
    );
    assert.throws(() => coord.configKey("prod", "a/b", "c"), /'service' must not contain '\/'/);
  });
}
