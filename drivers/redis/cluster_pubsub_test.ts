/**
 * The Redis cache driver's pub/sub in a Redis Cluster across a failover of the node subscribers
 * are on (the master of slot 0): the subscriber follows the promoted replica.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import * as cache from "../../cache/mod.ts";
import { eventually } from "../../testing/eventually.ts";
import { capturingLogger, quietLogger } from "../../testing/logger.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { startRedisCluster } from "../../testing/redis_cluster.ts";
import { serverAvailable } from "../../testing/server.ts";
import { redisCache } from "./mod.ts";

/** The port of the master serving slot 0, as the node on `port` sees it (CLUSTER SLOTS). */
async function slotZeroMaster(port: number): Promise<number> {
  const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true });
  try {
    await client.connect();
    const ranges = await client.cluster("SLOTS");
    const range = ranges.find(([start, end]) => start <= 0 && 0 <= end);
    assert.ok(range?.[2], "slot 0 is served");
    return range[2][1];
  } finally {
    client.disconnect();
  }
}

Deno.test({
  name:
    "[redis-cluster] pub/sub: a subscriber follows the failover of the slot-0 master; messages flow again within 15 s",
  ignore: !serverAvailable("redis"),
  async fn() {
    await using cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    const { logger, logs } = capturingLogger();
    const config = { ...cache.defaultConfig("production"), keyPrefix: testKeyspace("pubsub") };
    const driverOptions = { cluster: cluster.nodes, commandTimeoutMs: 1000 };
    await using publisher = await cache.create(config, {
      driver: redisCache({ ...driverOptions, logger: quietLogger() }),
      logger: quietLogger(),
    });
    await using subscriber = await cache.create(config, {
      driver: redisCache({ ...driverOptions, logger }),
      logger,
    });
    const received: unknown[] = [];
    const matched: unknown[] = [];
    await using _ = await subscriber.pubsub.subscribe(["presence"], (m) => void received.push(m));
    await using _p = await subscriber.pubsub.psubscribe(["room:*"], (m) => void matched.push(m));
    // Publishers and the subscriber on one node: the count is the subscriber's.
    assert.equal(await publisher.pubsub.publish("presence", "before"), 1);
    assert.equal(await publisher.pubsub.publish("room:1", "before"), 1);
    await eventually(() => assert.deepEqual([received, matched], [["before"], ["before"]]));

    const alive = cluster.nodes.map(({ port }) => port);
    const victim = await slotZeroMaster(alive[0]);
    assert.ok((await cluster.masters()).includes(victim), `${victim} is a master`);
    const killedAt = performance.now();
    await cluster.kill(victim);

    // Publish every 50 ms until both the channel and the pattern deliver again.
    let sent = 0;
    let failed = 0;
    let firstDeliveryMs: number | undefined;
    let allDeliveredMs: number | undefined;
    while (allDeliveredMs === undefined) {
      const elapsedMs = performance.now() - killedAt;
      assert.ok(elapsedMs < 15_000, `messages flow again within 15 s (${sent} sent, none back)`);
      const message = `after-${sent++}`;
      const results = await Promise.allSettled([
        publisher.pubsub.publish("presence", message),
        publisher.pubsub.publish("room:1", message),
      ]);
      failed += results.filter(({ status }) => status === "rejected").length;
      await new Promise((resolve) => setTimeout(resolve, 50));
      const back = (list: unknown[]) => list.some((m) => String(m).startsWith("after-"));
      if (firstDeliveryMs === undefined && (back(received) || back(matched))) {
        firstDeliveryMs = performance.now() - killedAt;
      }
      if (back(received) && back(matched)) allDeliveredMs = performance.now() - killedAt;
    }
    const firstBack = Number(
      String(received.find((m) => String(m).startsWith("after-"))).slice("after-".length),
    );

    // Settled: every message arrives, and the publisher's count is the subscriber's again.
    // Another provider's publisher too: its slot map named a master it no longer knows, so it
    // asked the cluster again.
    await eventually(async () => {
      assert.equal(await subscriber.pubsub.publish("presence", "settled"), 1);
      assert.equal(await subscriber.pubsub.publish("room:1", "settled"), 1);
      assert.equal(await publisher.pubsub.publish("presence", "settled"), 1);
    }, { timeoutMs: 10_000 });
    await eventually(() => {
      assert.equal(received.at(-1), "settled");
      assert.equal(matched.at(-1), "settled");
    });
    const moved = logs.records.find((record) =>
      /moved to the new master of slot 0/.test(record.msg)
    );
    assert.ok(moved, logs.records.map((record) => record.msg).join());
    const newMaster = await slotZeroMaster(alive.find((port) => port !== victim)!);
    assert.notEqual(newMaster, victim, "a replica took slot 0 over");
    console.log(
      `pub/sub failover of slot-0 master ${victim} (now ${newMaster}): first message back ` +
        `${Math.round(firstDeliveryMs!)} ms after the kill, channel and pattern both ` +
        `${Math.round(allDeliveredMs)} ms; ${sent} rounds published, ${failed} publishes failed, ` +
        `${firstBack} rounds lost before the first one received`,
    );
  },
});
