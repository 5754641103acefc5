/** The cache's OpenTelemetry spans, on an in-memory SDK: one client span per provider call. */
import assert from "node:assert/strict";
import { recordSpans } from "../testing/otel.ts";
import * as cache from "./mod.ts";

const config = { ...cache.defaultConfig("development"), keyPrefix: "im-logic" };

Deno.test("cache spans: get, set and del are client spans, children of the caller's span, without keys or values", async () => {
  using recorder = recordSpans();
  await using c = await cache.create(config);
  const request = recorder.startSpan("GET /users/1", 1);
  await recorder.runIn(request, async () => {
    await c.string.set("user:1", { name: "ann" });
    assert.deepEqual(await c.string.get("user:1"), { name: "ann" });
    assert.equal(await c.string.get("user:2"), undefined);
    assert.equal(await c.string.del("user:1", "user:2"), 1);
  });
  request.end();
  const [set] = recorder.named("cache set");
  const [hit, miss] = recorder.named("cache get");
  const [del] = recorder.named("cache del");
  for (const span of [set, hit, miss, del]) {
    assert.equal(span.kind, 2, "client");
    assert.equal(span.parentSpanId, request.spanId);
    assert.equal(span.traceId, request.traceId);
    assert.ok(span.ended);
    assert.equal(span.status.code, 0);
    assert.equal(span.attributes["db.system"], "memory");
    assert.equal(span.attributes["cache.key_prefix"], "im-logic");
    const recorded = JSON.stringify(span.attributes);
    assert.ok(!recorded.includes("user:"), `no key in ${recorded}`);
    assert.ok(!recorded.includes("ann"), `no value in ${recorded}`);
  }
  assert.equal(set.attributes["db.operation"], "set");
  assert.deepEqual(hit.attributes, {
    "db.system": "memory",
    "db.operation": "get",
    "cache.key_prefix": "im-logic",
    "cache.hit": true,
  });
  assert.equal(miss.attributes["cache.hit"], false);
  assert.equal(del.attributes["db.operation"], "del");
});

Deno.test("cache spans: a failed call marks its span as an error", async () => {
  using recorder = recordSpans();
  await using c = await cache.create(cache.defaultConfig("development"));
  await c.hash.hset("h", { f: 1 });
  await assert.rejects(c.string.get("h"), cache.WrongTypeError);
  await assert.rejects(c.string.set("", 1), TypeError);
  const [get] = recorder.named("cache get");
  const [set] = recorder.named("cache set");
  assert.equal(get.status.code, 2);
  assert.match(get.status.message ?? "", /another type/);
  assert.equal(get.attributes["cache.key_prefix"], undefined, "no prefix, none recorded");
  assert.equal(set.status.code, 2);
  assert.ok(get.ended && set.ended);
});

Deno.test("cache spans: getOrLoad is one span with cache.hit; the loader runs in a child span whose own spans nest under it", async () => {
  using recorder = recordSpans();
  await using c = await cache.create(config);
  const request = recorder.startSpan("GET /answer", 1);
  const loader = () => {
    recorder.startSpan("SELECT answer", 2).end();
    return Promise.resolve(42);
  };
  await recorder.runIn(request, async () => {
    assert.equal(await c.getOrLoad("answer", loader, { ttlMs: 60_000, earlyRefresh: false }), 42);
    assert.equal(await c.getOrLoad("answer", loader, { ttlMs: 60_000, earlyRefresh: false }), 42);
  });
  request.end();
  const [loaded, cached] = recorder.named("cache getOrLoad");
  assert.equal(loaded.kind, 2);
  assert.equal(loaded.parentSpanId, request.spanId);
  assert.deepEqual(loaded.attributes, {
    "db.system": "memory",
    "db.operation": "getOrLoad",
    "cache.key_prefix": "im-logic",
    "cache.hit": false,
  });
  assert.equal(cached.parentSpanId, request.spanId);
  assert.equal(cached.attributes["cache.hit"], true);
  const loads = recorder.named("cache load");
  assert.equal(loads.length, 1, "the hit loads nothing");
  assert.equal(loads[0].parentSpanId, loaded.spanId);
  assert.equal(recorder.named("SELECT answer")[0].parentSpanId, loads[0].spanId);
  assert.ok(loaded.ended && cached.ended && loads[0].ended);
});

Deno.test("cache spans: a failing loader marks both the load and the getOrLoad span as errors", async () => {
  using recorder = recordSpans();
  await using c = await cache.create(config);
  const failing = () => Promise.reject(new Error("database down"));
  await assert.rejects(c.getOrLoad("k", failing, { ttlMs: 1000 }), /database down/);
  const [getOrLoad] = recorder.named("cache getOrLoad");
  const [load] = recorder.named("cache load");
  assert.equal(getOrLoad.status.code, 2);
  assert.equal(getOrLoad.status.message, "database down");
  assert.equal(load.status.code, 2);
  assert.equal(load.parentSpanId, getOrLoad.spanId);
});

Deno.test("cache spans: lock acquire is a client span with lock.acquired, without the lock's name", async () => {
  using recorder = recordSpans();
  await using c = await cache.create(config);
  const request = recorder.startSpan("job", 0);
  await recorder.runIn(request, async () => {
    await using _held = await c.lock.acquire("order:42");
    assert.equal(await c.lock.tryAcquire("order:42"), null);
  });
  request.end();
  const [acquired, refused] = recorder.named("lock acquire");
  assert.equal(acquired.kind, 2);
  assert.equal(acquired.parentSpanId, request.spanId);
  assert.deepEqual(acquired.attributes, {
    "db.system": "memory",
    "db.operation": "acquire",
    "cache.key_prefix": "im-logic",
    "lock.acquired": true,
  });
  assert.equal(refused.attributes["db.operation"], "tryAcquire");
  assert.equal(refused.attributes["lock.acquired"], false);
  assert.ok(!JSON.stringify(acquired.attributes).includes("order"));
});
