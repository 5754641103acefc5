/**
 * Once conformance: in-progress locks: renewal, crashed runners and locks lost mid-run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import { capturingLogger } from "../../testing/logger.ts";
import * as once from "../mod.ts";
import type { OnceDriver } from "../driver.ts";
import type { OnceSuiteOptions } from "../conformance.ts";
import { type OnceSuiteContext, started } from "./_context.ts";

/**
 * Registers the lock renewal case: a long run keeps its lock, a crashed runner's
 * key is runnable after the lock TTL.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lockCases(context: OnceSuiteContext): void {
  const { options, test, pair } = context;

  test("a long run keeps its lock renewed; a crashed runner's key is runnable after the lock TTL", async () => {
    await using env = await pair({ lockTtlMs: 500 });
    let runs = 0;
    let aborted = false;
    const long = env.a.execute("long", 60_000, async ({ signal }) => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 1500)); // three lock TTLs
      aborted = signal.aborted;
      return "long done";
    });
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(await env.b.execute("long", 60_000, () => Promise.resolve("second")), "long done");
    assert.equal(await long, "long done");
    assert.equal(runs, 1);
    assert.equal(aborted, false);

    // A runner that marked the key and died: nobody renews it.
    const crashed = options.makeDriver();
    const key = `${env.prefix}crashed`;
    assert.deepEqual(await crashed.begin(key, "dead-runner", "", 500), { state: "acquired" });
    await crashed.close();
    await assert.rejects(
      env.b.execute("crashed", 60_000, () => Promise.resolve("x"), { wait: false }),
      once.OnceInProgressError,
    );
    await new Promise((resolve) => setTimeout(resolve, 650));
    assert.equal(
      await env.b.execute("crashed", 60_000, () => Promise.resolve("recovered")),
      "recovered",
    );
  });
}

/**
 * Registers the lost-lock cases: a caller whose in-progress lock expired stores
 * or replays the right result, or waits for the current runner.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lostLockCases(context: OnceSuiteContext): void {
  const { options, test } = context;

  test("a caller whose lock was lost while another stored its result gets that result, not its own", async () => {
    await using env = await partitioned(options);
    const lost = await env.lose("charge");
    assert.equal(await env.b.execute("charge", 60_000, () => Promise.resolve("B")), "B");
    lost.release();
    assert.equal(await lost.result, "B", "one key, one result");
    assert.equal(await env.b.execute("charge", 60_000, () => Promise.resolve("C")), "B");
  });

  test("a caller whose lock expired with nobody else running the key stores its own result", async () => {
    await using env = await partitioned(options);
    const lost = await env.lose("alone");
    lost.release();
    assert.equal(await lost.result, "A");
    assert.equal(
      await env.b.execute("alone", 60_000, () => Promise.resolve("B")),
      "A",
      "later callers get the stored result, fn does not run again",
    );
  });

  test("a caller whose lock was lost while another runs the key waits for that result, or fails with wait:false", async () => {
    await using env = await partitioned(options);
    const lost = await env.lose("taken");
    let release!: () => void;
    const second = started();
    const running = env.b.execute("taken", 60_000, () => {
      second.mark();
      return new Promise<string>((resolve) => (release = () => resolve("B")));
    });
    await second.promise;
    lost.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    assert.equal(await running, "B");
    assert.equal(await lost.result, "B", "the lost caller waited for the key's result");

    const noWait = await env.lose("taken-nowait", { wait: false });
    const third = started();
    const runningToo = env.b.execute("taken-nowait", 60_000, () => {
      third.mark();
      return new Promise<string>((resolve) => (release = () => resolve("B")));
    });
    await third.promise;
    noWait.release();
    await assert.rejects(
      noWait.result,
      (error: Error) =>
        error instanceof once.OnceLockLostError && error.code === "ONCE_LOCK_LOST" &&
        error.key === "taken-nowait",
    );
    release();
    assert.equal(await runningToo, "B");
  });
}

/**
 * A provider whose lock renewals never reach the backend (a partition, a long pause), so its
 * in-progress lock expires there while `fn` runs, and a second provider on the same backend.
 */
async function partitioned(
  options: OnceSuiteOptions,
  config: Partial<once.OnceConfig> = {},
) {
  const full = {
    ...once.defaultConfig("development"),
    keyPrefix: testKeyspace("once lost"),
    lockTtlMs: 200,
    ...config,
  };
  const { logger } = capturingLogger();
  const inner = options.makeDriver();
  const cut: OnceDriver = {
    name: inner.name,
    begin: inner.begin.bind(inner),
    renew: () => Promise.reject(new once.DriverError(inner.name, "renew", "renewal dropped")),
    complete: inner.complete.bind(inner),
    abandon: inner.abandon.bind(inner),
    ping: inner.ping.bind(inner),
    close: inner.close.bind(inner),
  };
  const a = await once.create(full, { driver: cut, logger });
  const b = await once.create(full, { driver: options.makeDriver(), logger });
  /** Starts `fn` on `a`, returning "A" when released, after its lock expired (300 ms). */
  const lose = async (key: string, call: once.OnceCallOptions = {}) => {
    let release!: () => void;
    const running = started();
    const result = a.execute(key, 60_000, () => {
      running.mark();
      return new Promise<string>((resolve) => (release = () => resolve("A")));
    }, call);
    await running.promise;
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { result, release: () => release() };
  };
  return {
    a,
    b,
    lose,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
    },
  };
}
