/**
 * Keyed records land where Kafka's default partitioner puts them, on every driver: the same
 * partition as a Java, franz-go (the Go kit's client) or kafkajs producer, so per-key order holds
 * when Go and Deno services produce to one topic.
 */
import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import { partitionOf } from "../mq/driver.ts";
import * as mq from "../mq/mod.ts";
import { murmur2 } from "../internal/hash.ts";

Deno.test("murmur2 gives the Java client's values (Kafka's UtilsTest vectors)", () => {
  const encoder = new TextEncoder();
  const vectors: [string, number][] = [
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
  ];
  for (const [text, expected] of vectors) {
    assert.equal(murmur2(encoder.encode(text)), expected, text);
  }
});

Deno.test("partitionOf agrees with kafkajs's default partitioner for 20,000 keys, ASCII to CJK and emoji", () => {
  const kafkajs = Partitioners.DefaultPartitioner();
  const alphabet = ["a", "Z", "7", "-", ":", "é", "ß", "消", "息", "채", "😀", "\u{10FFFF}"];
  let seed = 42;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 20_000; i++) {
    const length = Math.floor(random() * 40);
    const key = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)])
      .join("") + (i % 3 === 0 ? `user:${i}` : "");
    const partitions = 1 + Math.floor(random() * 64);
    const partitionMetadata = Array.from({ length: partitions }, (_, id) => ({
      partitionId: id,
      leader: 1,
      replicas: [1],
      isr: [1],
      partitionErrorCode: 0,
      offlineReplicas: [],
    }));
    const theirs = kafkajs({ topic: "t", partitionMetadata, message: { key, value: null } });
    assert.equal(
      partitionOf(key, partitions),
      theirs,
      `key ${JSON.stringify(key)} of ${partitions}`,
    );
  }
});

Deno.test("the memory driver puts a keyed message on Kafka's partition for its key", async () => {
  await using queue = await mq.create(mq.defaultConfig("development"));
  await queue.admin.createTopic("orders", 8);
  const keys = ["21", "foobar", "user:42", "채팅방"];
  const landed = new Map<string, number>();
  await using _subscription = await queue.consumer("g").subscribe<string>(["orders"], (m) => {
    landed.set(m.key!, m.partition);
  });
  for (const key of keys) await queue.producer().sendSync({ topic: "orders", key, value: key });
  const deadline = Date.now() + 5000;
  while (landed.size < keys.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  for (const key of keys) assert.equal(landed.get(key), partitionOf(key, 8), key);
});
