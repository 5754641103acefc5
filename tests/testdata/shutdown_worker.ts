/**
 * The graceful-shutdown worker: a service under load that `health.onShutdown` stops on SIGTERM.
 * Producer loops publish numbers with `sendSync` (a number is acknowledged once it resolves), a
 * consumer group handles them, an HTTP server answers `/readyz`, the instance is registered in
 * coord. It prints `{"port": …}` once serving, its JSON log on stderr, and, after the shutdown,
 * `{"result": { acknowledged, handled, pending, failed, report }}` on stdout, then exits 0.
 *
 * Usage: `deno run -A shutdown_worker.ts memory` (pending: read from the shared memory broker by a
 * second consumer of the group once the service stopped), `… redis <url> <keyPrefix>` (pending is
 * left to the caller's second consumer: `… redis-drain <url> <keyPrefix>` prints `{"pending": …}`).
 */
import * as clog from "../../clog/mod.ts";
import * as coord from "../../coord/mod.ts";
import { redisMq } from "../../drivers/redis/mod.ts";
import * as health from "../../health/mod.ts";
import * as mq from "../../mq/mod.ts";

const TOPIC = "orders";
const GROUP = "shutdown";
const PRODUCERS = 4;
const [mode, url, keyPrefix] = Deno.args;
const broker = new mq.MemoryMqBroker();
const driver = () => mode === "memory" ? mq.memoryMq({ broker }) : redisMq({ url });
const config = { ...mq.defaultConfig("development"), keyPrefix };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Numbers a second consumer of the group gets until the topic stays quiet for `idleMs`. */
async function drain(idleMs: number): Promise<number[]> {
  await using queue = await mq.create(config, { driver: driver() });
  const pending: number[] = [];
  let last = Date.now();
  const subscription = await queue.consumer(GROUP).subscribe<number>([TOPIC], (message) => {
    pending.push(message.value);
    last = Date.now();
  });
  while (Date.now() - last < idleMs) await sleep(50);
  await subscription.close();
  return pending;
}

if (mode === "redis-drain") {
  console.log(JSON.stringify({ pending: await drain(1000) }));
  Deno.exit(0);
}

const logger = clog.create({ level: "info", format: "json", output: "stderr" });
const queue = await mq.create(config, { driver: driver(), logger });
await queue.admin.createTopic(TOPIC, 3);
const coordinator = await coord.create(coord.defaultConfig("development"), { logger });
const registration = await coordinator.registry.register({
  id: "worker-1",
  name: "orders",
  address: "127.0.0.1",
  port: 0,
});

const handled: number[] = [];
const subscription = await queue.consumer(GROUP).subscribe<number>([TOPIC], async (message) => {
  await sleep(2); // a message is in flight when SIGTERM comes
  handled.push(message.value);
});

const handlers = health.handlers({ checks: { mq: queue, coord: coordinator } });
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
  const path = new URL(request.url).pathname;
  return path === "/readyz" ? handlers.readyz(request) : handlers.healthz(request);
});

const producer = queue.producer();
const stop = health.onShutdown({
  handlers,
  registrations: [registration],
  server,
  subscriptions: [subscription],
  producers: [producer],
  providers: [queue, coordinator],
  logger,
  timeoutMs: 5000,
});

const acknowledged: number[] = [];
let failed = 0;
let next = 0;
const loops = Array.from({ length: PRODUCERS }, async () => {
  while (!stop.signal.aborted) {
    const seq = ++next;
    try {
      await producer.sendSync({ topic: TOPIC, value: seq });
      await sleep(1); // paced load: the event loop keeps serving timers and signals
      acknowledged.push(seq);
    } catch {
      failed++;
    }
  }
});

console.log(JSON.stringify({ port: server.addr.port }));
const report = await stop.done;
await Promise.all(loops);
const pending = mode === "memory" ? await drain(300) : null;
console.log(
  JSON.stringify({ result: { acknowledged, handled, pending, failed, report } }),
);
Deno.exit(report.ok ? 0 : 1);
