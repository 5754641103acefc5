/**
 * Mq conformance: trace ids carried from producer to consumer.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as clog from "../../clog/mod.ts";
import { eventually } from "../../testing/eventually.ts";
import { recordSpans } from "../../testing/otel.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the trace case: the producer's trace id reaches the consumer's
 * handler and its log lines.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function traceCases(context: MqSuiteContext): void {
  const { test, providers } = context;

  test("the producer's trace id reaches the consumer's handler and its log lines", async () => {
    await using env = await providers("trace", 1);
    const [queue] = env.mqs;
    const traceId = clog.newTraceId();
    const seen: (string | undefined)[] = [];
    const sink = clog.memorySink();
    using logger = clog.create({ level: "info", format: "json", output: "stdout" }, {
      sinks: [sink],
    });
    await using _subscription = await queue.consumer("g").subscribe([env.topic], (m) => {
      seen.push(clog.traceId());
      logger.info("consumed", { header: m.headers.traceparent });
    });
    await clog.withTrace(traceId, async () => {
      logger.info("producing");
      await queue.producer().sendSync({ topic: env.topic, value: "hello" });
    });
    // A group join on a slow backend (Kafka under load) can take several seconds.
    await eventually(() => assert.deepEqual(seen, [traceId]), { timeoutMs: 20_000 });
    assert.deepEqual(sink.records.map((r) => r.traceId), [traceId, traceId]);
    assert.match(
      String(sink.records[1].fields.header),
      new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
    );
  });

  test("with an OpenTelemetry SDK, the consumer's span is the child of the producer's, across the backend", async () => {
    using recorder = recordSpans();
    await using env = await providers("spans", 1);
    const [queue] = env.mqs;
    const inHandler: (clog.TraceContext | undefined)[] = [];
    await using _subscription = await queue.consumer("g").subscribe([env.topic], () => {
      inHandler.push(clog.traceContext());
    });
    const request = recorder.startSpan("request", 1);
    await recorder.runIn(
      request,
      () => queue.producer().sendSync({ topic: env.topic, key: "k", value: "hello" }),
    );
    request.end();
    await eventually(() => assert.equal(inHandler.length, 1), { timeoutMs: 20_000 });
    const [send] = recorder.named(`send ${env.topic}`);
    const [processed] = recorder.named(`process ${env.topic}`);
    assert.equal(send.parentSpanId, request.spanId);
    assert.equal(send.kind, 3);
    assert.equal(processed.kind, 4);
    assert.equal(processed.traceId, request.traceId);
    assert.equal(processed.parentSpanId, send.spanId);
    assert.equal(processed.attributes["messaging.system"], send.attributes["messaging.system"]);
    assert.deepEqual(inHandler[0], { traceId: processed.traceId, spanId: processed.spanId });
  });
}
