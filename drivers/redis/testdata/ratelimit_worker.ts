/** A second process for the Redis rate-limit test: allow() in a loop for 3 s, prints how many passed. */
import * as ratelimit from "../../../ratelimit/mod.ts";
import { redisRateLimit } from "../mod.ts";

const [url, key, startAt] = Deno.args;
const limiter = await ratelimit.create({
  ...ratelimit.defaultConfig("production"),
  keyPrefix: "",
  rules: { r: { rate: 100, burst: 10 } },
}, { driver: redisRateLimit({ url }) });
await new Promise((resolve) => setTimeout(resolve, Number(startAt) - Date.now()));
let allowed = 0;
while (Date.now() < Number(startAt) + 3000) {
  if ((await limiter.allow(key, "r")).allowed) allowed++;
  await new Promise((resolve) => setTimeout(resolve, 1));
}
console.log(allowed);
await limiter.close();
