/** clog's trace and OpenTelemetry's active span are one context (an in-memory SDK registered). */
import assert from "node:assert/strict";
import { recordSpans } from "../testing/otel.ts";
import * as clog from "./mod.ts";
import { jsonFormatter } from "./format.ts";

const json: clog.ClogConfig = { level: "info", format: "json", output: "stdout" };

Deno.test("a line logged inside an OpenTelemetry span carries that span's trace_id and span_id", async () => {
  using recorder = recordSpans();
  const sink = clog.memorySink();
  using logger = clog.create(json, { sinks: [sink] });
  const span = recorder.startSpan("GET /rooms");
  await recorder.runIn(span, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    logger.info("inside");
  });
  logger.info("outside");
  assert.equal(sink.records[0].traceId, span.traceId);
  assert.equal(sink.records[0].spanId, span.spanId);
  const line = JSON.parse(jsonFormatter()(sink.records[0]));
  assert.equal(line.trace_id, span.traceId);
  assert.equal(line.span_id, span.spanId);
  assert.equal(sink.records[1].traceId, undefined);
});

Deno.test("a span started inside clog.withTrace continues that trace, under the given span id", () => {
  using recorder = recordSpans();
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const child = clog.withTrace(traceId, () => recorder.startSpan("work"), {
    spanId: "00f067aa0ba902b7",
  });
  assert.equal(child.traceId, traceId);
  assert.equal(child.parentSpanId, "00f067aa0ba902b7");
  const other = clog.withTrace(traceId, () => recorder.startSpan("more"));
  assert.equal(other.traceId, traceId);
  assert.match(
    other.parentSpanId ?? "",
    /^[0-9a-f]{16}$/,
    "a parent id of its own when none given",
  );
});

Deno.test("clog.withTrace with a non-W3C id inside a span: lines carry that id, spans inside start a new trace", () => {
  using recorder = recordSpans();
  const sink = clog.memorySink();
  using logger = clog.create(json, { sinks: [sink] });
  const outer = recorder.startSpan("outer");
  const inner = recorder.runIn(outer, () =>
    clog.withTrace("go-req-7f3a", () => {
      logger.info("from a Go trace");
      return recorder.startSpan("inner");
    }));
  assert.equal(sink.records[0].traceId, "go-req-7f3a");
  assert.equal(inner.parentSpanId, undefined);
  assert.notEqual(inner.traceId, outer.traceId);
});
