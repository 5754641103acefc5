/**
 * A consumer process for the NATS mq test: joins group "workers" on the topic, prints "holding"
 * once it owns a partition, then handles messages slowly, printing "done <n>" after each handler
 * resolved, until it is killed.
 */
import * as mq from "../../../mq/mod.ts";
import { natsMq } from "../mod.ts";

const [servers, topic] = Deno.args;
const queue = await mq.create(mq.defaultConfig("development"), {
  driver: natsMq({ servers, sessionTimeoutMs: 1500, heartbeatMs: 300 }),
});
const subscription = await queue.consumer("workers").subscribe<number>([topic], async (message) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  console.log(`done ${message.value}`);
});
while (subscription.assigned().length === 0) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log("holding");
