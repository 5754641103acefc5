/** The once provider's OpenTelemetry span, on an in-memory SDK: one client span per call. */
import assert from "node:assert/strict";
import { recordSpans } from "../testing/otel.ts";
import * as once from "./mod.ts";

Deno.test("once span: execute is a client span, child of the caller's, with its outcome; fn's own spans are its children", async () => {
  using recorder = recordSpans();
  await using idempotency = await once.create(once.defaultConfig("development"));
  const request = recorder.startSpan("POST /pay", 1);
  const charge = () => {
    recorder.startSpan("charge card", 2).end();
    return Promise.resolve({ receipt: 1 });
  };
  await recorder.runIn(request, async () => {
    assert.deepEqual(await idempotency.execute("pay:42", 60_000, charge), { receipt: 1 });
    assert.deepEqual(await idempotency.execute("pay:42", 60_000, charge), { receipt: 1 });
  });
  request.end();
  const [ran, replayed] = recorder.named("once execute");
  for (const span of [ran, replayed]) {
    assert.equal(span.kind, 2, "client");
    assert.equal(span.parentSpanId, request.spanId);
    assert.equal(span.traceId, request.traceId);
    assert.equal(span.status.code, 0);
    assert.ok(span.ended);
    assert.ok(!JSON.stringify(span.attributes).includes("pay:42"), "no key");
  }
  assert.deepEqual(ran.attributes, {
    "db.system": "memory",
    "db.operation": "execute",
    "once.outcome": "ran",
  });
  assert.equal(replayed.attributes["once.outcome"], "replayed");
  const charges = recorder.named("charge card");
  assert.equal(charges.length, 1);
  assert.equal(charges[0].parentSpanId, ran.spanId, "fn runs inside the span");
});

Deno.test("once span: do records ran, then replayed", async () => {
  using recorder = recordSpans();
  await using idempotency = await once.create(once.defaultConfig("development"));
  assert.equal(await idempotency.do("job", 60_000, () => Promise.resolve()), true);
  assert.equal(await idempotency.do("job", 60_000, () => Promise.resolve()), false);
  const spans = recorder.named("once do");
  assert.deepEqual(spans.map((span) => span.attributes["db.operation"]), ["do", "do"]);
  assert.deepEqual(spans.map((span) => span.attributes["once.outcome"]), ["ran", "replayed"]);
});

Deno.test("once span: a failed fn, a conflict and a call in progress mark their spans as errors", async () => {
  using recorder = recordSpans();
  await using idempotency = await once.create({
    ...once.defaultConfig("development"),
    wait: false,
  });
  await assert.rejects(
    idempotency.execute("a", 60_000, () => Promise.reject(new Error("card declined"))),
    /card declined/,
  );
  await idempotency.execute("b", 60_000, () => Promise.resolve(1), { fingerprint: "x" });
  await assert.rejects(
    idempotency.execute("b", 60_000, () => Promise.resolve(1), { fingerprint: "y" }),
    once.OnceConflictError,
  );
  let release!: () => void;
  const running = idempotency.execute("c", 60_000, () => new Promise<void>((r) => release = r));
  await assert.rejects(
    idempotency.execute("c", 60_000, () => Promise.resolve()),
    once.OnceInProgressError,
  );
  release();
  await running;
  const [failed, stored, conflict, ran, inProgress] = recorder.named("once execute");
  assert.equal(failed.attributes["once.outcome"], "failed");
  assert.equal(failed.status.code, 2);
  assert.equal(failed.status.message, "card declined");
  assert.equal(stored.status.code, 0);
  assert.equal(conflict.attributes["once.outcome"], "conflict");
  assert.equal(conflict.status.code, 2);
  assert.equal(inProgress.attributes["once.outcome"], "in_progress");
  assert.equal(inProgress.status.code, 2);
  assert.equal(ran.attributes["once.outcome"], "ran");
  assert.ok(recorder.spans.every((span) => span.ended));
});
