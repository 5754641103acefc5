import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { coordConformance } from "../coord/conformance.ts";
import * as coord from "../coord/mod.ts";
import { CompactedError } from "../coord/driver.ts";
import { eventually } from "../testing/eventually.ts";
import { testKeyspace } from "../testing/keyspace.ts";
import { freePort, serverAvailable, startServer } from "../testing/server.ts";
import { serviceUrl } from "../testing/services.ts";
import { etcdCoord } from "./etcd.ts";
import { capturingLogger } from "../testing/logger.ts";
import { makeCertificates, opensslAvailable } from "../testing/certificates.ts";
import * as clog from "../clog/mod.ts";

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
    "[etcd] fault: etcd stopped for a few seconds — held locks report lost, registrations and presence come back, watches resume",
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
      const gateway = await a.provider.presence.join("gw-fault");
      await gateway.add("ann");
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
      await eventually(() => assert.equal(gateway.status, "joined"), { timeoutMs: 15_000 });
      assert.deepEqual(await b.provider.presence.locate("ann"), ["gw-fault"], "users written back");
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
      }, CompactedError);
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
        keyPrefix: `/${space}/${app}`,
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

/** Every place an error can show a secret: message, stack, JSON and fields, down the cause chain. */
function everything(error: unknown): string {
  const parts: string[] = [Deno.inspect(error, { depth: 20, showHidden: true })];
  for (let at = error, depth = 0; at !== undefined && depth < 10; depth++) {
    const each = at as Error;
    parts.push(String(each?.message), String(each?.stack), JSON.stringify(each));
    at = each?.cause;
  }
  return parts.join("\n");
}

Deno.test("[etcd] an endpoint with credentials is refused, pointing at the auth options, without echoing the password", () => {
  for (
    const endpoints of [
      "http://root:Hunter2-secret@127.0.0.1:2379",
      ["http://127.0.0.1:2379", "https://root:Hunter2-secret@10.0.0.2:2379"],
      "http://Hunter2-secret@127.0.0.1:2379",
    ]
  ) {
    const error = (() => {
      try {
        etcdCoord({ endpoints });
      } catch (caught) {
        return caught as Error;
      }
      assert.fail(`accepted ${endpoints}`);
    })();
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /must not carry credentials.*'username' and 'password' options/);
    assert.ok(!everything(error).includes("Hunter2-secret"), error.message);
  }
  assert.throws(() => etcdCoord({ endpoints: "etcd:2379" }), /must be an http\(s\) URL/);
});

Deno.test("[etcd] a refused port is reported with the endpoint's address, and never the password", async () => {
  const port = await freePort(); // nothing listens there
  const error = await coord.create(
    { ...coord.defaultConfig("production"), connectTimeoutMs: 3000 },
    {
      driver: etcdCoord({
        endpoints: `http://127.0.0.1:${port}`,
        username: "root",
        password: "Hunter2-secret",
        requestTimeoutMs: 1000,
      }),
    },
  ).then(() => assert.fail("connected"), (caught: Error) => caught);
  assert.ok(error instanceof coord.DriverError && error.operation === "connect", String(error));
  assert.ok(error.message.includes(`(endpoints: http://127.0.0.1:${port})`), error.message);
  assert.ok(!everything(error).includes("Hunter2-secret"), error.message);
});

