import assert from "node:assert/strict";
import { onceConformance } from "./conformance.ts";
import * as metrics from "../metrics/mod.ts";
import * as once from "./mod.ts";
import { quietLogger } from "../testing/logger.ts";
import type { OnceDriver, OnceOutcome } from "./driver.ts";

const store = new once.MemoryOnceStore();
onceConformance({ name: "memory", makeDriver: () => once.memoryOnce({ store }) });

Deno.test("when the in-progress lock is lost, fn's signal fires", async () => {
  const inner = once.memoryOnce();
  // A backend that stops confirming renewals, as after an expiry during a long pause.
  const driver: OnceDriver = {
    ...inner,
    name: "memory",
    begin: inner.begin.bind(inner),
    renew: () => Promise.resolve(0),
    complete: inner.complete.bind(inner),
    abandon: inner.abandon.bind(inner),
    ping: inner.ping.bind(inner),
    close: inner.close.bind(inner),
  };
  await using provider = await once.create(
    { ...once.defaultConfig("development"), lockTtlMs: 150 },
    { driver },
  );
  const reason = await provider.execute(
    "k",
    60_000,
    ({ signal }) =>
      new Promise<string>((resolve) =>
        signal.addEventListener("abort", () => resolve(String(signal.reason?.name)))
      ),
  );
  assert.equal(reason, "OnceLockLostError");
});

/** A memory once driver whose `complete` and `renew` fail (a backend outage) while `down()` holds. */
function flakyDriver(down: () => boolean): OnceDriver & { completes: number } {
  const inner = once.memoryOnce();
  const outage = () =>
    Promise.reject(new once.DriverError("memory", "complete", new Error("down")));
  const driver = {
    ...inner,
    name: "memory",
    completes: 0,
    begin: inner.begin.bind(inner),
    renew: (key: string, token: string, ttlMs: number) =>
      down() ? outage() : inner.renew(key, token, ttlMs),
    complete: (key: string, token: string, outcome: OnceOutcome, ttlMs: number) => {
      driver.completes++;
      return down() ? outage() : inner.complete(key, token, outcome, ttlMs);
    },
    abandon: inner.abandon.bind(inner),
    ping: inner.ping.bind(inner),
    close: inner.close.bind(inner),
  };
  return driver;
}

Deno.test("a result the backend failed to store is stored again while the lock lasts: fn runs once", async () => {
  let failures = 3;
  const driver = flakyDriver(() => failures-- > 0);
  await using provider = await once.create(
    { ...once.defaultConfig("development"), lockTtlMs: 2000 },
    { driver, logger: quietLogger() },
  );
  let runs = 0;
  const first = await provider.execute("k", 60_000, () => Promise.resolve(++runs));
  assert.equal(first, 1);
  assert.equal(driver.completes, 4, "three failed attempts, then stored");
  assert.equal(await provider.execute("k", 60_000, () => Promise.resolve(++runs)), 1);
  assert.equal(runs, 1);
});

Deno.test("a result that cannot be stored before the lock is lost fails with the DriverError", async () => {
  const driver = flakyDriver(() => true);
  await using provider = await once.create(
    { ...once.defaultConfig("development"), lockTtlMs: 300 },
    { driver, logger: quietLogger() },
  );
  const started = Date.now();
  await assert.rejects(
    provider.execute("k", 60_000, () => Promise.resolve("v")),
    (error: Error) => error instanceof once.DriverError && /down/.test(String(error.cause)),
  );
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250, `kept trying while the lock lasted (${elapsed} ms)`);
  assert.ok(driver.completes > 1, `${driver.completes} attempts`);
});

Deno.test("bad once config is rejected", async () => {
  await assert.rejects(
    once.create({ ...once.defaultConfig("production"), lockTtlMs: 0 }),
    /'lockTtlMs' must be a positive integer/,
  );
});

Deno.test("the Idempotency-Key helper answers 409 while in progress and 422 on another payload", async () => {
  await using provider = await once.create();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const handler = once.idempotencyHandler(provider, { ttlMs: 60_000 })(async () => {
    await gate;
    return new Response("created", { status: 201 });
  });
  const info = {} as Deno.ServeHandlerInfo;
  const post = (body: string) =>
    new Request("http://x/orders", { method: "POST", body, headers: { "Idempotency-Key": "abc" } });
  const first = handler(post('{"n":1}'), info);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal((await handler(post('{"n":1}'), info)).status, 409);
  release();
  assert.equal((await first).status, 201);
  assert.equal((await handler(post('{"n":2}'), info)).status, 422);
  const replay = await handler(post('{"n":1}'), info);
  assert.equal(replay.status, 201);
  assert.equal(await replay.text(), "created");
});

Deno.test("with metrics, each call's outcome is counted", async () => {
  await using registry = await metrics.create(metrics.defaultConfig("development"));
  await using idempotency = await once.create({
    ...once.defaultConfig("development"),
    wait: false,
  }, { metrics: registry });
  await idempotency.execute("pay:1", 60_000, () => Promise.resolve({ id: 1 }));
  await idempotency.execute("pay:1", 60_000, () => Promise.resolve({ id: 2 }));
  await assert.rejects(
    idempotency.execute("pay:1", 60_000, () => Promise.resolve({ id: 3 }), {
      fingerprint: "other",
    }),
    once.OnceConflictError,
  );
  await assert.rejects(idempotency.do("boom", 60_000, () => Promise.reject(new Error("x"))), /x/);
  let release!: () => void;
  const slow = idempotency.do("slow", 60_000, () => new Promise<void>((r) => (release = r)));
  await assert.rejects(
    idempotency.do("slow", 60_000, () => Promise.resolve()),
    once.OnceInProgressError,
  );
  release();
  await slow;
  const counts = Object.fromEntries(
    [...(registry.render() ?? "").matchAll(/^once_calls_total\{outcome="(\w+)"\} (\d+)$/gm)]
      .map(([, outcome, n]) => [outcome, Number(n)]),
  );
  assert.deepEqual(counts, { ran: 2, replayed: 1, conflict: 1, failed: 1, in_progress: 1 });
});

Deno.test("do and execute give fn one Call, { signal }, whose signal aborts when the caller's does", async () => {
  await using provider = await once.create(once.defaultConfig("development"));
  const calls: once.Call[] = [];
  const hang = (call: once.Call) => {
    calls.push(call);
    return new Promise<never>((_, reject) =>
      call.signal.addEventListener("abort", () => reject(call.signal.reason), { once: true })
    );
  };
  for (const run of [provider.do.bind(provider), provider.execute.bind(provider)]) {
    const caller = new AbortController();
    const running = run(`call-${calls.length}`, 60_000, hang, { signal: caller.signal });
    await new Promise((resolve) => setTimeout(resolve, 10)); // fn is running
    assert.equal(calls.at(-1)?.signal.aborted, false);
    caller.abort(new Error("caller left"));
    await assert.rejects(running, /caller left/);
    assert.deepEqual(Object.keys(calls.at(-1) as once.Call), ["signal"]);
    assert.equal(calls.at(-1)?.signal.reason.message, "caller left");
  }
  assert.equal(calls.length, 2);
});
