/**
 * Coord conformance: the config center: typed values, `compareAndSet`, watches and the manager that applies updates.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as coord from "../mod.ts";
import type { CoordSuiteContext } from "./_context.ts";

/**
 * Registers the config round-trip case: get, set, delete and list of typed JSON
 * between two providers.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function configCases(context: CoordSuiteContext): void {
  const { test, pair } = context;

  test("config get/set/delete/list round-trip typed JSON between two providers", async () => {
    await using both = await pair();
    const [a, b] = both;
    const prefix = `/config/${testKeyspace("config crud")}`;
    await a.provider.config.set(`${prefix}limits`, { rate: 100, burst: [1, 2], name: "x" });
    await a.provider.config.set(`${prefix}flag`, true);
    assert.deepEqual(await b.provider.config.get(`${prefix}limits`), {
      rate: 100,
      burst: [1, 2],
      name: "x",
    });
    assert.equal(await b.provider.config.get(`${prefix}missing`), undefined);
    assert.deepEqual(await b.provider.config.list(prefix), [
      { key: `${prefix}flag`, value: true },
      { key: `${prefix}limits`, value: { rate: 100, burst: [1, 2], name: "x" } },
    ]);
    assert.equal(await b.provider.config.delete(`${prefix}flag`), true);
    assert.equal(await b.provider.config.delete(`${prefix}flag`), false);
    assert.equal(await a.provider.config.get(`${prefix}flag`), undefined);
  });
}

/**
 * Registers the config update cases: `compareAndSet`, watches of a key and of a
 * prefix, and the manager that applies valid updates live.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function configUpdateCases(context: CoordSuiteContext): void {
  const { test, pair } = context;

  test("compareAndSet only writes over the version it read, so concurrent updates never get lost", async () => {
    await using both = await pair();
    const key = `/config/${testKeyspace("cas")}counter`;
    assert.equal(
      await both[0].provider.config.compareAndSet(key, 0, 0),
      true,
      "creates when absent",
    );
    assert.equal(await both[1].provider.config.compareAndSet(key, 0, 0), false, "only once");
    const increments = 20;
    await Promise.all(both.map(async ({ provider }) => {
      for (let done = 0; done < increments;) {
        const current = await provider.config.getWithVersion<number>(key);
        assert.ok(current);
        if (await provider.config.compareAndSet(key, current.value + 1, current.version)) done++;
      }
    }));
    assert.equal(await both[0].provider.config.get(key), 2 * increments);
  });

  test("config watch starts with the current value and delivers every change in order", async () => {
    await using both = await pair();
    const [a, b] = both;
    const key = `/config/${testKeyspace("watch")}value`;
    await a.provider.config.set(key, -1);
    const seen: (number | "deleted")[] = [];
    const stop = new AbortController();
    const watching = (async () => {
      for await (const event of b.provider.config.watch<number>(key, { signal: stop.signal })) {
        seen.push(event.type === "put" ? event.value : "deleted");
        if (seen.length === 52) break;
      }
    })();
    await eventually(() => assert.deepEqual(seen, [-1]));
    for (let i = 0; i < 50; i++) await a.provider.config.set(key, i);
    await a.provider.config.delete(key);
    await watching;
    assert.deepEqual(seen, [-1, ...Array.from({ length: 50 }, (_, i) => i), "deleted"]);
  });

  test("watchPrefix sees puts and deletes of every key under the prefix", async () => {
    await using both = await pair();
    const prefix = `/config/${testKeyspace("watch prefix")}`;
    const seen: string[] = [];
    const stop = new AbortController();
    const watching = (async () => {
      for await (
        const event of both[1].provider.config.watchPrefix(prefix, { signal: stop.signal })
      ) {
        seen.push(`${event.type} ${event.key.slice(prefix.length)}`);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await both[0].provider.config.set(`${prefix}a`, 1);
    await both[0].provider.config.set(`${prefix}b`, 2);
    await both[0].provider.config.delete(`${prefix}a`);
    await eventually(() => assert.deepEqual(seen, ["put a", "put b", "delete a"]));
    stop.abort();
    await watching;
  });

  test("manager applies valid updates live, keeps the last good value on a bad one and says why", async () => {
    await using both = await pair();
    const [a, b] = both;
    const key = coord.configKey("test", testKeyspace("manager").replaceAll("/", "-"), "ratelimit");
    const validate = (value: unknown) => {
      const rate = (value as { rate?: unknown })?.rate;
      if (typeof rate !== "number" || rate <= 0) {
        throw new TypeError(`rate must be a positive number, got ${rate}`);
      }
      return value as { rate: number };
    };
    await using manager = await b.provider.config.manager(key, { default: { rate: 1 }, validate });
    assert.deepEqual(manager.current, { rate: 1 });
    const changes: number[] = [];
    manager.onChange((value) => changes.push(value.rate));
    await a.provider.config.set(key, { rate: 50 });
    await eventually(() => assert.deepEqual(manager.current, { rate: 50 }));
    await a.provider.config.set(key, { rate: -5 });
    await eventually(() =>
      assert.ok(
        b.logs.records.some((r) =>
          r.msg.includes("rejected") &&
          /rate must be a positive number/.test(String(r.fields.reason))
        ),
      )
    );
    assert.deepEqual(manager.current, { rate: 50 }, "the last good value stays");
    await a.provider.config.set(key, { rate: 70 });
    await eventually(() => assert.deepEqual(manager.current, { rate: 70 }));
    await a.provider.config.delete(key);
    await eventually(() => assert.deepEqual(manager.current, { rate: 1 }), {});
    assert.deepEqual(changes, [50, 70, 1]);
  });
}
