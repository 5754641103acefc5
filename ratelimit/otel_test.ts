/** The rate limiter's OpenTelemetry span, on an in-memory SDK: one client span per decision. */
import assert from "node:assert/strict";
import { capturingLogger } from "../testing/logger.ts";
import { recordSpans } from "../testing/otel.ts";
import * as ratelimit from "./mod.ts";

const config: ratelimit.RateLimitConfig = {
  ...ratelimit.defaultConfig("development"),
  rules: { login: { rate: 1, burst: 1 } },
};

Deno.test("ratelimit span: allow is a client span, child of the caller's, with the rule and the decision but not the key", async () => {
  using recorder = recordSpans();
  await using limiter = await ratelimit.create(config);
  const request = recorder.startSpan("POST /login", 1);
  await recorder.runIn(request, async () => {
    assert.equal((await limiter.allow("user:7", "login")).allowed, true);
    assert.equal((await limiter.allow("user:7", "login")).allowed, false);
  });
  request.end();
  const [allowed, denied] = recorder.named("ratelimit allow");
  assert.equal(recorder.spans.length, 3, "one span per decision");
  for (const span of [allowed, denied]) {
    assert.equal(span.kind, 2, "client");
    assert.equal(span.parentSpanId, request.spanId);
    assert.equal(span.traceId, request.traceId);
    assert.equal(span.status.code, 0);
    assert.ok(span.ended);
    assert.ok(!JSON.stringify(span.attributes).includes("user:7"), "no key");
  }
  assert.deepEqual(allowed.attributes, {
    "db.system": "memory",
    "db.operation": "allow",
    "ratelimit.rule": "login",
    "ratelimit.cost": 1,
    "ratelimit.allowed": true,
  });
  assert.equal(denied.attributes["ratelimit.allowed"], false);
});

Deno.test("ratelimit span: allowN with a signal is one span, with its cost", async () => {
  using recorder = recordSpans();
  await using limiter = await ratelimit.create({
    ...config,
    rules: { api: { rate: 10, burst: 5 } },
  });
  const decision = await limiter.allowN("k", "api", 3, { signal: new AbortController().signal });
  assert.equal(decision.allowed, true);
  const spans = recorder.named("ratelimit allow");
  assert.equal(spans.length, 1);
  assert.equal(spans[0].attributes["ratelimit.cost"], 3);
  assert.equal(spans[0].attributes["ratelimit.allowed"], true);
  assert.equal(spans[0].attributes["ratelimit.rule"], "api");
});

Deno.test("ratelimit span: an unknown rule is recorded as asked for, denied by the default policy", async () => {
  using recorder = recordSpans();
  const { logger } = capturingLogger();
  await using limiter = await ratelimit.create(config, { logger });
  assert.equal((await limiter.allow("k", "nope")).allowed, false);
  const [span] = recorder.named("ratelimit allow");
  assert.equal(span.attributes["ratelimit.rule"], "nope");
  assert.equal(span.attributes["ratelimit.allowed"], false);
});

Deno.test("ratelimit span: a refused call marks its span as an error", async () => {
  using recorder = recordSpans();
  await using limiter = await ratelimit.create(config);
  await assert.rejects(limiter.allow("", "login"), TypeError);
  const [span] = recorder.named("ratelimit allow");
  assert.equal(span.status.code, 2);
  assert.match(span.status.message ?? "", /'key' must be a non-empty/);
  assert.equal(span.attributes["ratelimit.allowed"], undefined);
  assert.ok(span.ended);
});
