/**
 * The Kafka driver under broker faults, through the controls of librdkafka's mock cluster (a
 * Kafka-protocol broker; CI sets KIT_KAFKA_MOCK=1): a broker down mid-run, a partition's leader
 * moving, produce requests failing. Every message the producer acknowledged is consumed (at least
 * once, as the group's commits allow), and the consumer carries on by itself.
 */
import assert from "node:assert/strict";
import * as mq from "../mq/mod.ts";
import { type KafkaMock, kafkaMockAvailable, startKafkaMock } from "../testing/kafka_mock.ts";
import { quietLogger } from "../testing/logger.ts";
import { kafkaMq } from "./kafka.ts";

const enabled = Deno.env.get("KIT_KAFKA_MOCK") === "1" && await kafkaMockAvailable();
const PARTITIONS = 3;

/** One producer and one consumer group member on a fresh topic of the given cluster. */
async function pair(cluster: KafkaMock, topic: string) {
  await cluster.createTopic(topic, PARTITIONS);
  const make = () =>
    mq.create({ ...mq.defaultConfig("production"), lingerMs: 0 }, {
      driver: kafkaMq({ brokers: cluster.brokers, idempotent: false, sessionTimeoutMs: 6000 }),
      logger: quietLogger(),
    });
  const producer = await make();
  const consumer = await make();
  const received = new Set<number>();
  const subscription = await consumer.consumer("fault").subscribe<number>([topic], (message) => {
    received.add(message.value);
  });
  return {
    producer,
    received,
    /** Sends 0 … count-1 keyed, one at a time; returns the values the broker acknowledged. */
    async send(count: number, during?: (sent: number) => Promise<void>): Promise<number[]> {
      const acknowledged: number[] = [];
      for (let i = 0; i < count; i++) {
        await during?.(i);
        try {
          await producer.producer().sendSync({ topic, key: `key-${i % 7}`, value: i });
          acknowledged.push(i);
        } catch (error) {
          assert.ok(error instanceof mq.DriverError, String(error)); // refused, never lost silently
        }
      }
      return acknowledged;
    },
    async [Symbol.asyncDispose]() {
      await subscription.close();
      await Promise.all([producer.close(), consumer.close()]);
    },
  };
}

async function allConsumed(received: Set<number>, acknowledged: number[], timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (acknowledged.some((value) => !received.has(value)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const missing = acknowledged.filter((value) => !received.has(value));
  assert.deepEqual(missing, [], `acknowledged but never consumed (${acknowledged.length} sent)`);
}

Deno.test({
  name: "[kafka-mock] fault: a broker down mid-run, then up — nothing acknowledged is lost",
  ignore: !enabled,
  async fn() {
    await using cluster = await startKafkaMock();
    await using env = await pair(cluster, "fault.down");
    const acknowledged = await env.send(120, async (i) => {
      if (i === 40) await cluster.brokerDown(2);
      if (i === 60) await cluster.brokerUp(2);
    });
    assert.ok(acknowledged.length >= 100, `most sends went through: ${acknowledged.length}`);
    await allConsumed(env.received, acknowledged);
  },
});

Deno.test({
  name: "[kafka-mock] fault: partition leaders move mid-run — producer and consumer follow",
  ignore: !enabled,
  async fn() {
    await using cluster = await startKafkaMock();
    await using env = await pair(cluster, "fault.leader");
    const acknowledged = await env.send(120, async (i) => {
      if (i === 40) {
        for (let p = 0; p < PARTITIONS; p++) {
          await cluster.setLeader("fault.leader", p, 1 + (p + 1) % 3);
        }
      }
    });
    assert.equal(acknowledged.length, 120, "a leader change fails no send");
    await allConsumed(env.received, acknowledged);
  },
});

Deno.test({
  name:
    "[kafka-mock] fault: produce requests fail — retriable errors are retried, others refused with a DriverError",
  ignore: !enabled,
  async fn() {
    await using cluster = await startKafkaMock();
    await using env = await pair(cluster, "fault.produce");
    // 6 NOT_LEADER_OR_FOLLOWER is retriable: the client refreshes metadata and sends again.
    await cluster.failRequests(0, 1, 6);
    const first = await env.send(20);
    assert.equal(first.length, 20, "a retriable error costs no message");
    // 10 MESSAGE_TOO_LARGE is not: the send is refused, and the producer stays usable.
    await cluster.failRequests(0, 1, 10);
    await assert.rejects(
      env.producer.producer().sendSync({ topic: "fault.produce", key: "k", value: -1 }),
      mq.DriverError,
    );
    const after = await env.send(5);
    assert.equal(after.length, 5);
    await allConsumed(env.received, first);
  },
});
