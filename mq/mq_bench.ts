/**
 * mq on the memory driver: 100,000 messages published (batched) and consumed
 * by one consumer group in one process, per iteration. The rate is printed.
 *
 * Run: deno bench --allow-all mq/mq_bench.ts
 */
import { quietLogger } from "../testing/logger.ts";
import * as mq from "./mod.ts";

const COUNT = 100_000;
const logger = quietLogger();
const queue = await mq.create({ ...mq.defaultConfig("development"), maxBatchSize: 1000 }, {
  logger,
});
await queue.admin.createTopic("bench", 4);
let received = 0;
let wake: (() => void) | undefined;
await queue.consumer("bench").subscribe<number>(["bench"], () => {
  if (++received === COUNT) wake?.();
});
const rates: number[] = [];

Deno.bench("memory mq: 100,000 messages produced and consumed", { n: 10, warmup: 2 }, async () => {
  received = 0;
  const done = new Promise<void>((resolve) => (wake = resolve));
  const started = performance.now();
  const producer = queue.producer();
  for (let i = 0; i < COUNT; i++) producer.send({ topic: "bench", key: `k${i & 63}`, value: i });
  await producer.flush();
  await done;
  rates.push(COUNT / ((performance.now() - started) / 1000));
});

globalThis.addEventListener("unload", () => {
  const sorted = rates.sort((a, b) => a - b);
  console.log(
    `memory mq: median ${
      Math.round(sorted[Math.floor(sorted.length / 2)]).toLocaleString("en")
    } messages/s`,
  );
  queue.close();
});
