/**
 * Once conformance: signals of waiting callers and of runners.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type OnceSuiteContext, started } from "./_context.ts";

/**
 * Registers the signal case: a caller's signal ends its wait, a runner's reaches
 * `fn`, and its failure frees the key.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function signalCases(context: OnceSuiteContext): void {
  const { test, pair } = context;

  test("a caller's signal ends its wait; a runner's signal reaches fn and its failure frees the key", async () => {
    await using env = await pair();
    let release!: () => void;
    const first = started();
    const running = env.a.execute("waited", 60_000, () => {
      first.mark();
      return new Promise<string>((resolve) => (release = () => resolve("done")));
    });
    await first.promise;
    const waiter = new AbortController();
    const waiting = env.b.execute("waited", 60_000, () => Promise.resolve("never"), {
      signal: waiter.signal,
    });
    waiter.abort(new Error("caller gave up"));
    await assert.rejects(waiting, /caller gave up/);
    release();
    assert.equal(await running, "done", "the runner was not disturbed");
    assert.equal(await env.b.execute("waited", 60_000, () => Promise.resolve("never")), "done");

    const runner = new AbortController();
    const cancelled = started();
    const aborted = env.a.execute(
      "cancelled",
      60_000,
      ({ signal }) => {
        cancelled.mark();
        return new Promise<string>((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason), { once: true })
        );
      },
      { signal: runner.signal },
    );
    await cancelled.promise;
    runner.abort(new Error("request cancelled"));
    await assert.rejects(aborted, /request cancelled/);
    assert.equal(
      await env.b.execute("cancelled", 60_000, () => Promise.resolve("retried")),
      "retried",
      "the failed run left the key free",
    );
    const early = new AbortController();
    let ranEarly = false;
    const gone = env.a.execute("early", 60_000, () => Promise.resolve(ranEarly = true), {
      signal: early.signal,
    });
    early.abort(new Error("gone before the lock was taken"));
    await assert.rejects(gone, /gone before the lock was taken/);
    assert.equal(ranEarly, false, "fn never ran");
    assert.equal(await env.b.execute("early", 60_000, () => Promise.resolve(2)), 2, "key free");
    await assert.rejects(
      env.a.execute("x", 60_000, () => Promise.resolve(1), { signal: {} as AbortSignal }),
      /'signal' must be an AbortSignal/,
    );
  });
}
