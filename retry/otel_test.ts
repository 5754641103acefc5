/** retry's OpenTelemetry span events, on the caller's span (an in-memory SDK registered). */
import assert from "node:assert/strict";
import { recordSpans } from "../testing/otel.ts";
import * as retry from "./mod.ts";

const failing = (times: number) => {
  let calls = 0;
  return () => {
    if (++calls <= times) return Promise.reject(new Error(`flaky ${calls}`));
    return Promise.resolve("ok");
  };
};

Deno.test("retry.do adds a retry event to the active span for each failed attempt it retries", async () => {
  using recorder = recordSpans();
  const job = recorder.startSpan("job");
  const value = await recorder.runIn(
    job,
    () => retry.do(failing(2), { maxRetries: 3, backoff: retry.constant(5), jitter: "none" }),
  );
  job.end();
  assert.equal(value, "ok");
  assert.deepEqual(job.events, [
    {
      name: "retry",
      attributes: { "retry.attempt": 1, "retry.delay_ms": 5, "exception.message": "flaky 1" },
    },
    {
      name: "retry",
      attributes: { "retry.attempt": 2, "retry.delay_ms": 5, "exception.message": "flaky 2" },
    },
  ]);
  assert.equal(recorder.spans.length, 1, "retry makes no span of its own");
});

Deno.test("retry.do adds retry.exhausted when it gives up after its last retry", async () => {
  using recorder = recordSpans();
  const job = recorder.startSpan("job");
  await assert.rejects(
    recorder.runIn(job, () => retry.do(failing(9), { maxRetries: 1, backoff: retry.constant(0) })),
    /flaky 2/,
  );
  job.end();
  assert.deepEqual(job.events.map((event) => event.name), ["retry", "retry.exhausted"]);
  assert.deepEqual(job.events[1].attributes, {
    "retry.reason": "max_retries",
    "retry.attempt": 2,
    "exception.message": "flaky 2",
  });
});

Deno.test("retry.exhausted says why the call gave up: retryIf, a permanent error, the time limit, the budget", async () => {
  using recorder = recordSpans();
  const reasonOf = async (fn: () => Promise<unknown>, policy: retry.Policy) => {
    const job = recorder.startSpan("job");
    await assert.rejects(recorder.runIn(job, () => retry.do(fn, policy)));
    job.end();
    assert.equal(job.events.length, 1, "no retry event before giving up");
    assert.equal(job.events[0].name, "retry.exhausted");
    assert.equal(job.events[0].attributes?.["exception.message"], "flaky 1");
    return job.events[0].attributes?.["retry.reason"];
  };
  assert.equal(await reasonOf(failing(9), { retryIf: () => false }), "not_retryable");
  assert.equal(
    await reasonOf(() => Promise.reject(retry.permanent(new Error("flaky 1"))), {}),
    "permanent",
  );
  assert.equal(
    await reasonOf(failing(9), {
      backoff: retry.constant(1_000),
      jitter: "none",
      maxElapsedMs: 10,
      clock: { now: () => 0 },
    }),
    "max_elapsed",
  );
  const spent = retry.budget({ ratio: 0, minPerSecond: 0 });
  assert.equal(await reasonOf(failing(9), { budget: spent }), "budget");
});
