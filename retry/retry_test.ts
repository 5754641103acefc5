import assert from "node:assert/strict";
import { FakeClock } from "../testing/clock.ts";
import * as retry from "./mod.ts";

/** An operation that fails `failures` times, then returns "ok"; records each attempt. */
function flaky(failures: number) {
  const attempts: retry.Attempt[] = [];
  const errors: Error[] = [];
  const fn = (attempt: retry.Attempt) => {
    attempts.push(attempt);
    if (attempts.length <= failures) {
      const error = new Error(`failure ${attempts.length}`);
      errors.push(error);
      return Promise.reject(error);
    }
    return Promise.resolve("ok");
  };
  return { fn, attempts, errors };
}

Deno.test("retries failures with the backoff's delays until the operation succeeds", async () => {
  const { fn, attempts } = flaky(2);
  const events: retry.RetryEvent[] = [];
  const value = await retry.do(fn, {
    maxRetries: 3,
    backoff: retry.constant(1),
    jitter: "none",
    onRetry: (event) => events.push(event),
  });
  assert.equal(value, "ok");
  assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3]);
  assert.deepEqual(events.map((e) => [e.attempt, e.delayMs, (e.error as Error).message]), [
    [1, 1, "failure 1"],
    [2, 1, "failure 2"],
  ]);
});

Deno.test("when the retries run out, the last error is thrown as it was", async () => {
  const { fn, attempts, errors } = flaky(10);
  await assert.rejects(
    retry.do(fn, { maxRetries: 2, backoff: retry.constant(0) }),
    (error) => error === errors[2],
  );
  assert.equal(attempts.length, 3);
  const once = flaky(10);
  await assert.rejects(retry.do(once.fn, { maxRetries: 0 }), /failure 1/);
  assert.equal(once.attempts.length, 1, "maxRetries 0 makes one attempt");
});

Deno.test("a synchronous result or throw is handled like a promise", async () => {
  assert.equal(await retry.do(() => 7), 7);
  let calls = 0;
  const value = await retry.do(() => {
    if (++calls === 1) throw new Error("sync");
    return "second";
  }, { backoff: retry.constant(0) });
  assert.equal(value, "second");
});

Deno.test("exponential backoff grows by the multiplier up to its cap", () => {
  const backoff = retry.exponential(100, 2, 500);
  assert.deepEqual([1, 2, 3, 4, 5].map(backoff), [100, 200, 400, 500, 500]);
  assert.deepEqual([1, 2].map(retry.constant(30)), [30, 30]);
  assert.equal(retry.exponential(0, 10)(400), 0, "a zero start stays zero when m ** n overflows");
});

Deno.test("jitter spreads the delay: full from 0, equal from half, none not at all", async () => {
  const delays = async (jitter: retry.Policy["jitter"]) => {
    const seen: number[] = [];
    await retry.do(flaky(1).fn, {
      backoff: retry.constant(10),
      jitter,
      random: () => 0.25,
      onRetry: (event) => seen.push(event.delayMs),
    });
    return seen[0];
  };
  assert.equal(await delays("full"), 2.5);
  assert.equal(await delays(true), 2.5);
  assert.equal(await delays(undefined), 2.5, "full by default");
  assert.equal(await delays("equal"), 6.25);
  assert.equal(await delays("none"), 10);
  assert.equal(await delays(false), 10);
});

Deno.test("retryIf and permanent() stop retrying at once", async () => {
  const { fn, attempts, errors } = flaky(10);
  const asked: number[] = [];
  await assert.rejects(
    retry.do(fn, {
      backoff: retry.constant(0),
      retryIf: (error, attempt) => {
        asked.push(attempt);
        return (error as Error).message !== "failure 2";
      },
    }),
    (error) => error === errors[1],
  );
  assert.equal(attempts.length, 2);
  assert.deepEqual(asked, [1, 2]);

  const cause = new TypeError("bad request");
  let calls = 0;
  await assert.rejects(
    retry.do(() => {
      calls++;
      throw retry.permanent(cause);
    }, { backoff: retry.constant(0) }),
    (error) => error === cause,
  );
  assert.equal(calls, 1);
});

Deno.test("maxElapsedMs: a retry whose wait would end past the limit is not started", async () => {
  const clock = new FakeClock(1_000);
  let calls = 0;
  await assert.rejects(
    retry.do(() => {
      calls++;
      clock.advance(40); // each attempt takes 40 ms
      throw new Error(`slow ${calls}`);
    }, {
      maxRetries: 10,
      backoff: retry.constant(15),
      jitter: "none",
      maxElapsedMs: 120,
      clock,
    }),
    // Failures at 40, 80 and 120 ms: the waits would end at 55, 95 and 135; the third is past 120.
    /slow 3/,
  );
  assert.equal(calls, 3);
});

Deno.test("the caller's signal: refused once aborted, and an abort ends an attempt or a wait at once", async () => {
  const gone = new AbortController();
  gone.abort(new Error("caller left"));
  let calls = 0;
  await assert.rejects(retry.do(() => calls++, {}, { signal: gone.signal }), /caller left/);
  assert.equal(calls, 0, "nothing runs once aborted");

  // Abort during the wait before a retry: a 10 s backoff ends at once.
  const waiting = new AbortController();
  const started = Date.now();
  const during = retry.do(
    () => {
      setTimeout(() => waiting.abort(new Error("deadline")), 10);
      throw new Error("down");
    },
    { backoff: retry.constant(10_000), jitter: "none" },
    { signal: waiting.signal },
  );
  await assert.rejects(during, /deadline/);
  assert.ok(Date.now() - started < 5_000, "did not sleep out the backoff");

  // Abort during an attempt: the call ends at once and the attempt sees its signal aborted.
  const running = new AbortController();
  let seen: AbortSignal | undefined;
  let release!: () => void;
  const hanging = retry.do(
    ({ signal }) => {
      seen = signal;
      return new Promise<void>((resolve) => (release = resolve));
    },
    {},
    { signal: running.signal },
  );
  running.abort(new Error("request over"));
  await assert.rejects(hanging, /request over/);
  assert.equal(seen?.aborted, true);
  release();
});

