/**
 * mq on NATS JetStream beside the raw nats client, against the same server in one run: 5,000
 * messages per iteration, published with an ack each (the raw side awaits acks in windows of 500,
 * as the kit's batches do). Rates are printed.
 *
 * Run: KIT_NATS_URL=nats://127.0.0.1:4222 deno bench --allow-all bench/nats_mq_bench.ts
 */
import { connect } from "nats";
import { messageRates } from "./_rates.ts";
import { quietLogger } from "../testing/logger.ts";
import { natsMq } from "../drivers/nats/mod.ts";
import * as mq from "../mq/mod.ts";

const servers = Deno.env.get("KIT_NATS_URL");
const ignore = servers === undefined;
const COUNT = 5_000;
const WINDOW = 500;
const topic = `bench-${Date.now()}`;
const rawStream = `BENCH_RAW_${Date.now()}`;

const connection = ignore ? undefined : await connect({ servers });
const js = connection?.jetstream();
await (await connection?.jetstreamManager())?.streams.add({
  name: rawStream,
  subjects: [`${rawStream}.*`],
});
const queue = ignore ? undefined : await mq.create(
  { ...mq.defaultConfig("development"), maxBatchSize: WINDOW, keyPrefix: "bench-" },
  { driver: natsMq({ servers: servers! }), logger: quietLogger() },
);
await queue?.admin.createTopic(topic, 4);
const encoder = new TextEncoder();
const record = messageRates(COUNT, () => {
  void queue?.close();
  void connection?.close();
});

Deno.bench("raw nats: js.publish × 5,000, acks awaited per 500", {
  group: "produce",
  baseline: true,
  ignore,
  n: 5,
  warmup: 1,
}, async () => {
  const started = performance.now();
  for (let i = 0; i < COUNT; i += WINDOW) {
    const acks = [];
    for (let j = i; j < i + WINDOW; j++) {
      acks.push(js!.publish(`${rawStream}.${j & 3}`, encoder.encode(String(j))));
    }
    await Promise.all(acks);
  }
  record("raw nats js.publish", performance.now() - started);
});

Deno.bench("kit natsMq: producer.send × 5,000 + flush", {
  group: "produce",
  ignore,
  n: 5,
  warmup: 1,
}, async () => {
  const started = performance.now();
  const producer = queue!.producer();
  for (let i = 0; i < COUNT; i++) producer.send({ topic, key: `k${i & 63}`, value: i });
  await producer.flush();
  record("kit natsMq send", performance.now() - started);
});
