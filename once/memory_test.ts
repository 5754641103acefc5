import assert from "node:assert/strict";
import { onceConformance } from "./conformance.ts";
import * as once from "./mod.ts";

const store = new once.MemoryOnceStore();
onceConformance({ name: "memory", makeDriver: () => once.memoryOnce({ store }) });

Deno.test("when the in-progress lock is lost, fn's signal fires", async () => {
  const inner = once.memoryOnce();
  // A backend that stops confirming renewals, as after an expiry during a long pause.
  const driver: once.OnceDriver = {
    ...inner,
    name: "memory",
    begin: inner.begin.bind(inner),
    renew: () => Promise.resolve(0),
    complete: inner.complete.bind(inner),
    abandon: inner.abandon.bind(inner),
    close: inner.close.bind(inner),
  };
  await using provider = await once.create(
    { ...once.defaultConfig("development"), lockTtlMs: 150 },
    { driver },
  );
  const reason = await provider.execute(
    "k",
    60_000,
    (signal) =>
      new Promise<string>((resolve) =>
        signal.addEventListener("abort", () => resolve(String(signal.reason?.name)))
      ),
  );
  assert.equal(reason, "OnceLockLostError");
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
