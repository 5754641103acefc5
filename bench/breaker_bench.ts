/**
 * A closed breaker's `do` beside the two anchors, cockatiel's circuit breaker
 * policy and opossum (the most used Node breaker), on the path every call
 * takes while the dependency is healthy, and an open breaker rejecting.
 *
 * Each iteration runs 1,000 awaited calls, so the harness's own cost of
 * calling an async bench function is spread over them: divide by 1,000.
 *
 * Run: deno bench --allow-all bench/breaker_bench.ts
 */
import { circuitBreaker, ConsecutiveBreaker, handleAll } from "cockatiel";
// @ts-types="npm:@types/opossum@^8.1.9"
import CircuitBreaker from "opossum";
import { quietLogger } from "../testing/logger.ts";
import * as breaker from "../breaker/mod.ts";

const batch = 1_000;
const ok = () => Promise.resolve(1);
const down = () => Promise.reject(new Error("503"));
const breakers = await breaker.create({
  policies: { default: { consecutiveFailures: 5, openMs: 3_600_000 } },
}, { logger: quietLogger() });
const kit = breakers.get("bench");
const anchor = circuitBreaker(handleAll, {
  halfOpenAfter: 3_600_000,
  breaker: new ConsecutiveBreaker(5),
});

Deno.bench("kit: 1,000 × closed breaker do()", { group: "closed", baseline: true }, async () => {
  for (let n = 0; n < batch; n++) await kit.do(ok);
});
Deno.bench("cockatiel: 1,000 × closed circuitBreaker execute()", { group: "closed" }, async () => {
  for (let n = 0; n < batch; n++) await anchor.execute(ok);
});
// opossum wraps one action; no timeout (its default, 10 s, arms a timer per call), a rolling
// window of its defaults, and opening after 5 failures in a row is not its model: it opens at an
// error percentage with a volume threshold.
const opossumOptions = {
  timeout: false as const,
  resetTimeout: 3_600_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 5,
};
const opossum = new CircuitBreaker(ok, opossumOptions);
Deno.bench("opossum: 1,000 × closed breaker fire()", { group: "closed" }, async () => {
  for (let n = 0; n < batch; n++) await opossum.fire();
});

const kitOpen = breakers.get("open");
const anchorOpen = circuitBreaker(handleAll, {
  halfOpenAfter: 3_600_000,
  breaker: new ConsecutiveBreaker(5),
});
for (let n = 0; n < 5; n++) {
  await kitOpen.do(down).catch(() => {});
  await anchorOpen.execute(down).catch(() => {});
}
Deno.bench("kit: 1,000 × open breaker rejects", { group: "open", baseline: true }, async () => {
  for (let n = 0; n < batch; n++) await kitOpen.do(ok).catch(() => {});
});
Deno.bench("cockatiel: 1,000 × open circuitBreaker rejects", { group: "open" }, async () => {
  for (let n = 0; n < batch; n++) await anchorOpen.execute(ok).catch(() => {});
});
const opossumOpen = new CircuitBreaker(down, opossumOptions);
for (let n = 0; n < 5; n++) await opossumOpen.fire().catch(() => {});
if (!opossumOpen.opened) throw new Error("the opossum breaker did not open");
Deno.bench("opossum: 1,000 × open breaker rejects", { group: "open" }, async () => {
  for (let n = 0; n < batch; n++) await opossumOpen.fire().catch(() => {});
});

globalThis.addEventListener("unload", () => {
  opossum.shutdown();
  opossumOpen.shutdown();
});
