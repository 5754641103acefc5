import assert from "node:assert/strict";
import { cacheConformance } from "../../cache/conformance.ts";
import * as cache from "../../cache/mod.ts";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { freePort, serverAvailable, startServer } from "../../testing/server.ts";
import { quietLogger } from "../../testing/logger.ts";
import { serviceUrl } from "../../testing/services.ts";
import { redisCache, redisLock } from "./mod.ts";
import { capturingLogger } from "../../testing/logger.ts";

const url = serviceUrl("redis");

cacheConformance({
  name: "redis",
  makeDriver: () => redisCache({ url: url ?? "redis://127.0.0.1:6379" }),
  ignore: url === undefined,
});

Deno.test({
  name: "[redis] redisLock() locks across two connections with fencing tokens",
  ignore: url === undefined,
  async fn() {
    const keyPrefix = testKeyspace("redis lock");
    await using a = await redisLock({ url, keyPrefix });
    await using b = await redisLock({ url, keyPrefix });
    const held = await a.acquire("job", { ttlMs: 1000 });
    assert.equal(await b.tryAcquire("job"), null);
    const waiting = b.acquire("job", { ttlMs: 1000 });
    await held.unlock();
    const next = await waiting;
    assert.ok(next.token > held.token);
    await next.unlock();
  },
});

Deno.test({
  name:
    "[redis] lock waitReplicas: an acquire too few replicas confirmed fails naming the count and leaves the lock free; bad values are refused",
  ignore: url === undefined,
  async fn() {
    const keyPrefix = testKeyspace("redis lock wait");
    // The single test server has no replica: WAIT 1 answers 0 after its timeout.
    await using waiting = await redisLock({ url, keyPrefix, waitReplicas: 1, waitTimeoutMs: 50 });
    await using plain = await redisLock({ url, keyPrefix });
    await assert.rejects(
      waiting.tryAcquire("job"),
      (error: Error) =>
        error instanceof cache.DriverError &&
        /only 0 of 1 replicas \(waitReplicas\) confirmed the lock within 50 ms: released it/
          .test(String((error.cause as Error)?.message)),
    );
    const held = await plain.tryAcquire("job");
    assert.ok(held, "the unconfirmed lock was released");
    await held.unlock();
    await using c = await cache.create({ ...cache.defaultConfig("production"), keyPrefix }, {
      driver: redisCache({ url, lockWaitReplicas: 1, lockWaitTimeoutMs: 50 }),
    });
    await assert.rejects(c.lock.tryAcquire("job"), /only 0 of 1 replicas/);
    // Other writes never wait.
    await c.string.set("k", 1);
    assert.throws(() => redisCache({ url, lockWaitReplicas: -1 }), /'lockWaitReplicas' must be/);
    await assert.rejects(
      redisLock({ url, waitTimeoutMs: 0.5 }),
      /'waitTimeoutMs' must be a non-negative integer/,
    );
    assert.throws(() => redisCache({ url, waitReplicas: 1 } as never), /'waitReplicas'/);
  },
});

Deno.test({
  name:
    "[redis] redisLock() with a cache's keyPrefix takes that cache's locks; a bad prefix or TTL is refused before connecting",
  ignore: url === undefined,
  async fn() {
    const keyPrefix = testKeyspace("redis lock and cache");
    await using locks = await redisLock({ url, keyPrefix });
    await using c = await cache.create({ ...cache.defaultConfig("production"), keyPrefix }, {
      driver: redisCache({ url }),
    });
    const held = await locks.acquire("job", { ttlMs: 2000 });
    assert.equal(await c.lock.tryAcquire("job"), null);
    await held.unlock();
    const next = await c.lock.acquire("job", { ttlMs: 2000 });
    assert.equal(next.token, held.token + 1, "one fencing counter");
    assert.equal(await locks.tryAcquire("job"), null);
    await next.unlock();
    // No port is listening here: the options are refused before any connection is tried.
    const nowhere = { port: 1, connectTimeoutMs: 100, logger: quietLogger() };
    await assert.rejects(
      redisLock({ ...nowhere, ttlMs: 3e9 }),
      (e: Error) =>
        e instanceof RangeError &&
        /Cannot create Redis lock as 'ttlMs' must be at most 2147483647 ms/.test(e.message),
    );
    await assert.rejects(
      redisLock({ ...nowhere, keyPrefix: "a\x1fb" }),
      (e: Error) =>
        e instanceof TypeError && /'keyPrefix' must not contain U\+001F/.test(e.message),
    );
  },
});

Deno.test({
  name:
    "[redis] scripts still run after Redis forgets them (SCRIPT FLUSH): EVALSHA falls back to EVAL",
  ignore: url === undefined,
  async fn() {
    await using c = await cache.create({
      ...cache.defaultConfig("production"),
      keyPrefix: testKeyspace("flush"),
    }, {
      driver: redisCache({ url }),
    });
    await (await c.lock.acquire("a")).unlock();
    await flushScripts(url ?? "");
    const lock = await c.lock.acquire("b");
    assert.ok(lock.token >= 1);
    await lock.unlock();
  },
});

