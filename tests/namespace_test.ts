/**
 * `keyPrefix`, the one name and place of a provider's namespace: required where services could
 * collide (cache, once, ratelimit, es on a shared backend), optional where they share by design
 * (mq, coord), refused in driver options, and honoured in every key the Redis drivers write.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { cache, coord, es, mq, once, ratelimit } from "../mod.ts";
import { elasticsearchSearch } from "../drivers/elasticsearch.ts";
import { kafkaMq } from "../drivers/kafka.ts";
import { redisCache, redisMq, redisOnce, redisRateLimit } from "../drivers/redis/mod.ts";
import { quietLogger } from "../testing/logger.ts";
import { testKeyspace } from "../testing/keyspace.ts";
import { errorOf } from "./_error_of.ts";

const url = Deno.env.get("KIT_REDIS_URL");
/** A Redis no one listens on: the refusals come before any connection is needed. */
const nowhere = "redis://127.0.0.1:1";

const MISSING =
  /without 'keyPrefix': services sharing one backend would read and overwrite each other's keys\. Set it to the service's name \(".*"; env\.read\(\)\.keyPrefix gives one from OTEL_SERVICE_NAME\), or to "" to share the keyspace on purpose$/;

Deno.test("cache, once, ratelimit and es on a shared driver refuse to start without keyPrefix, and close the driver", async () => {
  const cases: [string, () => Promise<unknown>][] = [
    ["cache on the redis driver", () =>
      cache.create(cache.defaultConfig("production"), {
        driver: redisCache({ url: nowhere, logger: quietLogger() }),
      })],
    ["once on the redis driver", () =>
      once.create(once.defaultConfig("production"), {
        driver: redisOnce({ url: nowhere, logger: quietLogger() }),
      })],
    [
      "rate limiter on the redis driver",
      () =>
        ratelimit.create(ratelimit.defaultConfig("production"), {
          driver: redisRateLimit({ url: nowhere, logger: quietLogger() }),
        }),
    ],
    ["search on the elasticsearch driver", () =>
      es.create(es.defaultConfig("production"), {
        driver: elasticsearchSearch({ url: "http://127.0.0.1:1" }),
      })],
  ];
  for (const [what, make] of cases) {
    const error = await errorOf(make);
    assert.ok(error instanceof TypeError, `${what}: ${error}`);
    assert.match(error.message, new RegExp(`^Cannot create ${what} `), what);
    assert.match(error.message, MISSING, what);
  }
  // The sanitizer fails this test if a refused driver were left connecting.
});

Deno.test("on the memory drivers keyPrefix is optional: one process has no neighbour", async () => {
  await using c = await cache.create(cache.defaultConfig("production"));
  await using o = await once.create(once.defaultConfig("production"));
  await using r = await ratelimit.create({
    ...ratelimit.defaultConfig("production"),
    rules: { api: { rate: 1, burst: 1 } },
  });
  await using s = await es.create(es.defaultConfig("production"));
  await c.string.set("k", 1);
  assert.equal(await c.string.get("k"), 1);
  assert.equal(await o.execute("k", 1000, () => Promise.resolve(2)), 2);
  assert.equal((await r.allow("k", "api")).allowed, true);
  await s.index("docs", { title: "text" });
});

Deno.test("a driver option keyPrefix is refused, pointing to the provider's config; old names point to keyPrefix", async () => {
  for (
    const make of [
      () => redisMq({ keyPrefix: "a:" } as never),
      () => redisRateLimit({ keyPrefix: "a:" } as never),
    ]
  ) {
    assert.throws(
      make,
      /'keyPrefix' is not an option \(allowed: .*\); for 'keyPrefix', set 'keyPrefix' in the config of the provider the driver is passed to \(cache, once, ratelimit, mq\)/,
    );
  }
  assert.match(
    (await errorOf(() =>
      coord.create({ ...coord.defaultConfig("production"), prefix: "/x" } as never)
    )).message,
    /'prefix' is not a config key \(allowed: .*keyPrefix\); for 'prefix', it is called 'keyPrefix' now/,
  );
  assert.match(
    (await errorOf(() => es.create({ indexPrefix: "x_" } as never))).message,
    /'indexPrefix' is not a config key \(allowed: keyPrefix\); for 'indexPrefix', it is called 'keyPrefix' now/,
  );
  // es index names cannot hold a colon: the Redis-style prefix is refused with the rule.
  assert.match(
    (await errorOf(() => es.create({ keyPrefix: "im-task:" }))).message,
    /'keyPrefix' must be empty or lowercase letters, digits, '_' and '-'/,
  );
});

