/**
 * Cache conformance: a provider's `ping()` before and after `close()`, and its request metrics.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as metrics from "../../metrics/mod.ts";
import * as cache from "../mod.ts";
import { capturingLogger } from "../../testing/logger.ts";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the cases on a provider's life and what it reports: `ping()` before
 * and after `close()`, and the request metrics.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lifecycleCases(context: CacheSuiteContext): void {
  const { options, test } = context;

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await cache.create(
      { ...cache.defaultConfig("development"), keyPrefix: testKeyspace("ping") },
      { driver: await options.makeDriver(), logger: capturingLogger().logger },
    );
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), cache.DriverError);
  });

  test("with metrics, get hits and misses and getOrLoad outcomes are counted", async () => {
    await using registry = await metrics.create(metrics.defaultConfig("development"));
    const config = {
      ...cache.defaultConfig("development"),
      keyPrefix: testKeyspace("metrics"),
      loadLeaseMs: 2000,
    };
    await using c = await cache.create(config, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
      metrics: registry,
    });
    await c.string.set("k", "v");
    await c.string.get("k");
    await c.string.get("k");
    await c.string.get("absent");
    const load = () => Promise.resolve(7);
    await c.getOrLoad("loaded", load, { ttlMs: 10_000, earlyRefresh: false });
    await c.getOrLoad("loaded", load, { ttlMs: 10_000, earlyRefresh: false });
    await assert.rejects(
      c.getOrLoad("broken", () => Promise.reject(new Error("db down")), { ttlMs: 10_000 }),
      /db down/,
    );
    const count = (op: string, result: string) =>
      (registry.render() ?? "").match(
        new RegExp(`^cache_requests_total\\{op="${op}",result="${result}"\\} (\\d+)$`, "m"),
      )?.[1];
    assert.equal(count("get", "hit"), "2");
    assert.equal(count("get", "miss"), "1");
    assert.equal(count("getOrLoad", "loaded"), "1");
    assert.equal(count("getOrLoad", "hit"), "1");
    assert.equal(count("getOrLoad", "failed"), "1");
  });
}
