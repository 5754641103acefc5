import assert from "node:assert/strict";
import * as cache from "../cache/mod.ts";
import * as coord from "../coord/mod.ts";
import { redisCache } from "../drivers/redis/mod.ts";
import * as once from "../once/mod.ts";
import { eventually } from "../testing/eventually.ts";
import { quietLogger } from "../testing/logger.ts";
import { serverAvailable, startServer } from "../testing/server.ts";
import * as health from "./mod.ts";

const get = (path: string, method = "GET") => new Request(`http://x${path}`, { method });

Deno.test("readyz() answers 200 with every check's outcome while every provider answers", async () => {
  await using c = await cache.create();
  await using o = await once.create();
  let called = 0;
  const { readyz } = health.handlers({
    checks: { cache: c, once: o, disk: () => (called++, Promise.resolve()) },
  });
  const response = await readyz(get("/readyz"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  const body = await response.json();
  assert.equal(body.status, "ready");
  assert.deepEqual(Object.keys(body.checks).sort(), ["cache", "disk", "once"]);
  for (const result of Object.values(body.checks) as health.CheckResult[]) {
    assert.equal(result.ok, true);
    assert.equal(typeof result.ms, "number");
  }
  assert.equal(called, 1);
});

Deno.test("readyz() answers 503 naming the provider whose driver fails, with its DriverError message", async () => {
  const driver = coord.memoryCoord();
  await using co = await coord.create(coord.defaultConfig("development"), { driver });
  await using c = await cache.create();
  const { readyz } = health.handlers({ checks: { coord: co, cache: c } });
  assert.equal((await readyz(get("/readyz"))).status, 200);
  driver.setReachable(false);
  const response = await readyz(get("/readyz"));
  assert.equal(response.status, 503);
  const body = await response.json();
  assert.equal(body.status, "not ready");
  assert.equal(body.checks.cache.ok, true);
  assert.equal(body.checks.coord.ok, false);
  assert.match(body.checks.coord.error, /^memory driver: ping failed/);
  driver.setReachable(true);
  assert.equal((await readyz(get("/readyz"))).status, 200);
});

Deno.test("readyz() answers 503 for a closed provider", async () => {
  const c = await cache.create();
  const { readyz } = health.handlers({ checks: { cache: c } });
  await c.close();
  const response = await readyz(get("/readyz"));
  assert.equal(response.status, 503);
  assert.match((await response.json()).checks.cache.error, /the cache provider is closed/);
});

Deno.test("readyz() fails a hung check after timeoutMs, aborting its signal, and waits for no more", async () => {
  let signal: AbortSignal | undefined;
  const { readyz } = health.handlers({
    checks: {
      hung: (call) => {
        signal = call.signal;
        return new Promise(() => {});
      },
      fine: () => Promise.resolve(),
    },
    timeoutMs: 50,
  });
  const start = performance.now();
  let guard: ReturnType<typeof setTimeout> | undefined;
  // Without the time limit readyz() would never answer: fail the test instead of hanging it.
  const response = await Promise.race([
    readyz(get("/readyz")),
    new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error("readyz() did not answer in 2 s")), 2000);
    }),
  ]).finally(() => clearTimeout(guard));
  const elapsed = performance.now() - start;
  assert.equal(response.status, 503);
  const body = await response.json();
  assert.equal(body.checks.hung.ok, false);
  assert.equal(body.checks.hung.error, "timed out after 50 ms");
  assert.ok(body.checks.hung.ms >= 45, String(body.checks.hung.ms));
  assert.equal(body.checks.fine.ok, true);
  assert.ok(elapsed >= 45 && elapsed < 1000, String(elapsed));
  assert.equal(signal?.aborted, true);
});

Deno.test("healthz() answers 200 ok without calling any check; both answer only GET and HEAD", async () => {
  let pinged = 0;
  const provider: health.Pingable = { ping: () => (pinged++, Promise.resolve()) };
  const { healthz, readyz } = health.handlers({ checks: { db: provider } });
  const response = healthz(get("/healthz"));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "ok\n");
  assert.equal(await healthz(get("/healthz", "HEAD")).text(), "");
  assert.equal(pinged, 0);
  assert.equal(healthz(get("/healthz", "POST")).status, 405);
  assert.equal((await readyz(get("/readyz", "POST"))).status, 405);
  assert.equal(pinged, 0);
  assert.equal(await (await readyz(get("/readyz", "HEAD"))).text(), "");
  assert.equal(pinged, 1);
});

Deno.test("handlers() refuses unknown options, checks that are not providers, and a bad timeoutMs", () => {
  assert.throws(
    () => health.handlers({ checks: {}, timeout: 5 } as unknown as health.HealthOptions),
    { name: "TypeError", message: /'timeout' is not an option/ },
  );
  assert.throws(
    () => health.handlers({ checks: { db: { query: () => {} } as unknown as health.Check } }),
    { name: "TypeError", message: /check 'db' must be a provider with ping\(\) or a function/ },
  );
  assert.throws(
    () => health.handlers({ checks: { db: "postgres" as unknown as health.Check } }),
    { name: "TypeError", message: /check 'db'/ },
  );
  assert.throws(
    () => health.handlers({ checks: undefined as unknown as health.HealthOptions["checks"] }),
    { name: "TypeError", message: /'checks' must be an object/ },
  );
  assert.throws(() => health.handlers({ checks: {}, timeoutMs: 0 }), RangeError);
  assert.throws(() => health.handlers({ checks: {}, timeoutMs: NaN }), RangeError);
});

Deno.test({
  name: "[redis] readyz() turns 503 when redis-server is killed and 200 once it runs again",
  ignore: !serverAvailable("redis"),
  async fn() {
    await using server = await startServer("redis");
    const logger = quietLogger();
    await using c = await cache.create({ ...cache.defaultConfig("production"), keyPrefix: "" }, {
      driver: redisCache({ url: server.url, logger, commandTimeoutMs: 500 }),
      logger,
    });
    const { readyz } = health.handlers({ checks: { cache: c }, timeoutMs: 1000 });
    assert.equal((await readyz(get("/readyz"))).status, 200);
    await server.kill();
    const down = await readyz(get("/readyz"));
    assert.equal(down.status, 503);
    const body = await down.json();
    assert.equal(body.checks.cache.ok, false);
    assert.ok(!body.checks.cache.error.includes(server.url), body.checks.cache.error);
    await server.start();
    await eventually(async () => {
      const response = await readyz(get("/readyz"));
      await response.body?.cancel();
      assert.equal(response.status, 200);
    }, { timeoutMs: 10_000 });
  },
});
