/**
 * The Redis reliability worker: an mq producer and a consumer group over Redis Streams in one
 * process. Each write sends the next number and resolves once Redis stored it; the group's handler
 * counts deliveries. Afterwards every acknowledged number must have been delivered (at least once).
 *
 * Usage: `deno run -A redis_worker.ts <redis url> <topic>`; see `_workload.ts` for the protocol.
 */
import { runWorkload, sleep } from "./_workload.ts";
import * as mq from "../../mq/mod.ts";
import { redisMq } from "../../drivers/redis/mod.ts";

const [url, topic] = Deno.args;

await runWorkload(async () => {
  const queue = await mq.create(mq.defaultConfig("production"), { driver: redisMq({ url }) });
  await queue.admin.createTopic(topic, 3);
  const deliveries = new Map<number, number>();
  const subscription = await queue.consumer("reliability").subscribe<number>([topic], (message) => {
    deliveries.set(message.value, (deliveries.get(message.value) ?? 0) + 1);
  });
  const producer = queue.producer();
  return {
    write: (seq) => producer.sendSync({ topic, value: seq }),
    async verify(acknowledged, failed) {
      // Delivery lags the sends: wait until every acknowledged message came, for at most 10 s.
      const undelivered = () => [...acknowledged].filter((seq) => !deliveries.has(seq)).length;
      const deadline = Date.now() + 10_000;
      while (undelivered() > 0 && Date.now() < deadline) await sleep(100);
      // A moment more for redeliveries and for failed sends that were stored all the same.
      await sleep(500);
      let duplicates = 0;
      for (const count of deliveries.values()) duplicates += count - 1;
      return {
        lost: undelivered(),
        duplicates,
        ambiguous: [...failed].filter((seq) => deliveries.has(seq)).length,
      };
    },
    async close() {
      await subscription.close();
      await queue.close();
    },
  };
});
