/**
 * A consumer process for the Redis mq test: joins group "workers" on the topic, prints
 * "holding" once it owns every partition, then hangs on the first message until killed.
 */
import * as mq from "../../../mq/mod.ts";
import { redisMq } from "../mod.ts";

const [url, topic] = Deno.args;
const queue = await mq.create(mq.defaultConfig("development"), {
  driver: redisMq({ url, sessionTimeoutMs: 1500, heartbeatMs: 300 }),
});
const subscription = await queue.consumer("workers").subscribe<string>([topic], async (message) => {
  console.log(`got ${message.value}`);
  await new Promise(() => {}); // never acknowledged: the process is killed here
});
while (subscription.assigned().length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
console.log("holding");
