import assert from "node:assert/strict";
import { capturingLogger, quietLogger } from "../testing/logger.ts";
import * as health from "./mod.ts";

const get = (path: string) => new Request(`http://x${path}`);

/** Fakes of every part, each recording its call into `order` once it resolves. */
function fakes(order: string[]) {
  const part = (name: string) => async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    order.push(name);
  };
  return {
    registrations: [{ unregister: part("unregister") }],
    server: { shutdown: part("server.shutdown") },
    subscriptions: [{ close: part("subscription.close") }],
    producers: [{ flush: part("producer.flush") }],
    providers: [{ close: part("mq.close") }, { close: part("coord.close") }],
  };
}

Deno.test("onShutdown() runs every step in order on SIGTERM, logs each, and /readyz answers 503 from the start", async () => {
  const order: string[] = [];
  const { logger, logs } = capturingLogger();
  const handlers = health.handlers({ checks: { fine: () => Promise.resolve() } });
  assert.equal((await handlers.readyz(get("/readyz"))).status, 200);
  let readyDuringShutdown: number | undefined;
  const parts = fakes(order);
  using stop = health.onShutdown({
    ...parts,
    handlers,
    // The first step after "stop accepting": readiness already answers 503 and the signal aborted.
    registrations: [{
      unregister: async () => {
        const response = await handlers.readyz(get("/readyz"));
        readyDuringShutdown = response.status;
        assert.equal((await response.json()).status, "draining");
        order.push(`unregister (signal aborted: ${stop.signal.aborted})`);
      },
    }],
    logger,
    signals: ["SIGTERM"],
  });
  assert.equal(stop.signal.aborted, false);
  Deno.kill(Deno.pid, "SIGTERM");
  // A signal listener keeps no event loop alive: a timer does, and fails the test if none comes.
  let guard: ReturnType<typeof setTimeout> | undefined;
  const report = await Promise.race([
    stop.done,
    new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error("no shutdown 5 s after SIGTERM")), 5000);
    }),
  ]).finally(() => clearTimeout(guard));
  assert.equal(readyDuringShutdown, 503);
  assert.deepEqual(order, [
    "unregister (signal aborted: true)",
    "server.shutdown",
    "subscription.close",
    "producer.flush",
    "mq.close",
    "coord.close",
  ]);
  assert.equal(report.reason, "SIGTERM");
  assert.equal(report.ok, true);
  assert.deepEqual(report.steps.map((step) => step.step), [...health.SHUTDOWN_STEPS]);
  const lines = logs.records.map((record) => record.fields?.step ?? record.msg);
  assert.deepEqual(lines, ["shutdown started", ...health.SHUTDOWN_STEPS, "shutdown finished"]);
});

Deno.test("onShutdown() logs a failing step and goes on; a hung step times out and the rest are skipped", async () => {
  const order: string[] = [];
  const { logger, logs } = capturingLogger();
  const parts = fakes(order);
  using stop = health.onShutdown({
    ...parts,
    registrations: [{ unregister: () => Promise.reject(new Error("etcd unreachable")) }],
    subscriptions: [{ close: () => new Promise(() => {}) }],
    providers: [{ close: () => Promise.reject(new Error("never reached")) }],
    logger,
    timeoutMs: 100,
    signals: [],
  });
  const start = performance.now();
  const report = await stop.shutdown("test");
  const elapsed = performance.now() - start;
  assert.ok(elapsed >= 95 && elapsed < 1000, String(elapsed));
  assert.equal(report.ok, false);
  assert.deepEqual(report.steps.map((step) => [step.step, step.outcome]), [
    ["stop accepting", "ok"],
    ["leave registry", "failed"],
    ["drain http server", "ok"],
    ["close subscriptions", "timed out"],
    ["flush producers", "skipped"],
    ["flush logs", "skipped"],
    ["dispose providers", "skipped"],
  ]);
  assert.deepEqual(report.steps[1].errors, ["etcd unreachable"]);
  assert.deepEqual(order, ["server.shutdown"]);
  const failed = logs.records.find((record) => record.fields?.step === "leave registry");
  assert.equal(failed?.level, "error");
  assert.deepEqual(failed?.fields?.errors, ["etcd unreachable"]);
  // Calling it again runs nothing more and gives the same report.
  assert.equal(await stop.shutdown("again"), report);
});

Deno.test("onShutdown() closes every provider even when one fails, and reports the failure", async () => {
  const closed: string[] = [];
  using logger = quietLogger();
  using stop = health.onShutdown({
    providers: [
      { close: () => Promise.reject(new Error("db close failed")) },
      { close: () => (closed.push("cache"), Promise.resolve()) },
    ],
    logger,
    signals: [],
  });
  const report = await stop.shutdown();
  assert.deepEqual(closed, ["cache"]);
  assert.deepEqual(report.steps.at(-1), {
    step: "dispose providers",
    outcome: "failed",
    ms: report.steps.at(-1)?.ms,
    errors: ["db close failed"],
  });
});

Deno.test("onShutdown() adds a listener per signal and its disposal removes them", () => {
  const added: [string, () => void][] = [];
  const removed: [string, () => void][] = [];
  const { addSignalListener, removeSignalListener } = Deno;
  Deno.addSignalListener = (signal, listener) => void added.push([signal, listener]);
  Deno.removeSignalListener = (signal, listener) => void removed.push([signal, listener]);
  try {
    using logger = quietLogger();
    const stop = health.onShutdown({ logger });
    assert.deepEqual(added.map(([signal]) => signal), ["SIGTERM", "SIGINT"]);
    stop[Symbol.dispose]();
    stop[Symbol.dispose]();
    assert.deepEqual(removed, added);
  } finally {
    Deno.addSignalListener = addSignalListener;
    Deno.removeSignalListener = removeSignalListener;
  }
});

Deno.test("onShutdown() refuses unknown options and a bad timeoutMs", () => {
  assert.throws(
    () => health.onShutdown({ timeout: 5 } as unknown as health.ShutdownOptions),
    { name: "TypeError", message: /'timeout' is not an option/ },
  );
  assert.throws(() => health.onShutdown({ timeoutMs: 0, signals: [] }), RangeError);
  assert.throws(() => health.onShutdown({ timeoutMs: Infinity, signals: [] }), RangeError);
});

Deno.test("drain() makes /readyz answer 503 draining without running a check; /healthz stays 200", async () => {
  let called = 0;
  const handlers = health.handlers({ checks: { db: () => (called++, Promise.resolve()) } });
  handlers.drain();
  const response = await handlers.readyz(get("/readyz"));
  assert.equal(response.status, 503);
  assert.deepEqual(await response.json(), { status: "draining", checks: {} });
  assert.equal(called, 0);
  assert.equal(handlers.healthz(get("/healthz")).status, 200);
});
