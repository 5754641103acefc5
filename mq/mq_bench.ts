/**
 * mq on the memory driver: 100,000 messages published (batched) and consumed
 * by one consumer group in one process, per iteration, beside the floor: a bare
 * array-backed queue with the same shape (4 partitions, 64 keys, batches of
 * 1,000, one awaited handler per message in a loop per partition), run first so
 * the kit's heap does not weigh on it. Both median rates are printed.
 *
 * Run: deno bench --allow-all mq/mq_bench.ts
 */
import { quietLogger } from "../testing/logger.ts";
import * as mq from "./mod.ts";

const COUNT = 100_000;
const PARTITIONS = 4;
const BATCH = 1000;
/** Measured runs of each bench, after two warm-up runs. */
const RUNS = 10;
const logger = quietLogger();
const queue = await mq.create({ ...mq.defaultConfig("development"), maxBatchSize: BATCH }, {
  logger,
});
await queue.admin.createTopic("bench", PARTITIONS);
let received = 0;
let wake: (() => void) | undefined;
await queue.consumer("bench").subscribe<number>(["bench"], () => {
  if (++received === COUNT) wake?.();
});
const rates = { kit: [] as number[], floor: [] as number[] };

/**
 * The floor: per-partition arrays kept to the memory driver's default retention (100,000 a
 * partition, trimmed in chunks), batched appends through a promise chain, and a loop per
 * partition that awaits the handler of each message.
 */
interface FloorMessage {
  readonly key: string;
  readonly value: number;
}
const RETENTION = 100_000;
const floorLog: FloorMessage[][] = Array.from({ length: PARTITIONS }, () => []);
/** Offset of each partition's first kept message. */
const floorBase: number[] = new Array(PARTITIONS).fill(0);
const floorWaiters: ((() => void) | undefined)[] = new Array(PARTITIONS);
const floorPartitions = new Map<string, number>();
let floorReceived = 0;
let floorWake: (() => void) | undefined;
const floorHandler = (_message: FloorMessage): void | Promise<void> => {
  if (++floorReceived === COUNT) floorWake?.();
};
for (let partition = 0; partition < PARTITIONS; partition++) {
  void (async () => {
    const log = floorLog[partition];
    for (let next = 0;;) {
      if (next - floorBase[partition] === log.length) {
        await new Promise<void>((resolve) => (floorWaiters[partition] = resolve));
        continue;
      }
      await floorHandler(log[next++ - floorBase[partition]]);
    }
  })();
}
let floorQueued: FloorMessage[] = [];
let floorFlushing = Promise.resolve();
const floorFlush = (): Promise<void> => {
  const batch = floorQueued;
  floorQueued = [];
  floorFlushing = floorFlushing.then(async () => {
    await Promise.resolve(); // the driver's produce
    for (const message of batch) {
      let partition = floorPartitions.get(message.key);
      if (partition === undefined) {
        floorPartitions.set(message.key, partition = floorPartitions.size % PARTITIONS);
      }
      const log = floorLog[partition];
      log.push(message);
      if (log.length > RETENTION + (RETENTION >> 2)) {
        const drop = log.length - RETENTION;
        log.splice(0, drop);
        floorBase[partition] += drop;
      }
      floorWaiters[partition]?.();
      floorWaiters[partition] = undefined;
    }
  });
  return floorFlushing;
};

Deno.bench("floor: bare array-backed queue, same awaits", { n: RUNS, warmup: 2 }, async () => {
  floorReceived = 0;
  const done = new Promise<void>((resolve) => (floorWake = resolve));
  const started = performance.now();
  for (let i = 0; i < COUNT; i++) {
    floorQueued.push({ key: `k${i & 63}`, value: i });
    if (floorQueued.length >= BATCH) void floorFlush();
  }
  await floorFlush();
  await done;
  rates.floor.push(COUNT / ((performance.now() - started) / 1000));
});

Deno.bench(
  "memory mq: 100,000 messages produced and consumed",
  { n: RUNS, warmup: 2 },
  async () => {
    received = 0;
    const done = new Promise<void>((resolve) => (wake = resolve));
    const started = performance.now();
    const producer = queue.producer();
    for (let i = 0; i < COUNT; i++) producer.send({ topic: "bench", key: `k${i & 63}`, value: i });
    await producer.flush();
    await done;
    rates.kit.push(COUNT / ((performance.now() - started) / 1000));
  },
);

/** The median of the measured runs (the warm-up runs, recorded first, left out). */
function median(values: number[]): string {
  const sorted = values.slice(-RUNS).sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]).toLocaleString("en");
}

globalThis.addEventListener("unload", () => {
  console.log(`memory mq: median ${median(rates.kit)} messages/s`);
  console.log(`floor:     median ${median(rates.floor)} messages/s`);
  queue.close();
});
