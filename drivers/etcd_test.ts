import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { coordConformance } from "../coord/conformance.ts";
import * as coord from "../coord/mod.ts";
import { eventually } from "../testing/eventually.ts";
import { testKeyspace } from "../testing/keyspace.ts";
import { freePort, serverAvailable, startServer } from "../testing/server.ts";
import { serviceUrl } from "../testing/services.ts";
import { etcdCoord } from "./etcd.ts";
import { capturingLogger } from "../testing/logger.ts";

const endpoints = serviceUrl("etcd");

coordConformance({
  name: "etcd",
  makeDriver: () => etcdCoord({ endpoints: endpoints ?? "http://127.0.0.1:2379" }),
  // Closing the client without revoking anything is what a crashed process looks like to etcd.
  sever: (driver) => driver.close(),
  ttlMs: 2000,
  ignore: endpoints === undefined,
});

const worker = new URL("./testdata/etcd_worker.ts", import.meta.url).pathname;

function spawnWorker(...args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", worker, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function testProvider(driverEndpoints: string, ttlMs = 2000) {
  const { logger, logs } = capturingLogger();
  const provider = await coord.create(
    { ...coord.defaultConfig("production"), leaseTtlMs: ttlMs, lockTtlMs: ttlMs },
    { driver: etcdCoord({ endpoints: driverEndpoints, requestTimeoutMs: 1000 }), logger },
  );
  return { provider, logs };
}

Deno.test({
  name: "[etcd] N increments under the lock from two processes give exactly N",
  ignore: endpoints === undefined,
  async fn() {
    const url = endpoints ?? "";
    const lockKey = testKeyspace("two processes");
    const counterKey = `/config/${lockKey}counter`;
    const perProcess = 25;
    const children = [1, 2].map(() =>
      spawnWorker("count", url, lockKey, counterKey, String(perProcess))
    );
    const statuses = await Promise.all(children.map(async (child) => {
      await child.stdout.cancel();
      return await child.status;
    }));
    assert.deepEqual(statuses.map((s) => s.code), [0, 0]);
    const { provider } = await testProvider(url);
    try {
      assert.equal(await provider.config.get(counterKey), 2 * perProcess);
    } finally {
      await provider.close();
    }
  },
});

Deno.test({
  name: "[etcd] a killed process's lock, registration and instance id disappear after their TTL",
  ignore: endpoints === undefined,
  async fn() {
    const url = endpoints ?? "";
    const space = testKeyspace("killed").replaceAll("/", "-");
    const child = spawnWorker("hold", url, `${space}lock`, `${space}svc`, `${space}ids`);
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    while (!output.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      output += value;
    }
    const held = JSON.parse(output) as { token: number; id: number };
    const { provider } = await testProvider(url);
    try {
      assert.equal((await provider.registry.discover(`${space}svc`)).length, 1);
      assert.equal(await provider.lock.tryAcquire(`${space}lock`), null);
      Deno.kill(child.pid, "SIGKILL");
      await child.status;
      await reader.cancel();
      const killedAt = Date.now();
      await using lock = await provider.lock.acquire(`${space}lock`, {
        signal: AbortSignal.timeout(15_000),
      });
      assert.ok(lock.token > held.token);
      assert.ok(
        Date.now() - killedAt >= 500,
        "the lock outlived its holder until the lease expired",
      );
      await eventually(async () =>
        assert.equal((await provider.registry.discover(`${space}svc`)).length, 0)
      );
      // Once the dead process's id lease has expired too (its own lease, granted a moment after the
      // lock's), all four ids can be allocated.
      const ids = await eventually(async () => {
        const taken: coord.InstanceId[] = [];
        try {
          for (let i = 0; i < 4; i++) {
            taken.push(await provider.instanceIds.allocate(`${space}ids`, 4));
          }
          return taken.map((instance) => instance.id);
        } catch (error) {
          await Promise.all(taken.map((instance) => instance.release()));
          throw error;
        }
      }, { timeoutMs: 10_000 });
      assert.ok(ids.includes(held.id));
    } finally {
      await provider.close();
    }
  },
});

