/**
 * The Redis drivers' connection on throwaway servers: no password in a log line or an error,
 * connection failures that say which they were, and a command timeout that frees callers from
 * a stopped (SIGSTOP) Redis without breaking blocking reads.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import * as cache from "../../cache/mod.ts";
import { consoleFormatter, jsonFormatter, serializeError } from "../../clog/mod.ts";
import * as mq from "../../mq/mod.ts";
import * as once from "../../once/mod.ts";
import * as ratelimit from "../../ratelimit/mod.ts";
import { eventually } from "../../testing/eventually.ts";
import { capturingLogger, quietLogger } from "../../testing/logger.ts";
import { freePort, serverAvailable, startServer } from "../../testing/server.ts";
import { redisCache, redisLock, redisMq, redisOnce, redisRateLimit } from "./mod.ts";

const ignore = !serverAvailable("redis");

/** Everything a caller or a log could show of an error: message, stack, causes and fields. */
function shown(error: unknown): string {
  const parts = [String(error), JSON.stringify(error)];
  for (let each = error; each instanceof Error; each = each.cause) {
    parts.push(each.stack ?? "", JSON.stringify(serializeError(each)), JSON.stringify(each));
  }
  return parts.join("\n");
}

/** Rejects with a clear message when `promise` takes longer than `ms`, instead of hanging. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name:
    "[redis] a wrong password reaches no log line and no error, from any driver, in URL or options",
  ignore,
  async fn() {
    await using server = await startServer("redis", { args: ["--requirepass", "right-Pa55"] });
    const password = "wr0ng:p@ss/w0rd";
    const { logger, logs } = capturingLogger();
    const errors: unknown[] = [];
    const failed = (error: unknown) => {
      errors.push(error);
      return true;
    };
    const settings = [
      { url: `redis://default:${encodeURIComponent(password)}@127.0.0.1:${server.port}` },
      { url: `redis://:${encodeURIComponent(password)}@127.0.0.1:${server.port}` },
      { port: server.port, username: "default", password },
      { port: server.port, password },
    ];
    for (const connection of settings) {
      const options = { ...connection, logger };
      await assert.rejects(
        cache.create({ ...cache.defaultConfig("production"), keyPrefix: "" }, {
          driver: redisCache(options),
          logger,
        }),
        (error) => failed(error) && error instanceof cache.DriverError,
      );
      await assert.rejects(redisLock(options), (error) => failed(error));
      await assert.rejects(
        mq.create(mq.defaultConfig("production"), { driver: redisMq(options), logger }),
        (error) => failed(error) && error instanceof mq.DriverError,
      );
      {
        await using runs = await once.create(
          { ...once.defaultConfig("production"), keyPrefix: "" },
          {
            driver: redisOnce(options),
            logger,
          },
        );
        await assert.rejects(
          runs.execute("job", 1000, () => Promise.resolve(1)),
          (error) => failed(error) && error instanceof once.DriverError,
        );
      }
      {
        // Fails open, and logs why.
        await using limiter = await ratelimit.create({
          ...ratelimit.defaultConfig("production"),
          keyPrefix: "",
          rules: { r: { rate: 10, burst: 10 } },
        }, { driver: redisRateLimit(options), logger });
        await limiter.allow("k", "r");
      }
    }
    // An application's own client: what it reports through the kit is scrubbed too.
    const client = new Redis(settings[0].url!, {
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    await assert.rejects(
      cache.create({ ...cache.defaultConfig("production"), keyPrefix: "" }, {
        driver: redisCache({ client, logger }),
        logger,
      }),
      (error) => failed(error),
    );
    client.disconnect();

    assert.equal(errors.length, settings.length * 4 + 1);
    for (const error of errors) {
      assert.match(
        (error as Error).message,
        new RegExp(`authentication failed at 127\\.0\\.0\\.1:${server.port} \\(WRONGPASS`),
      );
    }
    const lines = logs.records.flatMap((record) => [
      jsonFormatter()(record),
      consoleFormatter({ color: false })(record),
    ]);
    assert.ok(lines.some((line) => line.includes("redis connection lost; reconnecting")));
    assert.ok(lines.some((line) => line.includes("rate-limit backend unreachable")));
    const everything = [...errors.map(shown), ...lines].join("\n");
    for (const secret of [password, encodeURIComponent(password)]) {
      assert.ok(!everything.includes(secret), `the password appears in:\n${everything}`);
    }
  },
});

Deno.test({
  name:
    "[redis] a failed connection says which failure it was: wrong password, TLS, refused port, with the address",
  ignore,
  async fn() {
    await using server = await startServer("redis", { args: ["--requirepass", "right-Pa55"] });
    // A TCP server that answers a TLS hello with plain text, as a non-TLS service would.
    const plain = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const plainPort = (plain.addr as Deno.NetAddr).port;
    const serving = (async () => {
      for await (const conn of plain) {
        await conn.write(new TextEncoder().encode("-ERR this is not TLS\r\n")).catch(() => {});
        conn.close();
      }
    })();
    const refusedPort = await freePort();
    const failure = async (options: Parameters<typeof redisCache>[0]): Promise<string> => {
      let message = "";
      await assert.rejects(
        cache.create({ ...cache.defaultConfig("production"), keyPrefix: "" }, {
          driver: redisCache({ connectTimeoutMs: 500, logger: quietLogger(), ...options }),
        }),
        (error: Error) => {
          message = error.message;
          return error instanceof cache.DriverError && error.operation === "ping";
        },
      );
      return message;
    };
    try {
      assert.match(
        await failure({ port: server.port, password: "wrong" }),
        new RegExp(
          `^redis driver: ping failed: authentication failed at 127\\.0\\.0\\.1:${server.port} \\(WRONGPASS `,
        ),
      );
      assert.match(
        await failure({ port: server.port }),
        new RegExp(`authentication failed at 127\\.0\\.0\\.1:${server.port} \\(NOAUTH `),
      );
      assert.match(
        await failure({ url: `rediss://127.0.0.1:${plainPort}` }),
        new RegExp(`TLS handshake failed at 127\\.0\\.0\\.1:${plainPort}: `),
      );
      assert.match(
        await failure({ url: `rediss://127.0.0.1:${server.port}` }),
        new RegExp(`TLS connection to 127\\.0\\.0\\.1:${server.port} timed out`),
      );
      assert.match(
        await failure({ port: refusedPort }),
        new RegExp(`ping failed: connection refused at 127\\.0\\.0\\.1:${refusedPort}$`),
      );
    } finally {
      plain.close();
      await serving.catch(() => {});
    }
  },
});

Deno.test({
  name:
    "[redis] a stopped Redis (SIGSTOP) fails calls with a DriverError within the default command timeout; they work again after SIGCONT",
  ignore,
  async fn() {
    await using server = await startServer("redis");
    const { logger, logs } = capturingLogger();
    await using c = await cache.create({ ...cache.defaultConfig("production"), keyPrefix: "" }, {
      driver: redisCache({ url: server.url, logger }),
      logger,
    });
    await using limiter = await ratelimit.create({
      ...ratelimit.defaultConfig("production"),
      rules: { r: { rate: 1000, burst: 1000 } },
      failPolicy: "closed",
      keyPrefix: "",
    }, { driver: redisRateLimit({ url: server.url, logger }), logger });
    await using runs = await once.create({ ...once.defaultConfig("production"), keyPrefix: "" }, {
      driver: redisOnce({ url: server.url, logger }),
      logger,
    });
    await c.string.set("k", "v");
    assert.equal((await limiter.allow("u", "r")).allowed, true);
    assert.equal(await runs.execute("a", 60_000, () => Promise.resolve(1)), 1);
    Deno.kill(server.pid!, "SIGSTOP"); // connections stay open; nothing answers
    let stoppedFor: number;
    try {
      const startedAt = Date.now();
      const outcomes = await within(
        5000,
        "calls on a stopped Redis",
        Promise.allSettled([
          c.string.get("k"),
          c.hash.hset("h", { f: 1 }),
          runs.execute("b", 60_000, () => Promise.resolve(2)),
        ]),
      );
      const elapsed = Date.now() - startedAt;
      for (const outcome of outcomes) {
        assert.equal(outcome.status, "rejected");
        const reason = (outcome as PromiseRejectedResult).reason;
        assert.ok(reason instanceof cache.DriverError, String(reason));
        assert.match(reason.message, /no reply from 127\.0\.0\.1:\d+ within 1000 ms/);
      }
      assert.ok(elapsed >= 900 && elapsed < 2500, `failed after ${elapsed} ms`);
      // Fails closed within the timeout too, instead of holding the request.
      const decided = Date.now();
      assert.equal((await within(5000, "allow()", limiter.allow("u", "r"))).allowed, false);
      assert.ok(Date.now() - decided < 2500, `decided after ${Date.now() - decided} ms`);
      // While it stays stopped, calls fail at once.
      const again = Date.now();
      await assert.rejects(within(5000, "get()", c.string.get("k")), cache.DriverError);
      assert.ok(Date.now() - again < 1500, `failed after ${Date.now() - again} ms`);
    } finally {
      stoppedFor = Date.now();
      Deno.kill(server.pid!, "SIGCONT");
    }
    await eventually(async () => {
      assert.equal(await c.string.get("k"), "v");
      assert.equal((await limiter.allow("u", "r")).allowed, true);
      assert.equal(await runs.execute("a", 60_000, () => Promise.resolve(3)), 1);
    }, { timeoutMs: 5000 });
    const recoveredMs = Date.now() - stoppedFor;
    assert.ok(recoveredMs < 3000, `recovered ${recoveredMs} ms after SIGCONT`);
    assert.ok(logs.records.some((record) => record.msg === "redis connection restored"));
  },
});

Deno.test({
  name: "[redis] commandTimeoutMs: 0 turns the timeout off: a call waits for a stopped Redis",
  ignore,
  async fn() {
    await using server = await startServer("redis");
    await using c = await cache.create({ ...cache.defaultConfig("production"), keyPrefix: "" }, {
      driver: redisCache({ url: server.url, commandTimeoutMs: 0, logger: quietLogger() }),
    });
    await c.string.set("k", "v");
    Deno.kill(server.pid!, "SIGSTOP");
    const startedAt = Date.now();
    const resumed = new Promise((resolve) =>
      setTimeout(() => resolve(Deno.kill(server.pid!, "SIGCONT")), 1500)
    );
    try {
      assert.equal(await within(5000, "get()", c.string.get("k")), "v");
      assert.ok(Date.now() - startedAt >= 1400, `answered after ${Date.now() - startedAt} ms`);
    } finally {
      await resumed;
    }
  },
});

Deno.test({
  name:
    "[redis] blocking reads and lock waits outlast the command timeout; mq consumes again after a SIGSTOP",
  ignore,
  async fn() {
    await using server = await startServer("redis");
    const monitor = new Redis(server.url, { lazyConnect: true });
    await monitor.connect();
    const connections = async () =>
      Number(/total_connections_received:(\d+)/.exec(await monitor.info("stats"))![1]);
    try {
      // A timeout below the 200 ms a blocking read waits for entries.
      const commandTimeoutMs = 100;
      await using queue = await mq.create(mq.defaultConfig("production"), {
        driver: redisMq({
          url: server.url,
          commandTimeoutMs,
          heartbeatMs: 50,
          logger: quietLogger(),
        }),
        logger: quietLogger(),
      });
      await queue.admin.createTopic("t", 1);
      const received: string[] = [];
      await using _subscription = await queue.consumer("g").subscribe<string>(["t"], (m) => {
        received.push(m.value);
        return Promise.resolve();
      });
      await queue.producer().sendSync({ topic: "t", value: "before" });
      await eventually(() => assert.deepEqual(received, ["before"]));
      // Idle: the reader blocks, again and again, for longer than the timeout.
      const opened = await connections();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(await connections(), opened, "no connection was dropped and opened again");

      // Lock waits poll with short commands: a wait far longer than the timeout still succeeds.
      await using locks = await redisLock({ url: server.url, commandTimeoutMs });
      const held = await locks.acquire("job", { ttlMs: 5000 });
      const waiting = locks.acquire("job", { ttlMs: 5000 });
      setTimeout(() => void held.unlock(), 1000);
      const next = await within(5000, "lock wait", waiting);
      assert.ok(next.token > held.token);
      await next.unlock();

      Deno.kill(server.pid!, "SIGSTOP");
      try {
        await assert.rejects(
          within(
            5000,
            "send on a stopped Redis",
            queue.producer().sendSync({ topic: "t", value: "x" }),
          ),
          mq.DriverError,
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
      } finally {
        Deno.kill(server.pid!, "SIGCONT");
      }
      await eventually(() => queue.producer().sendSync({ topic: "t", value: "after" }), {
        timeoutMs: 5000,
      });
      await eventually(() => assert.ok(received.includes("after"), received.join()), {
        timeoutMs: 5000,
      });
    } finally {
      monitor.disconnect();
    }
  },
});

Deno.test({
  name: "[redis] mq: a subscription and its provider close while Redis is stopped",
  ignore,
  async fn() {
    await using server = await startServer("redis");
    const queue = await mq.create(mq.defaultConfig("production"), {
      driver: redisMq({ url: server.url, logger: quietLogger() }),
      logger: quietLogger(),
    });
    await queue.admin.createTopic("t", 1);
    const subscription = await queue.consumer("g").subscribe(["t"], () => Promise.resolve());
    await new Promise((resolve) => setTimeout(resolve, 300)); // a blocking read is in flight
    Deno.kill(server.pid!, "SIGSTOP");
    try {
      const startedAt = Date.now();
      await within(
        10_000,
        "close() on a stopped Redis",
        (async () => {
          await subscription.close();
          await queue.close();
        })(),
      );
      assert.ok(Date.now() - startedAt < 5000, `closed after ${Date.now() - startedAt} ms`);
    } finally {
      Deno.kill(server.pid!, "SIGCONT");
    }
  },
});

Deno.test({
  name:
    "[redis] mq: subscribing to a missing topic fails with a DriverError and opens no connection",
  ignore,
  async fn() {
    await using server = await startServer("redis");
    const monitor = new Redis(server.url, { lazyConnect: true });
    await monitor.connect();
    const driver = redisMq({ url: server.url, logger: quietLogger() });
    try {
      await driver.ping();
      await assert.rejects(
        driver.subscribe("g", ["missing"], { fromBeginning: false }, () => Promise.resolve()),
        (error: Error) =>
          error instanceof mq.DriverError && /topic 'missing' does not exist/.test(error.message),
      );
      const clients = String(await monitor.call("CLIENT", "LIST")).trim().split("\n");
      assert.equal(clients.length, 2, `the driver's and this test's only:\n${clients.join("\n")}`);
    } finally {
      await driver.close();
      monitor.disconnect();
    }
  },
});

Deno.test("[redis] a URL refused as invalid is not echoed with its password", () => {
  for (const url of ["http://app:hunter2@127.0.0.1:6379", "app:hunter2@127.0.0.1:6379"]) {
    assert.throws(
      () => redisCache({ url }),
      (error: Error) =>
        error instanceof TypeError && /'url' must start with redis:\/\//.test(error.message) &&
        !error.message.includes("hunter2"),
    );
  }
});
