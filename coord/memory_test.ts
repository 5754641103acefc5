import assert from "node:assert/strict";
import * as metrics from "../metrics/mod.ts";
import { eventually } from "../testing/eventually.ts";
import * as coord from "./mod.ts";
import { CompactedError, prefixedDriver } from "./driver.ts";
import { coordConformance } from "./conformance.ts";
import { capturingLogger } from "../testing/logger.ts";

const store = new coord.MemoryCoordStore();
coordConformance({
  name: "memory",
  makeDriver: () => coord.memoryCoord({ store }),
  sever: (driver) => (driver as coord.MemoryCoordDriver).setReachable(false),
  heal: (driver) => (driver as coord.MemoryCoordDriver).setReachable(true),
  ttlMs: 300,
});

Deno.test("memory store: a watch from a compacted revision fails with CompactedError", async () => {
  const local = new coord.MemoryCoordStore({ historyRevisions: 5 });
  const driver = coord.memoryCoord({ store: local });
  for (let i = 0; i < 20; i++) await driver.put("/k", String(i));
  assert.throws(
    () => driver.watch({ key: "/k", prefix: false }, 2, new AbortController().signal),
    CompactedError,
  );
  await driver.close();
});

Deno.test("a watch that falls behind a compaction re-lists and still ends on the latest value", async () => {
  const local = new coord.MemoryCoordStore({ historyRevisions: 3 });
  const writer = coord.memoryCoord({ store: local });
  const watcher = coord.memoryCoord({ store: local });
  const { logger, logs } = capturingLogger();
  await using provider = await coord.create(coord.defaultConfig("development"), {
    driver: watcher,
    logger,
  });
  const seen: unknown[] = [];
  const stop = new AbortController();
  const watching = (async () => {
    for await (const event of provider.config.watch("/w", { signal: stop.signal })) {
      seen.push(event.type === "put" ? event.value : "deleted");
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 20));
  // Cut the watcher off, write more than the history holds, then reconnect it.
  watcher.setReachable(false);
  for (let i = 0; i < 10; i++) await writer.put("/w", String(i));
  watcher.setReachable(true);
  const deadline = Date.now() + 5000;
  while (seen.at(-1) !== 9 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(seen.at(-1), 9);
  assert.ok(
    logs.records.some((record) => record.msg.includes("re-listing")),
    "the compaction was noticed",
  );
  stop.abort();
  await watching;
  await writer.close();
});

Deno.test("create() with the memory driver validates config", async () => {
  await assert.rejects(
    coord.create({ ...coord.defaultConfig("production"), leaseTtlMs: 0 }),
    /'leaseTtlMs' must be at least 1 ms for the memory driver: current value is 0/,
  );
  assert.throws(
    () => coord.defaultConfig("qa" as never),
    /'env' must be "development" or "production"/,
  );
});

Deno.test("a key prefix keeps two applications on one backend apart", async () => {
  const shared = new coord.MemoryCoordStore();
  const config = coord.defaultConfig("development");
  await using a = await coord.create({ ...config, keyPrefix: "/app-a" }, {
    driver: coord.memoryCoord({ store: shared }),
  });
  await using b = await coord.create({ ...config, keyPrefix: "/app-b" }, {
    driver: coord.memoryCoord({ store: shared }),
  });
  const key = coord.configKey("prod", "api", "flags");
  await a.config.set(key, "a");
  await b.config.set(key, "b");
  assert.equal(await a.config.get(key), "a");
  assert.equal(await b.config.get(key), "b");
  assert.deepEqual(
    (await a.config.list("/config/")).map((entry) => entry.key),
    [key],
    "no prefix in what a sees",
  );
  assert.deepEqual(shared.list("/app-a/config/").kvs.map((kv) => kv.value), ['"a"']);
  await using lockA = await a.lock.acquire("job");
  await using lockB = await b.lock.tryAcquire("job");
  assert.ok(lockA && lockB, "one lock name per application");
  await a.registry.register({ id: "1", name: "svc", address: "h", port: 1 });
  assert.equal((await b.registry.discover("svc")).length, 0);
  const seen: string[] = [];
  const stop = new AbortController();
  const watching = (async () => {
    for await (const event of a.config.watch<string>(key, { signal: stop.signal })) {
      if (event.type === "put") seen.push(event.value);
    }
  })();
  await b.config.set(key, "b2");
  await a.config.set(key, "a2");
  const deadline = Date.now() + 2000;
  while (seen.at(-1) !== "a2" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.deepEqual(seen, ["a", "a2"], "b's writes never reach a's watch");
  stop.abort();
  await watching;
  assert.throws(
    () => prefixedDriver(coord.memoryCoord(), ""),
    /'prefix' must be a non-empty string/,
  );
});

Deno.test("with metrics, lost leases, restored registrations and config updates are counted", async () => {
  await using registry = await metrics.create(metrics.defaultConfig("development"));
  const driver = coord.memoryCoord();
  await using provider = await coord.create({
    ...coord.defaultConfig("development"),
    leaseTtlMs: 300,
    lockTtlMs: 300,
  }, { driver, logger: capturingLogger().logger, metrics: registry });
  const count = (line: string) =>
    Number(
      (registry.render() ?? "").split("\n").find((l) => l.startsWith(`${line} `))?.split(" ")[1],
    );
  const manager = await provider.config.manager<number>("/limits/rate", {
    default: 1,
    validate: (value) => {
      if (typeof value !== "number") throw new TypeError("not a number");
      return value;
    },
  });
  await provider.config.set("/limits/rate", 5);
  await eventually(() => assert.equal(manager.current, 5));
  await provider.config.set("/limits/rate", "five");
  await eventually(() =>
    assert.equal(count('coord_config_updates_total{key="/limits/rate",outcome="rejected"}'), 1)
  );
  assert.equal(count('coord_config_updates_total{key="/limits/rate",outcome="applied"}'), 1);
  const registration = await provider.registry.register({
    id: "a1",
    name: "svc",
    address: "h",
    port: 1,
  });
  const lock = await provider.lock.acquire("job");
  driver.setReachable(false); // both leases go unrenewed past their TTL
  await eventually(() => assert.ok(lock.lost.aborted), { timeoutMs: 3_000 });
  driver.setReachable(true);
  await eventually(() => assert.equal(registration.restored, 1), { timeoutMs: 5_000 });
  assert.equal(count("coord_registrations_restored_total"), 1);
  assert.ok(count("coord_leases_lost_total") >= 2, "the lock's and the registration's");
  await manager.close();
});

Deno.test("methods of what coord hands back work when taken off their object", async () => {
  await using center = await coord.create(coord.defaultConfig("development"));
  const { unregister } = await center.registry.register({
    id: "a-1",
    name: "svc",
    address: "127.0.0.1",
    port: 1,
  });
  await unregister();
  assert.deepEqual(await center.registry.discover("svc"), []);
  const { proclaim, resign } = await center.election("leader").campaign("first");
  await proclaim("second");
  assert.equal((await center.election("leader").leader())?.value, "second");
  await resign();
  assert.equal(await center.election("leader").leader(), undefined);
  const { onChange, close } = await center.config.manager("/flags", { default: 0 });
  const seen: number[] = [];
  onChange((value) => seen.push(value as number));
  await center.config.set("/flags", 3);
  await eventually(() => assert.deepEqual(seen, [3]));
  await close();
});
