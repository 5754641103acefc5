/**
 * mq on Redis Streams beside raw ioredis floors against the same Redis in one run, 20,000
 * messages per iteration: an XADD pipeline for producing, and that pipeline read back by a group
 * (XREADGROUP, one XACK per stream read) for producing and consuming. Rates are printed (the
 * target is 50,000 messages/s or more).
 *
 * Run: KIT_REDIS_URL=redis://127.0.0.1:6379 deno bench --allow-all bench/redis_mq_bench.ts
 */
import { Redis } from "ioredis";
import { messageRates } from "./_rates.ts";
import { quietLogger } from "../testing/logger.ts";
import { redisMq } from "../drivers/redis/mod.ts";
import * as mq from "../mq/mod.ts";

const url = Deno.env.get("KIT_REDIS_URL");
const ignore = url === undefined;
const COUNT = 20_000;
const topic = `bench-${Date.now()}`;
const logger = quietLogger();
const raw = ignore ? undefined : new Redis(url);
// The raw group's blocking reads hold a connection of their own, as the driver's do.
const rawReader = raw?.duplicate();
const queue = ignore ? undefined : await mq.create(
  { ...mq.defaultConfig("development"), maxBatchSize: 1000, keyPrefix: "bench-" },
  {
    driver: redisMq({ url, retention: 50_000 }),
    logger,
  },
);
await queue?.admin.createTopic(topic, 4);
const record = messageRates(COUNT, () => {
  raw?.disconnect();
  rawReader?.disconnect();
  queue?.close();
});

/** COUNT entries as the driver stores them, 64 keys over 4 streams, in one raw XADD pipeline. */
function rawProduce(streamOf: (i: number) => string): Promise<unknown> {
  const pipeline = raw!.pipeline();
  for (let i = 0; i < COUNT; i++) {
    pipeline.xadd(
      streamOf(i),
      "MAXLEN",
      "~",
      50_000,
      "*",
      "k",
      `=k${i & 63}`,
      "v",
      String(i),
      "h",
      "{}",
    );
  }
  return pipeline.exec();
}

Deno.bench("raw ioredis: XADD pipeline, 20,000 messages", {
  group: "produce",
  baseline: true,
  ignore,
  n: 5,
  warmup: 1,
}, async () => {
  const started = performance.now();
  await rawProduce((i) => `bench-raw:${i & 3}`);
  record("raw ioredis XADD pipeline", performance.now() - started);
});
Deno.bench("kit redisMq: producer.send × 20,000 + flush", {
  group: "produce",
  ignore,
  n: 5,
  warmup: 1,
}, async () => {
  const started = performance.now();
  const producer = queue!.producer();
  for (let i = 0; i < COUNT; i++) producer.send({ topic, key: `k${i & 63}`, value: i });
  await producer.flush();
  record("kit producer", performance.now() - started);
});

const rawGroup = `bench-raw-${Date.now()}`;
const rawStreams = [0, 1, 2, 3].map((partition) => `bench-raw-e2e:${partition}`);
for (const stream of rawStreams) {
  await raw?.xgroup("CREATE", stream, rawGroup, "$", "MKSTREAM");
}
Deno.bench("raw ioredis: XADD pipeline + XREADGROUP + XACK, 20,000 messages", {
  group: "end to end",
  baseline: true,
  ignore,
  n: 5,
  warmup: 1,
}, async () => {
  const started = performance.now();
  const produced = rawProduce((i) => rawStreams[i & 3]);
  const acks: Promise<unknown>[] = [];
  for (let read = 0; read < COUNT;) {
    const reply = await rawReader!.xreadgroup(
      "GROUP",
      rawGroup,
      "raw",
      "COUNT",
      500,
      "BLOCK",
      1000,
      "STREAMS",
      ...rawStreams,
      ...rawStreams.map(() => ">"),
    ) as [string, [string, string[]][]][] | null;
    for (const [stream, entries] of reply ?? []) {
      read += entries.length;
      acks.push(raw!.xack(stream, rawGroup, ...entries.map(([id]) => id)));
    }
  }
  await Promise.all([produced, ...acks]);
  record("raw ioredis XADD + XREADGROUP + XACK", performance.now() - started);
});

let received = 0;
let wake: (() => void) | undefined;
await queue?.consumer(`bench-${Date.now()}`).subscribe([topic], () => {
  if (++received === COUNT) wake?.();
}, { start: "latest" });
Deno.bench("kit redisMq: 20,000 messages produced and consumed by a group", {
  group: "end to end",
  ignore,
  n: 5,
  warmup: 1,
}, async () => {
  received = 0;
  const done = new Promise<void>((resolve) => (wake = resolve));
  const started = performance.now();
  const producer = queue!.producer();
  for (let i = 0; i < COUNT; i++) producer.send({ topic, key: `k${i & 63}`, value: i });
  await producer.flush();
  await done;
  record("kit end to end", performance.now() - started);
});
