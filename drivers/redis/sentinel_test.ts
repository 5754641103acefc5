import assert from "node:assert/strict";
import { cacheConformance } from "../../cache/conformance.ts";
import * as cache from "../../cache/mod.ts";
import { onceConformance } from "../../once/conformance.ts";
import { rateLimitConformance } from "../../ratelimit/conformance.ts";
import { capturingLogger, quietLogger } from "../../testing/logger.ts";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { startRedisSentinel, type ThrowawayRedisSentinel } from "../../testing/redis_sentinel.ts";
import { serverAvailable } from "../../testing/server.ts";
import { redisCache, redisOnce, redisRateLimit } from "./mod.ts";
import { redisMqSuite } from "./testdata/mq_suite.ts";

// One primary, one replica and three sentinels for the whole file.
const available = serverAvailable("redis");
const redis: ThrowawayRedisSentinel | undefined = available
  ? await startRedisSentinel({ replicas: 1, sentinels: 3 })
  : undefined;
globalThis.addEventListener("unload", () => redis?.closeSync());
const sentinel = { sentinels: redis?.sentinels ?? [], masterName: redis?.masterName ?? "" };

cacheConformance({
  name: "redis-sentinel",
  makeDriver: () => redisCache(sentinel),
  ignore: !available,
});

rateLimitConformance({
  name: "redis-sentinel",
  makeDriver: () => redisRateLimit(sentinel),
  ignore: !available,
});

onceConformance({
  name: "redis-sentinel",
  makeDriver: () => redisOnce(sentinel),
  ignore: !available,
});

redisMqSuite("redis-sentinel", sentinel, !available);

Deno.test({
  name: "[redis-sentinel] bad sentinel options are refused, naming the option",
  ignore: !available,
  fn() {
    const sentinels = [{ host: "127.0.0.1", port: 26379 }];
    assert.throws(() => redisCache({ sentinels }), /'masterName' .* is required with 'sentinels'/);
    assert.throws(
      () => redisCache({ masterName: "m" }),
      /'masterName' is set without 'sentinels'/,
    );
    assert.throws(
      () => redisCache({ sentinelPassword: "x" }),
      /'sentinelPassword' is set without 'sentinels'/,
    );
    assert.throws(
      () => redisCache({ sentinels, masterName: "m", url: "redis://127.0.0.1:6379" }),
      /'url' cannot be combined with 'sentinels'/,
    );
    assert.throws(
      () => redisCache({ sentinels, masterName: "m", cluster: sentinels }),
      /'sentinels' cannot be combined with 'cluster'/,
    );
    assert.throws(
      () => redisCache({ sentinels: [{ host: "", port: 1 }], masterName: "m" }),
      /every 'sentinels' node must be \{ host, port \}/,
    );
  },
});

Deno.test({
  name: "[redis-sentinel] a failing call names the primary and its sentinels, never a password",
  ignore: !available,
  async fn() {
    const driver = redisCache({
      sentinels: redis!.sentinels,
      masterName: "no-such-primary",
      sentinelPassword: "s3cret-sentinel",
      connectTimeoutMs: 300,
      logger: quietLogger(),
    });
    try {
      const error = await driver.ping().then(() => undefined, (error: Error) => error);
      assert.ok(error, "ping of an unknown primary fails");
      const text = `${error.message} ${String(error.cause)}`;
      assert.match(
        text,
        /the sentinels answer but none knows the primary 'no-such-primary' of sentinels 127\.0\.0\.1:\d+/,
      );
      assert.doesNotMatch(text, /s3cret-sentinel/);
    } finally {
      await driver.close();
    }
  },
});

Deno.test({
  name:
    "[redis-sentinel] failover: the primary killed mid-run — a replica is promoted, calls fail with a DriverError meanwhile, then work again without a restart",
  ignore: !available,
  async fn() {
    const { logger, logs } = capturingLogger();
    await using c = await cache.create({
      ...cache.defaultConfig("production"),
      keyPrefix: testKeyspace("sentinel failover"),
    }, { driver: redisCache({ ...sentinel, logger }) });
    // Written before the kill and waited for by the replica: survives the failover.
    await c.string.set("before", "kept", { ttlMs: 60_000 });
    const oldPrimary = await redis!.primary();
    const killedAt = Date.now();
    await redis!.kill(oldPrimary);
    let calls = 0;
    let failed = 0;
    let lastFailureAt = killedAt;
    const otherErrors: string[] = [];
    let clean = 0;
    // Recovered: 20 clean writes in a row (about 1 s).
    while (clean < 20) {
      assert.ok(Date.now() - killedAt < 30_000, "recovered within 30 s");
      calls++;
      try {
        await c.string.set(`k${calls}`, calls, { ttlMs: 60_000 });
        clean++;
      } catch (error) {
        if (!(error instanceof cache.DriverError)) otherErrors.push(String(error));
        failed++;
        clean = 0;
        lastFailureAt = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const newPrimary = await redis!.primary();
    console.log(
      `sentinel failover ${oldPrimary} → ${newPrimary}: ${failed} of ${calls} writes failed ` +
        `(each a DriverError); last failure ${lastFailureAt - killedAt} ms after the kill; ` +
        `20 clean writes in a row ${Date.now() - killedAt} ms after it`,
    );
    assert.deepEqual(otherErrors, []);
    assert.notEqual(newPrimary, oldPrimary);
    assert.equal(await c.string.get("before"), "kept");
    assert.ok(
      logs.records.some((record) => /redis connection lost/.test(record.msg)),
      "the outage was reported",
    );
    // The old primary comes back as a replica of the new one.
    await redis!.start(oldPrimary);
    await redis!.waitHealthy();
    assert.equal(await redis!.primary(), newPrimary);
    await c.string.set("after", "ok");
    assert.equal(await c.string.get("after"), "ok");
  },
});

Deno.test({
  name:
    "[redis-sentinel] close() ends every connection the driver opened to the sentinels, the failover detector's subscriptions included",
  ignore: !available,
  async fn() {
    // Clients subscribed on the sentinels (the failover detector listens for +switch-master).
    const subscribed = async () => {
      let count = 0;
      for (const { port } of redis!.sentinels) {
        const { stdout } = await new Deno.Command("redis-cli", {
          args: ["-p", String(port), "CLIENT", "LIST"],
          stdout: "piped",
        }).output();
        count += new TextDecoder().decode(stdout).split("\n")
          .filter((line) => / sub=[1-9]/.test(line)).length;
      }
      return count;
    };
    const before = await subscribed();
    const driver = redisCache(sentinel);
    await driver.ping();
    await eventually(async () => assert.equal(await subscribed(), before + 3));
    await driver.close();
    await eventually(async () => assert.equal(await subscribed(), before));
  },
});
