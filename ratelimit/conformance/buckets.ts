/**
 * Rate-limit conformance: buckets: burst and rate per algorithm, weighted cost, sharing and algorithm switches.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import type { RateLimitSuiteContext } from "./_context.ts";

/**
 * Registers the bucket cases: burst then rate for each algorithm, weighted
 * cost, one bucket shared by two limiters, and an algorithm switch.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function bucketCases(context: RateLimitSuiteContext): void {
  const { test, limiter } = context;

  for (const algorithm of ["token-bucket", "gcra"] as const) {
    test(`${algorithm}: the burst passes at once, then the rate; a rejection consumes nothing`, async () => {
      await using a = await limiter({ r: { algorithm, rate: 10, burst: 5 } });
      const key = testKeyspace(algorithm);
      for (let i = 0; i < 5; i++) {
        assert.equal((await a.allow(key, "r")).allowed, true, `request ${i + 1}`);
      }
      const denied = await a.allow(key, "r");
      assert.equal(denied.allowed, false);
      assert.ok(
        denied.retryAfterMs > 0 && denied.retryAfterMs <= 100,
        `retryAfterMs ${denied.retryAfterMs}`,
      );
      assert.equal(denied.limit, 5);
      for (let i = 0; i < 5; i++) {
        assert.equal((await a.allow(key, "r")).allowed, false, "rejections take nothing");
      }
      const waitedFrom = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 130));
      let regained = 0;
      for (let i = 0; i < 5; i++) if ((await a.allow(key, "r")).allowed) regained++;
      const elapsedMs = Date.now() - waitedFrom;
      // One token per 100 ms: at least one after 130 ms, and never more than the time allows.
      assert.ok(regained >= 1, "a token came back");
      assert.ok(regained <= Math.ceil(elapsedMs / 100), `${regained} tokens after ${elapsedMs} ms`);
    });
  }

  test("weighted cost: allowN takes n units or nothing", async () => {
    await using a = await limiter({ r: { rate: 1, burst: 10 } });
    const key = testKeyspace("weighted");
    const first = await a.allowN(key, "r", 7);
    assert.equal(first.allowed, true);
    assert.equal(first.remaining, 3);
    assert.equal((await a.allowN(key, "r", 7)).allowed, false);
    assert.equal((await a.allowN(key, "r", 3)).allowed, true, "the rejected 7 took nothing");
    assert.equal((await a.allowN(key, "r", 11)).allowed, false, "more than the burst never passes");
  });

  test("two limiters share one bucket: 100/s with burst 10 over 3 s allow about 310", async () => {
    await using a = await limiter({ r: { rate: 100, burst: 10 } });
    await using b = await limiter({ r: { rate: 100, burst: 10 } });
    const key = testKeyspace("shared");
    let allowed = 0;
    const deadline = Date.now() + 3000;
    await Promise.all([a, b].map(async (provider) => {
      while (Date.now() < deadline) {
        if ((await provider.allow(key, "r")).allowed) allowed++;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }));
    assert.ok(Math.abs(allowed - 310) <= 310 * 0.05, `allowed ${allowed}, expected 310 ± 5%`);
  });

  test("a rule switched to the other algorithm (a reload) keeps the key's state: the same limit", async () => {
    const key = testKeyspace("switch");
    {
      await using a = await limiter({ r: { rate: 1, burst: 2 } });
      assert.equal((await a.allowN(key, "r", 2)).allowed, true);
      assert.equal((await a.allow(key, "r")).allowed, false);
    }
    await using b = await limiter({ r: { algorithm: "gcra", rate: 1, burst: 2 } });
    const after = await b.allow(key, "r");
    assert.equal(after.allowed, false, "still empty under gcra");
    assert.ok(after.retryAfterMs > 0 && after.retryAfterMs <= 1000, `retry ${after.retryAfterMs}`);
  });
}
