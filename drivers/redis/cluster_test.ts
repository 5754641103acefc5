import assert from "node:assert/strict";
import { Cluster } from "ioredis";
import { cacheConformance } from "../../cache/conformance.ts";
import * as cache from "../../cache/mod.ts";
import { onceConformance } from "../../once/conformance.ts";
import { rateLimitConformance } from "../../ratelimit/conformance.ts";
import { quietLogger } from "../../testing/logger.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { startRedisCluster, type ThrowawayRedisCluster } from "../../testing/redis_cluster.ts";
import { serverAvailable } from "../../testing/server.ts";
import { slotOf } from "./cluster_keys.ts";
import { redisCache, redisLock, redisOnce, redisRateLimit } from "./mod.ts";
import { redisMqSuite } from "./testdata/mq_suite.ts";

// One cluster for the whole file: forming one takes seconds.
const available = serverAvailable("redis");
const cluster: ThrowawayRedisCluster | undefined = available
  ? await startRedisCluster({ masters: 3, replicasPerMaster: 1 })
  : undefined;
globalThis.addEventListener("unload", () => cluster?.closeSync());
const nodes = cluster?.nodes ?? [];

cacheConformance({
  name: "redis-cluster",
  makeDriver: () => redisCache({ cluster: nodes }),
  ignore: !available,
});

rateLimitConformance({
  name: "redis-cluster",
  makeDriver: () => redisRateLimit({ cluster: nodes }),
  ignore: !available,
});

onceConformance({
  name: "redis-cluster",
  makeDriver: () => redisOnce({ cluster: nodes }),
  ignore: !available,
});

redisMqSuite("redis-cluster", { cluster: nodes }, !available);

Deno.test({
  name: "[redis-cluster] slotOf() agrees with CLUSTER KEYSLOT, hash tags included",
  ignore: !available,
  async fn() {
    const client = new Cluster(nodes.slice(0, 1), { lazyConnect: true });
    await client.connect();
    try {
      const keys = ["a", "foo", "{user1000}.following", "x{}y", "a{b}c{d}", "\x1flock:job", "é✓"];
      for (const key of keys) {
        assert.equal(slotOf(key), await client.cluster("KEYSLOT", key), key);
      }
    } finally {
      client.disconnect();
    }
  },
});

Deno.test({
  name:
    "[redis-cluster] mget, mset, del and exists over keys of every master; locks with odd names",
  ignore: !available,
  async fn() {
    await using c = await cache.create({
      ...cache.defaultConfig("production"),
      keyPrefix: testKeyspace("cluster multi-key"),
    }, { driver: redisCache({ cluster: nodes }) });
    const entries = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    assert.equal(new Set(Object.keys(entries).map(slotOf)).size > 10, true);
    await c.string.mset(entries, { ttlMs: 60_000 });
    const keys = [...Object.keys(entries), "missing"];
    assert.deepEqual(await c.string.mget(keys), [...Object.values(entries), undefined]);
    assert.equal(await c.string.exists(...keys), 50);
    assert.equal(await c.string.del(...keys), 50);
    assert.equal(await c.string.exists(...keys), 0);
    for (const name of ["job", "}", "{x}", "a{", "}{"]) {
      const held = await c.lock.acquire(name, { ttlMs: 2000 });
      assert.equal(await c.lock.tryAcquire(name), null, name);
      await held.unlock();
    }
  },
});

Deno.test({
  name: "[redis-cluster] an ioredis Cluster as 'client'; bad combinations are refused",
  ignore: !available,
  async fn() {
    const client = new Cluster(nodes.slice(0, 1), { lazyConnect: true });
    try {
      await using locks = await redisLock({ client, keyPrefix: testKeyspace("cluster client") });
      const held = await locks.acquire("job");
      assert.equal(await locks.tryAcquire("job"), null);
      await held.unlock();
    } finally {
      client.disconnect();
    }
    assert.throws(
      () => redisCache({ cluster: nodes, url: "redis://127.0.0.1:6379" }),
      /'url' cannot be combined with 'cluster'/,
    );
    assert.throws(() => redisCache({ cluster: nodes, db: 1 }), /'db' cannot be combined/);
    assert.throws(
      () => redisCache({ cluster: nodes, client: client as never }),
      /'client' cannot be combined with 'cluster'/,
    );
    assert.throws(() => redisCache({ cluster: [] }), /'cluster' must be a non-empty array/);
    assert.throws(
      () => redisCache({ cluster: [{ host: "h", port: 0 }] }),
      /every 'cluster' node must be/,
    );
  },
});

Deno.test({
  name:
    "[redis-cluster] failover: a master killed mid-run — its replica takes over, rate limits and locks work again without a restart",
  ignore: !available,
  async fn() {
    const logger = quietLogger();
    // The driver itself: the provider would fail open and hide the failed calls.
    const limiter = redisRateLimit({ cluster: nodes, logger });
    limiter.useKeyPrefix?.(testKeyspace("cluster failover"));
    await using _limiter = { [Symbol.asyncDispose]: () => limiter.close() };
    await limiter.ping();
    const rule = { algorithm: "token-bucket", rate: 1000, burst: 1000 } as const;
    await using locks = await redisLock({
      cluster: nodes,
      keyPrefix: testKeyspace("cluster failover locks"),
      logger,
    });
    // Keys on every master, so some are on the one that dies.
    const keys = Array.from({ length: 30 }, (_, i) => `user${i}`);
    const round = async () => {
      const results = await Promise.allSettled(keys.map((key) => limiter.take("r", key, rule, 1)));
      return results.filter((result) => result.status === "rejected").length;
    };
    assert.equal(await round(), 0);
    const [victim] = await cluster!.masters();
    const killedAt = Date.now();
    await cluster!.kill(victim);
    let failedRounds = 0;
    let failedCalls = 0;
    let lastFailureAt = killedAt;
    let clean = 0;
    let slowestRoundMs = 0;
    // Recovered: 20 clean rounds in a row (about 1 s).
    while (clean < 20) {
      assert.ok(Date.now() - killedAt < 30_000, "recovered within 30 s");
      const startedAt = Date.now();
      const failed = await round();
      slowestRoundMs = Math.max(slowestRoundMs, Date.now() - startedAt);
      if (failed > 0) {
        failedRounds++;
        failedCalls += failed;
        lastFailureAt = Date.now();
        clean = 0;
      } else clean++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const lock = await locks.acquire("job", { ttlMs: 2000 });
    assert.equal(await locks.tryAcquire("job"), null);
    await lock.unlock();
    const recoveredMs = Date.now() - killedAt;
    const masters = await cluster!.masters();
    console.log(
      `failover of master ${victim}: ${failedCalls} failed calls in ${failedRounds} rounds of ` +
        `${keys.length}; last failure ${lastFailureAt - killedAt} ms after the kill; slowest ` +
        `round ${slowestRoundMs} ms; 20 clean rounds in a row ${recoveredMs} ms after the kill; ` +
        `masters now ${masters}`,
    );
    await cluster!.start(victim); // it rejoins as a replica of the promoted node
    await cluster!.waitHealthy();
  },
});
