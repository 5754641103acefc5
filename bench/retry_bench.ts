/**
 * retry.do beside cockatiel's retry policy, the anchor: the hot path (the
 * first attempt succeeds) and one failure then success with no delay.
 *
 * Each iteration runs 1,000 awaited calls, so the harness's own cost of
 * calling an async bench function is spread over them: divide by 1,000.
 *
 * Run: deno bench --allow-all bench/retry_bench.ts
 */
import { ConstantBackoff, ExponentialBackoff, handleAll, retry as cockatiel } from "cockatiel";
import * as retry from "../retry/mod.ts";

const batch = 1_000;
const ok = () => Promise.resolve(1);
const kitPolicy: retry.Policy = { maxRetries: 3, backoff: retry.exponential(100, 2) };
const anchorPolicy = cockatiel(handleAll, {
  maxAttempts: 3,
  backoff: new ExponentialBackoff({ initialDelay: 100 }),
});

Deno.bench("kit: 1,000 × retry.do, first attempt succeeds", {
  group: "success",
  baseline: true,
}, async () => {
  for (let n = 0; n < batch; n++) await retry.do(ok, kitPolicy);
});
Deno.bench("cockatiel: 1,000 × retry policy execute, first attempt succeeds", {
  group: "success",
}, async () => {
  for (let n = 0; n < batch; n++) await anchorPolicy.execute(ok);
});

let flip = 0;
const failEveryOther = () => (flip++ % 2 === 0 ? Promise.reject(new Error("once")) : ok());
const kitRetrying: retry.Policy = { maxRetries: 3, backoff: retry.constant(0), jitter: "none" };
const anchorRetrying = cockatiel(handleAll, {
  maxAttempts: 3,
  backoff: new ConstantBackoff(0),
});

Deno.bench("kit: 100 × retry.do, one failure then success (0 ms backoff)", {
  group: "one retry",
  baseline: true,
}, async () => {
  for (let n = 0; n < 100; n++) await retry.do(failEveryOther, kitRetrying);
});
Deno.bench("cockatiel: 100 × execute, one failure then success (0 ms backoff)", {
  group: "one retry",
}, async () => {
  for (let n = 0; n < 100; n++) await anchorRetrying.execute(failEveryOther);
});