Deno.test({
  name:
    "[etcd] fault: etcd stopped for a few seconds — held locks report lost, registrations come back, watches resume",
  ignore: !serverAvailable("etcd"),
  async fn() {
    await using etcd = await startServer("etcd");
    const a = await testProvider(etcd.url);
    const b = await testProvider(etcd.url);
    try {
      const service = "fault-svc";
      const registration = await a.provider.registry.register({
        id: "a1",
        name: service,
        address: "h",
        port: 1,
      });
      const lock = await a.provider.lock.acquire("fault-lock");
      const key = "/config/test/fault/value";
      await b.provider.config.set(key, 0);
      const seen: unknown[] = [];
      const stop = new AbortController();
      const watching = (async () => {
        for await (const event of a.provider.config.watch(key, { signal: stop.signal })) {
          seen.push(event.type === "put" ? event.value : "deleted");
        }
      })();
      await eventually(() => assert.deepEqual(seen, [0]));
      await b.provider.config.set(key, 1);
      await eventually(() => assert.deepEqual(seen, [0, 1]));

      await etcd.kill("SIGKILL");
      await eventually(() => assert.ok(lock.lost.aborted, "the held lock reports lost"), {
        timeoutMs: 10_000,
      });
      assert.ok(lock.lost.reason instanceof coord.LockLostError);
      await eventually(() => assert.equal(registration.status, "re-registering"), {
        timeoutMs: 10_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await etcd.start();

      await eventually(() => assert.equal(registration.status, "registered"), {
        timeoutMs: 15_000,
      });
      assert.ok(registration.restored >= 1);
      assert.deepEqual((await b.provider.registry.discover(service)).map((s) => s.id), ["a1"]);
      await eventually(async () => {
        await b.provider.config.set(key, 2);
        assert.equal(seen.at(-1), 2);
      }, { timeoutMs: 15_000 });
      assert.deepEqual(
        seen.filter((value, i) => seen.indexOf(value) === i),
        [0, 1, 2],
        "in order, none missed",
      );
      // The lock that was reported lost is not a zombie: another provider can take it.
      await using again = await b.provider.lock.acquire("fault-lock", {
        signal: AbortSignal.timeout(15_000),
      });
      assert.ok(again.token > lock.token);
      assert.ok(a.logs.records.some((r) => r.msg === "lease lost"));
      stop.abort();
      await watching;
    } finally {
      await a.provider.close();
      await b.provider.close();
    }
  },
});

Deno.test({
  name: "[etcd] create() against an unreachable endpoint fails with a DriverError naming etcd",
  ignore: endpoints === undefined,
  async fn() {
    const port = await freePort(); // nothing listens there
    await assert.rejects(
      coord.create({ ...coord.defaultConfig("production"), connectTimeoutMs: 2000 }, {
        driver: etcdCoord({ endpoints: `http://127.0.0.1:${port}`, requestTimeoutMs: 1000 }),
      }),
      (error: Error) =>
        error instanceof coord.DriverError && error.driver === "etcd" &&
        error.operation === "connect",
    );
    assert.throws(() => etcdCoord({ endpoints: [] }), /'endpoints' must name at least one URL/);
    assert.throws(() => etcdCoord({ endpoints: "127.0.0.1:2379" }), /must be an http\(s\) URL/);
    const driver = etcdCoord({ endpoints: endpoints ?? "" });
    await assert.rejects(
      coord.create({ ...coord.defaultConfig("production"), leaseTtlMs: 500 }, { driver }),
      /'leaseTtlMs' must be at least 2000 ms for the etcd driver/,
    );
  },
});

Deno.test({
  name:
    "[etcd] a driver watch from a compacted revision fails with CompactedError, the signal coord's watch re-lists on",
  ignore: endpoints === undefined,
  async fn() {
    const url = endpoints ?? "";
    const driver = etcdCoord({ endpoints: url });
    const raw = new Etcd3({ hosts: url.split(",") });
    const key = `/config/${testKeyspace("compacted")}value`;
    try {
      const first = await driver.put(key, "1");
      const last = await driver.put(key, "2");
      await raw.kv.compact({ revision: String(last) });
      const stop = new AbortController();
      await assert.rejects(async () => {
        for await (const _ of driver.watch({ key, prefix: false }, first, stop.signal)) {
          // no batch can arrive from a compacted revision
        }
      }, coord.CompactedError);
      stop.abort();
    } finally {
      raw.close();
      await driver.close();
    }
  },
});

Deno.test({
  name: "[etcd] a key prefix keeps two applications on one etcd apart",
  ignore: endpoints === undefined,
  async fn() {
    const space = testKeyspace("prefix").replace(/\/$/, "");
    const make = (app: string) =>
      coord.create({
        ...coord.defaultConfig("production"),
        leaseTtlMs: 2000,
        prefix: `/${space}/${app}`,
      }, {
        driver: etcdCoord({ endpoints: endpoints ?? "" }),
      });
    await using a = await make("a");
    await using b = await make("b");
    await a.config.set("/config/x", 1);
    await b.config.set("/config/x", 2);
    assert.equal(await a.config.get("/config/x"), 1);
    assert.equal(await b.config.get("/config/x"), 2);
    await using lockA = await a.lock.acquire("job");
    const lockB = await b.lock.tryAcquire("job");
    assert.ok(lockA.token > 0 && lockB !== null);
    await lockB.unlock();
  },
});

Deno.test({
  name: "[etcd] an application's own etcd3 client: coord runs on it and leaves it open",
  ignore: endpoints === undefined,
  async fn() {
    const client = new Etcd3({ hosts: endpoints!.split(",") });
    const key = `/${testKeyspace("own client")}`;
    try {
      {
        await using center = await coord.create(coord.defaultConfig("production"), {
          driver: etcdCoord({ client }),
        });
        await center.config.set(key, { v: 1 });
        assert.deepEqual(await center.config.get(key), { v: 1 });
        const lock = await center.lock.acquire(`${key}/lock`, { ttlMs: 2000 });
        assert.ok(lock.token > 0);
        await lock.unlock();
      }
      assert.equal(await client.get(key).string(), '{"v":1}', "the provider's close left it open");
    } finally {
      await client.delete().prefix(key);
      client.close();
    }
    assert.throws(() => etcdCoord({ client: {} as never }), /'client' must be an etcd3 client/);
  },
});
