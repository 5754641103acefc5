/** mq's OpenTelemetry spans, on an in-memory SDK: a producer span per message, a consumer span its child. */
import assert from "node:assert/strict";
import * as clog from "../clog/mod.ts";
import { eventually } from "../testing/eventually.ts";
import { recordSpans } from "../testing/otel.ts";
import * as mq from "./mod.ts";

Deno.test("mq spans: send <topic> (producer) is the parent of process <topic> (consumer), across the message headers", async () => {
  using recorder = recordSpans();
  await using queue = await mq.create(mq.defaultConfig("development"));
  const inHandler: (clog.TraceContext | undefined)[] = [];
  const headersSeen: Record<string, string>[] = [];
  await using _subscription = await queue.consumer("billing").subscribe<number>(
    ["orders"],
    (message) => {
      inHandler.push(clog.traceContext());
      headersSeen.push({ ...message.headers });
    },
  );
  const request = recorder.startSpan("POST /orders", 1);
  await recorder.runIn(
    request,
    () => queue.producer().sendSync({ topic: "orders", key: "u1", value: 1 }),
  );
  request.end();
  await eventually(() => assert.equal(recorder.named("process orders").length, 1));

  const [send] = recorder.named("send orders");
  const [processed] = recorder.named("process orders");
  assert.equal(send.kind, 3, "producer");
  assert.equal(send.parentSpanId, request.spanId);
  assert.equal(send.traceId, request.traceId);
  assert.ok(send.ended, "ended once stored");
  assert.deepEqual(send.attributes, {
    "messaging.system": "memory",
    "messaging.destination.name": "orders",
    "messaging.operation.type": "send",
    "messaging.operation.name": "send",
    "messaging.message.key": "u1",
  });
  assert.equal(processed.kind, 4, "consumer");
  assert.equal(processed.traceId, request.traceId, "one trace across the broker");
  assert.equal(processed.parentSpanId, send.spanId, "child of the producer's span");
  assert.equal(processed.attributes["messaging.consumer.group.name"], "billing");
  assert.equal(processed.attributes["messaging.delivery.attempt"], 1);
  await eventually(() => assert.ok(processed.ended));
  assert.equal(headersSeen[0].traceparent, `00-${send.traceId}-${send.spanId}-01`);
  assert.equal(headersSeen[0]["X-Trace-ID"], send.traceId, "the Go kit's header too");
  assert.deepEqual(inHandler[0], { traceId: processed.traceId, spanId: processed.spanId });
});

Deno.test("mq spans: a failed handler run is an error span, its retry another consumer span", async () => {
  using recorder = recordSpans();
  await using queue = await mq.create({ ...mq.defaultConfig("development"), retryBackoffMs: 1 });
  let runs = 0;
  await using _subscription = await queue.consumer("g").subscribe<number>(["jobs"], () => {
    if (++runs === 1) throw new Error("first run fails");
  });
  await queue.producer().sendSync({ topic: "jobs", value: 1 });
  await eventually(() =>
    assert.equal(recorder.named("process jobs").filter((s) => s.ended).length, 2)
  );
  const [failed, retried] = recorder.named("process jobs");
  assert.equal(failed.status.code, 2);
  assert.equal(failed.status.message, "first run fails");
  assert.equal(retried.status.code, 0);
  assert.equal(retried.attributes["messaging.delivery.attempt"], 2);
  assert.equal(retried.parentSpanId, failed.parentSpanId, "both children of the producer span");
});

Deno.test("mq spans: a Go producer's message continues a W3C-shaped X-Trace-ID; one without a trace starts its own", async () => {
  using recorder = recordSpans();
  const broker = new mq.MemoryMqBroker();
  await using queue = await mq.create(mq.defaultConfig("development"), {
    driver: mq.memoryMq({ broker }),
  });
  await queue.admin.createTopic("go", 1);
  const traces: (string | undefined)[] = [];
  // Subscribed inside a span of the service's own: a message without a trace must not join it.
  const startup = recorder.startSpan("startup");
  await using _subscription = await recorder.runIn(
    startup,
    () => queue.consumer("g").subscribe<number>(["go"], () => void traces.push(clog.traceId())),
  );
  // What a Go producer of the old kit writes: JSON and its X-Trace-ID header, no traceparent.
  const goTrace = "0af7651916cd43dd8448eb211c80319c";
  const goProducer = mq.memoryMq({ broker });
  await goProducer.produce([
    { topic: "go", key: "a", value: "1", headers: { "X-Trace-ID": goTrace } },
    { topic: "go", key: "a", value: "2", headers: {} },
  ]);
  await eventually(() => assert.equal(recorder.named("process go").length, 2));
  const [continued, fresh] = recorder.named("process go");
  assert.equal(continued.traceId, goTrace);
  assert.match(continued.parentSpanId ?? "", /^[0-9a-f]{16}$/, "a remote parent in that trace");
  assert.equal(fresh.parentSpanId, undefined, "a root span");
  assert.notEqual(fresh.traceId, startup.traceId);
  await eventually(() => assert.deepEqual(traces, [goTrace, fresh.traceId]));
  await goProducer.close();
});
