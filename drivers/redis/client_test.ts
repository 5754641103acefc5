/**
 * Every Redis driver on a client the application opened itself: it works, and closing the kit's
 * providers leaves the client open and usable.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import * as cache from "../../cache/mod.ts";
import * as mq from "../../mq/mod.ts";
import * as once from "../../once/mod.ts";
import * as ratelimit from "../../ratelimit/mod.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { quietLogger } from "../../testing/logger.ts";
import { serviceUrl } from "../../testing/services.ts";
import { redisCache, redisLock, redisMq, redisOnce, redisRateLimit } from "./mod.ts";

const url = serviceUrl("redis");

Deno.test({
  name: "[redis] every driver runs on an application's own ioredis client and leaves it open",
  ignore: url === undefined,
  async fn() {
    const client = new Redis(url!, { lazyConnect: true });
    const prefix = testKeyspace("own client");
    try {
      {
        await using c = await cache.create({
          ...cache.defaultConfig("production"),
          keyPrefix: prefix,
        }, {
          driver: redisCache({ client }),
        });
        await c.string.set("k", { v: 1 });
        assert.deepEqual(await c.string.get("k"), { v: 1 });
        const lock = await c.lock.acquire("l", { ttlMs: 1000 });
        await lock.unlock();
      }
      assert.equal(client.status, "ready", "the provider's close left the client open");
      assert.equal(await client.get(`${prefix}\x1fk`), '{"v":1}', "and the application can use it");

      await using locks = await redisLock({ client, keyPrefix: prefix });
      const held = await locks.acquire("job", { ttlMs: 1000 });
      assert.ok(held.token > 0);
      await held.unlock();

      {
        await using limiter = await ratelimit.create({
          ...ratelimit.defaultConfig("production"),
          rules: { r: { rate: 1, burst: 1 } },
          keyPrefix: prefix,
        }, { driver: redisRateLimit({ client }) });
        assert.equal((await limiter.allow("u", "r")).allowed, true);
        assert.equal((await limiter.allow("u", "r")).allowed, false);
      }
      {
        await using runs = await once.create(
          { ...once.defaultConfig("production"), keyPrefix: prefix },
          { driver: redisOnce({ client }) },
        );
        assert.equal(await runs.execute("job", 60_000, () => Promise.resolve(7)), 7);
        assert.equal(await runs.execute("job", 60_000, () => Promise.resolve(8)), 7);
      }
      {
        // mq opens a second connection from the client (duplicate) for its blocking reads.
        await using queue = await mq.create({
          ...mq.defaultConfig("production"),
          keyPrefix: prefix,
        }, {
          driver: redisMq({ client }),
          logger: quietLogger(),
        });
        const topic = "orders";
        await queue.admin.createTopic(topic, 1);
        const received: number[] = [];
        await using _subscription = await queue.consumer("g").subscribe<number>(
          [topic],
          (message) => {
            received.push(message.value);
            return Promise.resolve();
          },
        );
        await queue.producer().sendSync({ topic, key: "a", value: 42 });
        const deadline = Date.now() + 5000;
        while (received.length === 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.deepEqual(received, [42]);
      }
      assert.equal(client.status, "ready");
      assert.equal(await client.ping(), "PONG");
    } finally {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
      client.disconnect();
    }
  },
});

Deno.test("[redis] a client that is not an ioredis client is refused; a Cluster client is taken", () => {
  assert.throws(
    () => redisCache({ client: {} as never }),
    /'client' must be an ioredis Redis or Cluster client/,
  );
  const cluster = { isCluster: true, evalsha() {}, duplicate() {}, on() {} };
  assert.equal(redisCache({ client: cluster as never }).name, "redis");
});
