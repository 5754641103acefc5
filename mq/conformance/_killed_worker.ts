/**
 * A consumer process for the mq suite's killed-process case: makes the driver named by its
 * arguments (`<module> <factory> <options JSON> <topic>`), joins group "workers", prints
 * "holding" once it owns a partition, then handles messages slowly, printing "done <n>" after
 * each handler resolved, until it is killed.
 *
 * @module
 */
import * as mq from "../mod.ts";
import type { MqDriver } from "../driver.ts";

const [module, factory, options, topic] = Deno.args;
const makeDriver = (await import(module))[factory] as (options: unknown) => MqDriver;
const queue = await mq.create(mq.defaultConfig("development"), {
  driver: makeDriver(JSON.parse(options)),
});
const subscription = await queue.consumer("workers").subscribe<number>([topic], async (message) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  console.log(`done ${message.value}`);
});
while (subscription.assigned().length === 0) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log("holding");
