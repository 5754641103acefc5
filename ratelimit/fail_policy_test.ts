import assert from "node:assert/strict";
import { FakeClock } from "../testing/clock.ts";
import { capturingLogger } from "../testing/logger.ts";
import * as ratelimit from "./mod.ts";
import { decision } from "./driver.ts";
import type { RateLimitDriver } from "./driver.ts";

/**
 * A backend that holds every call until the test answers or fails it: a hung Redis whose
 * command timeout (or dropped connection) fails the calls waiting on it together.
 */
class HeldDriver implements RateLimitDriver {
  readonly name = "held";
  readonly pending: {
    readonly resolve: (decision: ratelimit.Decision) => void;
    readonly reject: (error: unknown) => void;
    readonly rule: Required<ratelimit.Rule>;
  }[] = [];

  take(
    _ruleName: string,
    _key: string,
    rule: Required<ratelimit.Rule>,
    _cost: number,
  ): Promise<ratelimit.Decision> {
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject, rule }));
  }

  /** Fails every held call, as a command timeout does. */
  failAll(): void {
    for (const call of this.pending.splice(0)) {
      call.reject(new ratelimit.DriverError("held", "take", new Error("Command timed out")));
    }
  }

  /** Answers the oldest held call: the backend allowed it. */
  answerOldest(): void {
    const call = this.pending.shift()!;
    call.resolve(decision(call.rule, 1, true, 0));
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.failAll();
    return Promise.resolve();
  }
}

async function heldLimiter(failPolicy: "open" | "closed", rule: ratelimit.Rule) {
  const clock = new FakeClock(1_700_000_000_000);
  const driver = new HeldDriver();
  const { logger, logs } = capturingLogger();
  const limiter = await ratelimit.create({
    ...ratelimit.defaultConfig("production"),
    rules: { r: rule },
    failPolicy,
  }, { driver, clock, logger });
  return { clock, driver, limiter, logs };
}

Deno.test("fail open admits the rule's rate through an outage whose timeouts fail calls in waves", async () => {
  // 200 requests/s against 50/s with burst 10, for 10 s; every second the calls waiting on the
  // backend time out together. Judged when they fail, each wave would get one burst (10/s).
  const { clock, driver, limiter } = await heldLimiter("open", { rate: 50, burst: 10 });
  await using _ = limiter;
  const seconds = 10;
  let allowed = 0;
  let wave: Promise<ratelimit.Decision>[] = [];
  for (let step = 1; step <= seconds * 200; step++) {
    clock.advance(5);
    wave.push(limiter.allow("k", "r"));
    if (step % 200 === 0) {
      driver.failAll();
      for (const decision of await Promise.all(wave)) if (decision.allowed) allowed++;
      wave = [];
    }
  }
  // Requests arrived from 5 ms to 10 s: the burst, then 50 per second.
  const limit = 10 + Math.floor(50 * (seconds * 1000 - 5) / 1000);
  assert.ok(allowed <= limit, `${allowed} allowed, more than the limit ${limit}`);
  assert.ok(allowed >= limit - 2, `${allowed} allowed, expected about ${limit}`);
});

Deno.test("during an outage calls are decided at once while one probe waits on the backend; its success ends the outage", async () => {
  for (const failPolicy of ["open", "closed"] as const) {
    const { driver, limiter, logs } = await heldLimiter(failPolicy, { rate: 1, burst: 2 });
    await using _ = limiter;
    const first = limiter.allow("k", "r");
    assert.equal(driver.pending.length, 1, "the first call goes to the backend");
    driver.failAll();
    assert.equal((await first).allowed, failPolicy === "open", `${failPolicy}: first`);

    const probe = limiter.allow("k", "r");
    assert.equal(driver.pending.length, 1, "the next call probes the backend");
    const during = [await limiter.allow("k", "r"), await limiter.allow("k", "r")];
    assert.equal(driver.pending.length, 1, "no other call waits on the backend");
    assert.deepEqual(
      during.map((decision) => decision.allowed),
      failPolicy === "open" ? [true, false] : [false, false],
      `${failPolicy}: the rescue limiter's burst of 2, first call included`,
    );

    driver.answerOldest();
    assert.equal((await probe).allowed, true, "the probe got the backend's answer");
    const after = limiter.allow("k", "r");
    assert.equal(driver.pending.length, 1, "calls go to the backend again");
    driver.answerOldest();
    assert.equal((await after).allowed, true);
    assert.deepEqual(
      logs.records.map((record) => record.msg),
      [
        `rate-limit backend unreachable; failing ${failPolicy}`,
        "rate-limit backend reachable again",
      ],
    );
  }
});

Deno.test("a probe that fails keeps the outage: the next call probes again", async () => {
  const { driver, limiter } = await heldLimiter("open", { rate: 1, burst: 5 });
  await using _ = limiter;
  const first = limiter.allow("k", "r");
  driver.failAll();
  await first;
  const probe = limiter.allow("k", "r");
  driver.failAll();
  assert.equal((await probe).allowed, true, "a failed probe gets the rescue decision");
  const next = limiter.allow("k", "r");
  assert.equal(driver.pending.length, 1, "the next call is the new probe");
  driver.answerOldest();
  assert.equal((await next).allowed, true);
});
