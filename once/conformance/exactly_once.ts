/**
 * Once conformance: exactly-once runs across providers, TTLs, failures and conflicts.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as once from "../mod.ts";
import { type OnceSuiteContext, started } from "./_context.ts";

/**
 * Registers the exactly-once cases: concurrent callers on two providers, runs
 * per TTL, failures, payload conflicts and `wait: false`.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function exactlyOnceCases(context: OnceSuiteContext): void {
  const { test, pair } = context;

  test("many concurrent callers on two providers run fn exactly once and all get its result", async () => {
    await using env = await pair();
    let runs = 0;
    const fn = async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { charge: "ch_1", amount: 42 };
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? env.a : env.b).execute("pay", 60_000, fn)),
    );
    assert.equal(runs, 1);
    for (const result of results) assert.deepEqual(result, { charge: "ch_1", amount: 42 });
    assert.deepEqual(await env.a.execute("pay", 60_000, fn), { charge: "ch_1", amount: 42 });
    assert.equal(runs, 1);
  });

  test("do runs once per key within its TTL, and again after it", async () => {
    await using env = await pair();
    let runs = 0;
    const fn = () => Promise.resolve(void runs++);
    assert.equal(await env.a.do("job", 200, fn), true);
    assert.equal(await env.b.do("job", 200, fn), false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await env.b.do("job", 200, fn), true);
    assert.equal(runs, 2);
  });

  test("a failure clears the key so a retry runs; with cacheFailures later callers get the failure", async () => {
    await using env = await pair();
    let attempts = 0;
    const flaky = () =>
      ++attempts === 1 ? Promise.reject(new Error("gateway timeout")) : Promise.resolve("done");
    await assert.rejects(env.a.execute("retry", 60_000, flaky), /gateway timeout/);
    assert.equal(await env.b.execute("retry", 60_000, flaky), "done");
    await using cached = await pair({ cacheFailures: true });
    await assert.rejects(
      cached.a.execute("fail", 60_000, () => Promise.reject(new Error("card declined"))),
      /card declined/,
    );
    await assert.rejects(
      cached.b.execute("fail", 60_000, () => Promise.resolve("never")),
      (error: Error) =>
        error instanceof once.OnceFailedError && /card declined/.test(error.message),
    );
  });

  test("the same key with another payload is a conflict; wait:false gets OnceInProgressError", async () => {
    await using env = await pair();
    await env.a.execute("order", 60_000, () => Promise.resolve(1), { fingerprint: "payload-A" });
    await assert.rejects(
      env.b.execute("order", 60_000, () => Promise.resolve(2), { fingerprint: "payload-B" }),
      once.OnceConflictError,
    );
    assert.equal(
      await env.b.execute("order", 60_000, () => Promise.resolve(2), { fingerprint: "payload-A" }),
      1,
    );
    let release!: () => void;
    const slow = started();
    const running = env.a.execute("slow", 60_000, () => {
      slow.mark();
      return new Promise<string>((resolve) => (release = () => resolve("ok")));
    });
    await slow.promise;
    await assert.rejects(
      env.b.execute("slow", 60_000, () => Promise.resolve("x"), { wait: false }),
      once.OnceInProgressError,
    );
    release();
    assert.equal(await running, "ok");
  });
}