Deno.test("mq: a keyPrefix on a driver with no keyspace of its own (Kafka) is refused; one driver serves one prefix", async () => {
  const kafka = await errorOf(() =>
    mq.create({ ...mq.defaultConfig("production"), keyPrefix: "app." }, {
      driver: kafkaMq({ brokers: "127.0.0.1:1" }),
      logger: quietLogger(),
    })
  );
  assert.match(
    kafka.message,
    /^Cannot create mq on the kafka driver with 'keyPrefix' "app\." as the driver has no keyspace of its own: put the namespace in the topic names$/,
  );
  const driver = redisRateLimit({ url: nowhere, logger: quietLogger() });
  try {
    driver.useKeyPrefix!("a:");
    driver.useKeyPrefix!("a:"); // the same one again is fine
    assert.throws(
      () => driver.useKeyPrefix!("b:"),
      /^TypeError: Cannot use the redisRateLimit driver under keyPrefix "b:" as it serves "a:" already: give each provider a driver of its own$/,
    );
  } finally {
    await driver.close();
  }
});

Deno.test({
  name:
    "[redis] two services on one Redis: same keys, rules, idempotency keys and topics, nothing shared",
  ignore: url === undefined,
  async fn() {
    const base = testKeyspace("namespace");
    const raw = new Redis(url!);
    try {
      const service = async (name: string) => {
        const keyPrefix = `${base}${name}:`;
        return {
          keyPrefix,
          cache: await cache.create({ ...cache.defaultConfig("production"), keyPrefix }, {
            driver: redisCache({ url }),
          }),
          once: await once.create({ ...once.defaultConfig("production"), keyPrefix }, {
            driver: redisOnce({ url }),
          }),
          limiter: await ratelimit.create({
            ...ratelimit.defaultConfig("production"),
            rules: { api: { rate: 1, burst: 1 } },
            keyPrefix,
          }, { driver: redisRateLimit({ url }) }),
          queue: await mq.create({ ...mq.defaultConfig("development"), keyPrefix }, {
            driver: redisMq({ url }),
            logger: quietLogger(),
          }),
          async close() {
            await Promise.all([
              this.cache.close(),
              this.once.close(),
              this.limiter.close(),
              this.queue.close(),
            ]);
          },
        };
      };
      const a = await service("svc-a");
      const b = await service("svc-b");
      try {
        await a.cache.string.set("session:1", "a's");
        assert.equal(await b.cache.string.get("session:1"), undefined);
        await b.cache.string.set("session:1", "b's");
        assert.equal(await a.cache.string.get("session:1"), "a's");

        assert.equal(await a.once.execute("pay:1", 60_000, () => Promise.resolve("a")), "a");
        assert.equal(await b.once.execute("pay:1", 60_000, () => Promise.resolve("b")), "b");

        assert.equal((await a.limiter.allow("user:1", "api")).allowed, true);
        assert.equal((await a.limiter.allow("user:1", "api")).allowed, false);
        assert.equal((await b.limiter.allow("user:1", "api")).allowed, true, "b's own bucket");

        const received = { a: [] as string[], b: [] as string[] };
        await using _subA = await a.queue.consumer("workers").subscribe<string>(["events"], (m) => {
          received.a.push(m.value);
        });
        await using _subB = await b.queue.consumer("workers").subscribe<string>(["events"], (m) => {
          received.b.push(m.value);
        });
        await a.queue.producer().sendSync({ topic: "events", value: "from a" });
        await b.queue.producer().sendSync({ topic: "events", value: "from b" });
        const deadline = Date.now() + 5000;
        while ((received.a.length < 1 || received.b.length < 1) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.deepEqual(received, { a: ["from a"], b: ["from b"] });

        // Every key each service wrote starts with its prefix: one ACL pattern covers it.
        const keys = await raw.keys(`${base}*`);
        for (const name of ["svc-a", "svc-b"]) {
          const own = keys.filter((key) => key.startsWith(`${base}${name}:`));
          for (const part of ["once:", "rl:", "mq:"]) {
            assert.ok(
              own.some((key) => key.includes(`:${part}`)),
              `${name} has ${part} keys: ${own}`,
            );
          }
        }
        assert.equal(keys.filter((key) => !/^.*svc-[ab]:/.test(key)).length, 0, String(keys));
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      const keys = await raw.keys(`${base}*`);
      if (keys.length > 0) await raw.del(...keys);
      raw.disconnect();
    }
  },
});
