/**
 * Coord conformance: service registration, discovery and re-registration after a lost lease.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as coord from "../mod.ts";
import type { CoordSuiteContext } from "./_context.ts";

/**
 * Registers the registry cases: register, discover, watch and pick; a severed
 * instance expires; a lost lease registers again.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function registryCases(context: CoordSuiteContext): void {
  const { options, ttlMs, test, pair } = context;

  test("registry: register, discover, watch from a snapshot, pick round robin, unregister", async () => {
    await using both = await pair();
    const [a, b] = both;
    const service = testKeyspace("svc").replaceAll("/", "-");
    const events: string[] = [];
    const stop = new AbortController();
    const watching = (async () => {
      for await (const event of b.provider.registry.watch(service, { signal: stop.signal })) {
        events.push(
          event.type === "snapshot"
            ? `snapshot ${event.instances.map((i) => i.id).join(",")}`
            : event.type === "put"
            ? `put ${event.instance.id}`
            : `delete ${event.id}`,
        );
      }
    })();
    await eventually(() => assert.deepEqual(events, ["snapshot "]));
    const one = await a.provider.registry.register({
      id: "i1",
      name: service,
      address: "10.0.0.1",
      port: 81,
      metadata: { zone: "a" },
    });
    await a.provider.registry.register({ id: "i2", name: service, address: "10.0.0.2", port: 82 });
    const found = await b.provider.registry.discover(service);
    assert.deepEqual(found.map((s) => [s.id, s.port]), [["i1", 81], ["i2", 82]]);
    assert.deepEqual(found[0].metadata, { zone: "a" });
    await eventually(async () => {
      const picks = [];
      for (let i = 0; i < 4; i++) picks.push((await b.provider.registry.pick(service)).id);
      assert.deepEqual(picks.sort(), ["i1", "i1", "i2", "i2"]);
    });
    const random = await b.provider.registry.pick(service, { strategy: "random" });
    assert.ok(["i1", "i2"].includes(random.id));
    await one.unregister();
    assert.equal(await a.provider.registry.unregister("i2"), true);
    assert.equal(await a.provider.registry.unregister("i2"), false);
    await eventually(() =>
      assert.deepEqual(events, ["snapshot ", "put i1", "put i2", "delete i1", "delete i2"])
    );
    await eventually(() =>
      assert.rejects(b.provider.registry.pick(service), coord.NoInstanceError)
    );
    stop.abort();
    await watching;
  });

  test("a severed instance's registration disappears after its TTL", async () => {
    await using both = await pair();
    const [a, b] = both;
    const service = testKeyspace("svc ttl").replaceAll("/", "-");
    await a.provider.registry.register({ id: "gone", name: service, address: "h", port: 1 });
    assert.equal((await b.provider.registry.discover(service)).length, 1);
    await options.sever(a.driver);
    await eventually(
      async () => assert.equal((await b.provider.registry.discover(service)).length, 0),
      {
        timeoutMs: ttlMs * 3 + 3000,
      },
    );
  });

  test(
    "a registration whose lease was lost registers again by itself once the backend is back",
    async () => {
      await using both = await pair();
      const [a, b] = both;
      const service = testKeyspace("svc heal").replaceAll("/", "-");
      const registration = await a.provider.registry.register({
        id: "back",
        name: service,
        address: "h",
        port: 1,
      });
      await options.sever(a.driver);
      await eventually(
        async () => assert.equal((await b.provider.registry.discover(service)).length, 0),
        {
          timeoutMs: ttlMs * 3 + 3000,
        },
      );
      await eventually(() => assert.equal(registration.status, "re-registering"));
      await options.heal?.(a.driver);
      await eventually(
        async () => assert.equal((await b.provider.registry.discover(service)).length, 1),
        {
          timeoutMs: ttlMs * 3 + 5000,
        },
      );
      assert.equal(registration.status, "registered");
      assert.ok(registration.restored >= 1);
      assert.ok(a.logs.records.some((r) => r.msg.includes("registration lost its lease")));
    },
    !options.heal,
  );
}