Deno.test("a retry budget bounds retries to a share of calls plus a reserve, over a sliding window", () => {
  const clock = new FakeClock(0);
  const budget = retry.budget({ ratio: 0.5, minPerSecond: 0, windowMs: 1_000, clock });
  assert.equal(budget.available, 0);
  assert.equal(budget.tryWithdraw(), false, "no calls, no reserve: no retry");
  for (let i = 0; i < 4; i++) budget.deposit();
  assert.equal(budget.available, 2);
  assert.equal(budget.tryWithdraw(), true);
  assert.equal(budget.tryWithdraw(), true);
  assert.equal(budget.tryWithdraw(), false);
  clock.advance(500);
  for (let i = 0; i < 2; i++) budget.deposit(); // 6 calls and 2 retries in the window
  assert.equal(budget.available, 1);
  clock.advance(550); // the first 100 ms bucket (4 calls, 2 retries) has left the window
  assert.equal(budget.available, 1, "2 calls × 0.5");
  clock.advance(1_000);
  assert.equal(budget.available, 0, "everything has left the window");

  const reserve = retry.budget({ ratio: 0, minPerSecond: 2, windowMs: 1_000, clock });
  assert.equal(reserve.available, 2, "2 a second, whatever the traffic");
});

Deno.test("retries share the budget: once it is spent, failing calls stop retrying", async () => {
  const budget = retry.budget({ ratio: 0, minPerSecond: 0.1, windowMs: 10_000 }); // one retry
  const policy: retry.Policy = { maxRetries: 3, backoff: retry.constant(0), budget };
  const first = flaky(10);
  await assert.rejects(retry.do(first.fn, policy), /failure 2/);
  assert.equal(first.attempts.length, 2, "the one retry in the budget");
  const second = flaky(10);
  await assert.rejects(retry.do(second.fn, policy), /failure 1/);
  assert.equal(second.attempts.length, 1, "no retry left");
});

Deno.test("bad input gets a clear error naming the problem", async () => {
  const ok = () => 1;
  await assert.rejects(retry.do(ok, null as unknown as retry.Policy), /'policy' must be an object/);
  await assert.rejects(retry.do(ok, { maxRetries: -1 }), /'maxRetries' must be a non-negative/);
  await assert.rejects(retry.do(ok, { maxRetries: 1.5 }), /'maxRetries'/);
  await assert.rejects(
    retry.do(ok, { jitter: "sometimes" as retry.Jitter }),
    /'jitter' must be "full", "equal", "none" or a boolean/,
  );
  await assert.rejects(
    retry.do(ok, { backoff: 100 as unknown as retry.Backoff }),
    /'backoff' must be a function/,
  );
  await assert.rejects(retry.do(ok, { maxElapsedMs: -5 }), /'maxElapsedMs'/);
  await assert.rejects(
    retry.do(ok, { budget: {} as retry.RetryBudget }),
    /'budget' must come from retry.budget\(\)/,
  );
  await assert.rejects(
    retry.do("nope" as unknown as () => number),
    /'fn' must be a function/,
  );
  await assert.rejects(
    retry.do(ok, {}, { signal: "soon" as unknown as AbortSignal }),
    /'signal' must be an AbortSignal/,
  );
  assert.throws(() => retry.exponential(-1), /'initialMs'/);
  assert.throws(() => retry.exponential(100, 0.5), /'multiplier'.*at least 1/);
  assert.throws(() => retry.exponential(100, 2, 50), /'maxMs'.*from 100 to/);
  assert.throws(() => retry.constant(NaN), /'delayMs'/);
  assert.throws(
    () => retry.constant(3e9),
    /'delayMs'.*to 2147483647/,
    "setTimeout would fire at once",
  );
  assert.throws(() => retry.exponential(100, 2, 3e9), /'maxMs'.*to 2147483647/);
  await assert.rejects(
    retry.do(() => Promise.reject(new Error("down")), { backoff: () => NaN }),
    /'backoff' returned NaN ms for retry 1/,
  );
  assert.throws(() => retry.budget({ ratio: -0.1 }), /'ratio'/);
  assert.throws(() => retry.budget({ windowMs: 5 }), /'windowMs'/);
});

Deno.test("an attempt gets one Call, { attempt, signal }, whose signal aborts when the caller's does", async () => {
  const calls: retry.Attempt[] = [];
  await retry.do((call) => void calls.push(call));
  assert.deepEqual(Object.keys(calls[0]).sort(), ["attempt", "signal"]);
  assert.equal(calls[0].signal.aborted, false, "no caller's signal: one that never aborts");
  const caller = new AbortController();
  const running = retry.do(
    (call: retry.Call) => {
      calls.push(call as retry.Attempt);
      return new Promise<never>((_, reject) =>
        call.signal.addEventListener("abort", () => reject(call.signal.reason), { once: true })
      );
    },
    {},
    { signal: caller.signal },
  );
  caller.abort(new Error("caller left"));
  await assert.rejects(running, /caller left/);
  assert.equal(calls[1].signal.aborted, true);
  assert.equal(calls[1].signal.reason.message, "caller left");
});