async function flushScripts(redisUrl: string): Promise<void> {
  const { hostname, port } = new URL(redisUrl);
  const conn = await Deno.connect({ hostname, port: Number(port || 6379) });
  try {
    await conn.write(new TextEncoder().encode("SCRIPT FLUSH\r\nQUIT\r\n"));
    const buffer = new Uint8Array(64);
    await conn.read(buffer);
  } finally {
    conn.close();
  }
}

Deno.test({
  name:
    "[redis] fault: redis-server killed mid-run — DriverError naming the operation, then recovery without restarting the app",
  ignore: !serverAvailable("redis"),
  async fn() {
    await using server = await startServer("redis");
    const { logger, logs } = capturingLogger();
    await using c = await cache.create({ ...cache.defaultConfig("production"), keyPrefix: "" }, {
      driver: redisCache({ url: server.url, logger, commandTimeoutMs: 1000 }),
      logger,
    });
    await c.string.set("k", "before");
    assert.equal(await c.string.get("k"), "before");
    await server.kill();
    await assert.rejects(
      c.string.get("k"),
      (error: Error) =>
        error instanceof cache.DriverError && error.operation === "get" && error.driver === "redis",
    );
    await assert.rejects(
      c.hash.hset("h", { f: 1 }),
      (error: Error) => error instanceof cache.DriverError && error.operation === "hset",
    );
    await server.start();
    await eventually(async () => {
      await c.string.set("k", "after");
      assert.equal(await c.string.get("k"), "after");
    }, { timeoutMs: 10_000 });
    const messages = logs.records.map((r) => r.msg);
    assert.ok(messages.includes("redis connection lost; reconnecting"), messages.join());
    assert.ok(messages.includes("redis connection restored"), messages.join());
  },
});

Deno.test({
  name:
    "[redis] create() against an unreachable Redis fails with a DriverError; bad options are rejected",
  ignore: !serverAvailable("redis"),
  async fn() {
    const port = await freePort(); // nothing listens there
    const quiet = quietLogger();
    await assert.rejects(
      cache.create({ ...cache.defaultConfig("production"), keyPrefix: "" }, {
        driver: redisCache({ port, connectTimeoutMs: 500, logger: quiet }),
      }),
      (error: Error) => error instanceof cache.DriverError && error.operation === "ping",
    );
    assert.throws(() => redisCache({ url: "http://x" }), /'url' must start with redis:\/\//);
    assert.throws(() => redisCache({ port: -1 }), /'port' must be a non-negative integer/);
  },
});

Deno.test({
  name: "[redis] withSignal: a call waiting on a frozen Redis stops waiting when the signal aborts",
  ignore: !serverAvailable("redis"),
  async fn() {
    await using server = await startServer("redis");
    await using c = await cache.create({ ...cache.defaultConfig("production"), keyPrefix: "" }, {
      driver: redisCache({ url: server.url, logger: quietLogger() }),
    });
    await c.string.set("k", "v");
    Deno.kill(server.pid!, "SIGSTOP"); // the connection stays open; replies stop
    try {
      const controller = new AbortController();
      const startedAt = Date.now();
      const waiting = c.withSignal(controller.signal).string.get("k");
      setTimeout(() => controller.abort(new Error("deadline")), 100);
      await assert.rejects(waiting, /deadline/);
      assert.ok(Date.now() - startedAt < 2000, `waited ${Date.now() - startedAt} ms`);
    } finally {
      Deno.kill(server.pid!, "SIGCONT");
    }
    assert.equal(await c.string.get("k"), "v", "the provider works again once Redis answers");
  },
});

Deno.test({
  name:
    "[redis] fault: pub/sub subscriptions are restored after redis-server restarts; messages meanwhile are lost",
  ignore: !serverAvailable("redis"),
  async fn() {
    await using server = await startServer("redis");
    const { logger, logs } = capturingLogger();
    const config = { ...cache.defaultConfig("production"), keyPrefix: "svc" };
    const driverOptions = { url: server.url, logger, commandTimeoutMs: 1000 };
    await using publisher = await cache.create(config, { driver: redisCache(driverOptions) });
    await using subscriber = await cache.create(config, {
      driver: redisCache(driverOptions),
      logger,
    });
    const received: unknown[] = [];
    const other: unknown[] = [];
    await using _ = await subscriber.pubsub.subscribe(["presence"], (m) => void received.push(m));
    await using _p = await subscriber.pubsub.psubscribe(["room:*"], (m) => void other.push(m));
    assert.equal(await publisher.pubsub.publish("presence", "before"), 1);
    await eventually(() => assert.deepEqual(received, ["before"]));

    await server.kill();
    await assert.rejects(
      publisher.pubsub.publish("presence", "during"),
      (error: Error) => error instanceof cache.DriverError && error.operation === "publish",
    );
    await server.start();
    // Both the channel and the pattern come back on the subscriber's new connection.
    await eventually(async () => {
      assert.equal(await publisher.pubsub.publish("presence", "after"), 1);
      assert.equal(await publisher.pubsub.publish("room:1", "after"), 1);
    }, { timeoutMs: 10_000 });
    await eventually(() => assert.equal(received.at(-1), "after"));
    assert.ok(!received.includes("during"), "lost while Redis was down");
    await eventually(() => assert.equal(other.at(-1), "after"));
    const messages = logs.records.map((r) => r.msg);
    assert.ok(messages.includes("redis connection restored"), messages.join());
  },
});
