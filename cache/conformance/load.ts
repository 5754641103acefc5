/**
 * Cache conformance: `getOrLoad`: one load for concurrent callers, signals, expiry, stale values and early refresh.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the `getOrLoad` cases: one load for concurrent callers on two
 * providers, a caller's signal, expiry, stale values and early refresh.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function loadCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("getOrLoad: concurrent callers on two providers run the loader once and share its result", async () => {
    await using env = await pair("load once");
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 80));
      return { loaded: calls };
    };
    const results = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) =>
          (i % 2 ? env.a : env.b).getOrLoad("k", loader, { ttlMs: 10_000, earlyRefresh: false }),
      ),
    );
    assert.equal(calls, 1);
    for (const result of results) assert.deepEqual(result, { loaded: 1 });
    assert.deepEqual(await env.a.getOrLoad("k", loader, { ttlMs: 10_000, earlyRefresh: false }), {
      loaded: 1,
    });
    assert.equal(calls, 1);
  });

  test("getOrLoad: a caller's signal ends its wait while the load goes on for the others", async () => {
    await using env = await pair("load abort");
    let release!: (value: string) => void;
    let loading!: () => void;
    const loaderStarted = new Promise<void>((resolve) => (loading = resolve));
    const loader = () => {
      loading();
      return new Promise<string>((resolve) => (release = resolve));
    };
    const first = env.a.getOrLoad("k", loader, { ttlMs: 10_000, earlyRefresh: false });
    const controller = new AbortController();
    const impatient = env.a.getOrLoad("k", loader, {
      ttlMs: 10_000,
      earlyRefresh: false,
      signal: controller.signal,
    });
    await loaderStarted;
    controller.abort(new Error("deadline passed"));
    await assert.rejects(impatient, /deadline passed/);
    release("loaded");
    assert.equal(await first, "loaded");
    assert.equal(
      await env.b.getOrLoad("k", () => Promise.resolve("again"), { ttlMs: 10_000 }),
      "loaded",
      "the load filled the cache",
    );
    await assert.rejects(
      env.a.getOrLoad("k", loader, { ttlMs: 10_000, signal: controller.signal }),
      /deadline passed/,
      "an already aborted signal does not even read",
    );
  });

  test("getOrLoad: reloads after expiry, serves stale within grace when the loader fails, refreshes early", async () => {
    await using env = await pair("load stale");
    let value = 1;
    let fail = false;
    const loader = () => fail ? Promise.reject(new Error("db down")) : Promise.resolve(value);
    assert.equal(
      await env.a.getOrLoad("k", loader, { ttlMs: 100, staleMs: 5000, earlyRefresh: false }),
      1,
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    fail = true;
    assert.equal(
      await env.b.getOrLoad("k", loader, { ttlMs: 100, staleMs: 5000, earlyRefresh: false }),
      1,
      "stale",
    );
    assert.ok(env.logs.records.some((r) => r.msg.includes("serving the stale value")));
    await assert.rejects(
      env.b.getOrLoad("k2", loader, { ttlMs: 100 }),
      /db down/,
      "nothing stale to serve",
    );
    fail = false;
    value = 2;
    assert.equal(
      await env.b.getOrLoad("k", loader, { ttlMs: 60_000, staleMs: 5000, earlyRefresh: false }),
      2,
    );
    value = 3;
    // A huge beta makes XFetch refresh on every read: the read returns the current value at once.
    assert.equal(
      await env.a.getOrLoad("k", loader, { ttlMs: 60_000, earlyRefresh: { beta: 1e12 } }),
      2,
    );
    await eventually(async () =>
      assert.equal(await env.b.getOrLoad("k", loader, { ttlMs: 60_000, earlyRefresh: false }), 3)
    );
  });
}
