/**
 * The behaviour every once driver must show, as `Deno.test` cases, with two
 * providers (two instances) on one backend.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { onceConformance } from "@gochat/kit/once/conformance";
 * import { redisOnce } from "@gochat/kit/drivers/redis";
 *
 * onceConformance({ name: "redis", makeDriver: () => redisOnce({ url }) });
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../testing/keyspace.ts";
import { capturingLogger } from "../testing/logger.ts";
import * as once from "./mod.ts";

/** How to run the suite against one driver. */
export interface OnceSuiteOptions {
  /** Driver name for test names (`[redis] …`). */
  readonly name: string;
  /** A new client of the shared backend; one per provider. */
  makeDriver(): once.OnceDriver;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

/** A promise that resolves once `mark` is called: "fn has started". */
function started(): { promise: Promise<void>; mark: () => void } {
  let mark!: () => void;
  const promise = new Promise<void>((resolve) => (mark = resolve));
  return { promise, mark };
}

/**
 * Registers the once conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function onceConformance(options: OnceSuiteOptions): void {
  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${options.name}] once: ${title}`, ignore: options.ignore, fn });

  const pair = async (config: Partial<once.OnceConfig> = {}) => {
    const full = {
      ...once.defaultConfig("development"),
      keyPrefix: testKeyspace("once"),
      ...config,
    };
    const a = await once.create(full, { driver: options.makeDriver() });
    const b = await once.create(full, { driver: options.makeDriver() });
    return {
      a,
      b,
      /** Where the driver keeps a key `k` of these providers: `{keyPrefix}once:k`. */
      prefix: `${full.keyPrefix}once:`,
      async [Symbol.asyncDispose]() {
        await a.close();
        await b.close();
      },
    };
  };

  /** The stored payload of a finished key, as another service reading the backend sees it. */
  const storedPayload = async (key: string): Promise<string> => {
    const driver = options.makeDriver();
    try {
      const state = await driver.begin(key, crypto.randomUUID(), "", 1000);
      assert.equal(state.state, "done");
      return (state as { outcome: once.OnceOutcome }).outcome.payload;
    } finally {
      await driver.close();
    }
  };

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await once.create(
      { ...once.defaultConfig("development"), keyPrefix: testKeyspace("once ping") },
      { driver: options.makeDriver() },
    );
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), once.DriverError);
  });

  test("results: a bigint is stored as a JSON integer with all its digits and replayed exactly, nested too", async () => {
    await using env = await pair();
    const result = {
      id: 1234567890123456789n, // a Snowflake id, beyond 2^53
      ids: [2n ** 63n - 1n, -(2n ** 63n), 5n],
      page: { next: 9007199254740993n },
    };
    assert.deepEqual(await env.a.execute("order", 60_000, () => Promise.resolve(result)), result);
    // A bigint within ±(2^53 − 1) comes back as a number: JSON text cannot tell the two apart.
    const replayed = { ...result, ids: [2n ** 63n - 1n, -(2n ** 63n), 5] };
    assert.deepEqual(
      await env.b.execute("order", 60_000, () => Promise.reject(new Error("ran twice"))),
      replayed,
    );
    assert.equal(
      await storedPayload(`${env.prefix}order`),
      `{"id":1234567890123456789,"ids":[9223372036854775807,-9223372036854775808,5],"page":{"next":9007199254740993}}`,
    );
    assert.equal(await env.a.execute("id", 60_000, () => Promise.resolve(2n ** 60n)), 2n ** 60n);
    assert.equal(await env.b.execute("id", 60_000, () => Promise.resolve(0n)), 2n ** 60n);
    assert.equal(await storedPayload(`${env.prefix}id`), "1152921504606846976");
  });

  test("results: a serializer given to create encodes and decodes every result; its output must be well-formed", async () => {
    const keyPrefix = testKeyspace("once serializer");
    const serializer: once.Serializer = {
      encode: (value) => `v1:${JSON.stringify(value)}`,
      decode: (text) => {
        assert.ok(text.startsWith("v1:"), text);
        return JSON.parse(text.slice(3));
      },
    };
    const config = { ...once.defaultConfig("development"), keyPrefix };
    await using a = await once.create(config, { driver: options.makeDriver(), serializer });
    await using b = await once.create(config, { driver: options.makeDriver(), serializer });
    assert.deepEqual(await a.execute("k", 60_000, () => Promise.resolve({ n: 1 })), { n: 1 });
    assert.deepEqual(await b.execute("k", 60_000, () => Promise.resolve({ n: 2 })), { n: 1 });
    assert.equal(await storedPayload(`${keyPrefix}once:k`), `v1:{"n":1}`);
    assert.equal(await a.do("d", 60_000, () => Promise.resolve()), true);
    assert.equal(
      await storedPayload(`${keyPrefix}once:d`),
      "v1:null",
      "undefined is stored as null",
    );
    await using broken = await once.create(config, {
      driver: options.makeDriver(),
      serializer: { encode: () => "\ud800", decode: (text) => text },
    });
    await assert.rejects(
      broken.execute("bad", 60_000, () => Promise.resolve(1)),
      /must be well-formed Unicode/,
    );
    await assert.rejects(
      once.create(config, {
        driver: options.makeDriver(),
        serializer: { decode: () => 1 } as unknown as once.Serializer,
      }),
      (e: Error) => e instanceof TypeError && /'serializer' must have/.test(e.message),
    );
  });

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

  test("bad input gets a clear error and leaves the key free", async () => {
    await using env = await pair();
    await assert.rejects(
      env.a.execute("", 1000, () => Promise.resolve(1)),
      /'key' must be a non-empty, well-formed Unicode string/,
    );
    // Lone surrogates: Redis would store both as the same U+FFFD key.
    for (const key of ["x\ud800", "x\udc00"]) {
      await assert.rejects(
        env.a.execute(key, 1000, () => Promise.resolve(1)),
        /'key' must be a non-empty, well-formed Unicode string/,
      );
    }
    await assert.rejects(
      env.a.execute("k", 0, () => Promise.resolve(1)),
      /'ttlMs' must be a positive integer/,
    );
    await assert.rejects(
      env.a.execute("k", 1000, () => Promise.resolve({ m: new Map() })),
      /value.m is a Map/,
    );
    assert.equal(
      await env.b.execute("k", 1000, () => Promise.resolve("fine")),
      "fine",
      "the key was freed",
    );
  });

  /**
   * A provider whose lock renewals never reach the backend (a partition, a long pause), so its
   * in-progress lock expires there while `fn` runs, and a second provider on the same backend.
   */
  const partitioned = async (config: Partial<once.OnceConfig> = {}) => {
    const full = {
      ...once.defaultConfig("development"),
      keyPrefix: testKeyspace("once lost"),
      lockTtlMs: 200,
      ...config,
    };
    const { logger } = capturingLogger();
    const inner = options.makeDriver();
    const cut: once.OnceDriver = {
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
  };

  test("a caller whose lock was lost while another stored its result gets that result, not its own", async () => {
    await using env = await partitioned();
    const lost = await env.lose("charge");
    assert.equal(await env.b.execute("charge", 60_000, () => Promise.resolve("B")), "B");
    lost.release();
    assert.equal(await lost.result, "B", "one key, one result");
    assert.equal(await env.b.execute("charge", 60_000, () => Promise.resolve("C")), "B");
  });

  test("a caller whose lock expired with nobody else running the key stores its own result", async () => {
    await using env = await partitioned();
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
    await using env = await partitioned();
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