Deno.test({
  name:
    "[etcd] a wrong password fails with a DriverError that holds no password, and no log line of a provider whose password stops working does",
  ignore: !serverAvailable("etcd"),
  async fn() {
    await using etcd = await startServer("etcd");
    const password = "Right-Pa55word-1";
    const wrong = "Wrong-Pa55word-2";
    const setup = new Etcd3({ hosts: etcd.url });
    try {
      await setup.role("root").create();
      await setup.user("root").create(password);
      await setup.user("root").addRole("root");
      await setup.auth.authEnable();
    } finally {
      setup.close();
    }
    const { logger, logs } = capturingLogger();
    const config = {
      ...coord.defaultConfig("production"),
      leaseTtlMs: 2000,
      lockTtlMs: 2000,
      connectTimeoutMs: 3000,
    };
    const refused = await coord.create(config, {
      driver: etcdCoord({ endpoints: etcd.url, username: "root", password: wrong }),
      logger,
    }).then(() => assert.fail("connected with a wrong password"), (caught: Error) => caught);
    assert.ok(refused instanceof coord.DriverError, String(refused));
    assert.match(refused.message, /authentication failed/);
    assert.ok(refused.message.includes(etcd.url), refused.message);
    assert.ok(!everything(refused).includes(wrong), everything(refused));

    // A provider that got in, whose password then changes: its next token exchange fails, in the
    // caller's error and in the log line of the lease it cannot revoke on close.
    const provider = await coord.create(config, {
      driver: etcdCoord({ endpoints: etcd.url, username: "root", password }),
      logger,
    });
    const admin = new Etcd3({ hosts: etcd.url, auth: { username: "root", password } });
    try {
      await provider.lock.acquire("job");
      await admin.user("root").setPassword("Changed-Pa55word-3");
      const failed = await provider.config.get("/config/x").then(
        () => assert.fail("read with a changed password"),
        (caught: Error) => caught,
      );
      assert.ok(failed instanceof coord.DriverError, String(failed));
      assert.match(failed.message, /authentication failed/);
      assert.ok(!everything(failed).includes(password), everything(failed));
    } finally {
      admin.close();
      await provider.close();
    }
    assert.ok(logs.records.some((record) => record.fields.err !== undefined), "errors were logged");
    const lines = logs.records.map((record) =>
      clog.jsonFormatter()(record) + Deno.inspect(record, { depth: 20 })
    ).join("\n");
    for (const secret of [password, wrong]) assert.ok(!lines.includes(secret), lines);
  },
});

Deno.test({
  name:
    "[etcd] TLS to an IP endpoint is checked against the certificate's IP address; a wrong CA or name is a DriverError saying so",
  ignore: !serverAvailable("etcd") || !opensslAvailable(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "kit-etcd-tls-" });
    try {
      const { ca, cert, key, otherCa } = await makeCertificates(dir, ["etcd.test"]);
      await using etcd = await startServer("etcd", { tls: { ca, cert, key } });
      assert.match(etcd.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const config = { ...coord.defaultConfig("production"), connectTimeoutMs: 3000 };
      const connect = (tls: { ca: string; servername?: string }) =>
        coord.create(config, {
          driver: etcdCoord({ endpoints: etcd.url, tls, requestTimeoutMs: 2000 }),
        });
      {
        await using provider = await connect({ ca });
        await provider.config.set("/config/tls", { over: "ip" });
        assert.deepEqual(await provider.config.get("/config/tls"), { over: "ip" });
        const lock = await provider.lock.acquire("tls-lock", { ttlMs: 2000 });
        assert.ok(lock.token > 0);
        await lock.unlock();
      }
      {
        await using provider = await connect({ ca, servername: "etcd.test" });
        assert.deepEqual(await provider.config.get("/config/tls"), { over: "ip" });
      }
      {
        await using provider = await connect({ ca, servername: "127.0.0.1" });
        assert.deepEqual(await provider.config.get("/config/tls"), { over: "ip" });
      }
      const failure = (tls: { ca: string; servername?: string }) =>
        connect(tls).then(() => assert.fail("connected"), (caught: Error) => caught);
      const wrongCa = await failure({ ca: otherCa });
      assert.ok(wrongCa instanceof coord.DriverError && wrongCa.operation === "connect");
      assert.match(wrongCa.message, /unable to verify|certificate/i);
      assert.ok(wrongCa.message.includes(etcd.url), wrongCa.message);
      const wrongName = await failure({ ca, servername: "other.test" });
      assert.ok(wrongName instanceof coord.DriverError);
      assert.match(wrongName.message, /other\.test/);
      const wrongIp = await failure({ ca, servername: "10.9.9.9" });
      assert.ok(wrongIp instanceof coord.DriverError);
      assert.match(wrongIp.message, /10\.9\.9\.9 is not in the cert's list/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("[etcd] TLS settings etcd3 cannot honour are refused when the driver is made", () => {
  assert.throws(
    () =>
      etcdCoord({
        endpoints: ["https://10.0.0.1:2379", "https://10.0.0.2:2379"],
        tls: { ca: "" },
      }),
    /'tls.servername' must be given when TLS endpoints are on several hosts, one reached by IP/,
  );
  assert.throws(
    () =>
      etcdCoord({
        endpoints: "https://127.0.0.1:2379",
        tls: { ca: "" },
        username: "root",
        password: "Hunter2-secret",
      }),
    (error: Error) =>
      error instanceof TypeError && /'username' over TLS needs endpoints named by host name/
        .test(error.message) &&
      !error.message.includes("Hunter2-secret"),
  );
  assert.throws(
    () => etcdCoord({ endpoints: "https://127.0.0.1:2379", tls: { ca: "", servername: "" } }),
    /'tls.servername' must be a non-empty string/,
  );
});
