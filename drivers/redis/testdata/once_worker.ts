/** A process for the Redis once race: runs `execute` on one key at a shared start time, prints the outcome. */
import * as once from "../../../once/mod.ts";
import { redisOnce } from "../mod.ts";

const [url, prefix, startAt] = Deno.args;
const provider = await once.create({ ...once.defaultConfig("production"), keyPrefix: prefix }, {
  driver: redisOnce({ url }),
});
await new Promise((resolve) => setTimeout(resolve, Number(startAt) - Date.now()));
let ran = false;
const value = await provider.execute("race", 60_000, async () => {
  ran = true;
  await new Promise((resolve) => setTimeout(resolve, 200));
  return { pid: Deno.pid, at: Date.now() };
});
console.log(JSON.stringify({ ran, value }));
await provider.close();
