/** otelLogSink in process: records reach a LoggerProvider with severity, attributes and context. */
import assert from "node:assert/strict";
import * as clog from "../../clog/mod.ts";
import { recordSpans } from "../../testing/otel.ts";
import { type OtelLogRecord, otelLogSink } from "../otel.ts";

const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

Deno.test("otelLogSink emits severity, body, fields as attributes and the context the line was written in", () => {
  using recorder = recordSpans();
  const emitted: OtelLogRecord[] = [];
  const scopes: string[] = [];
  const sink = otelLogSink({
    loggerProvider: {
      getLogger: (name) => (scopes.push(name), { emit: (record) => void emitted.push(record) }),
    },
  });
  using logger = clog.create({ level: "debug", format: "json", output: "stdout" }, {
    sinks: [sink],
  });
  const span = recorder.startSpan("request");
  recorder.runIn(span, () =>
    logger.namespace("im").with({ room: 7 }).warn("slow", {
      ms: 120,
      user: { id: 1n },
      err: new TypeError("bad"),
      skipped: undefined,
    }));
  logger.debug("outside");
  assert.deepEqual(scopes, ["@gochat/kit"]);
  const [warn, debug] = emitted;
  assert.equal(warn.severityNumber, 13);
  assert.equal(warn.severityText, "WARN");
  assert.equal(warn.body, "slow");
  assert.deepEqual(warn.attributes, {
    "log.namespace": "im",
    room: 7,
    ms: 120,
    user: '{"id":"1"}',
    err: "TypeError: bad",
  });
  const context = warn.context as { getValue(key: symbol): { spanContext(): { spanId: string } } };
  assert.equal(context.getValue(SPAN_KEY).spanContext().spanId, span.spanId);
  assert.equal(debug.severityNumber, 5);
  assert.equal(
    (debug.context as { getValue(key: symbol): unknown }).getValue(SPAN_KEY),
    undefined,
  );
});

Deno.test("otelLogSink without a log pipeline says how to get one", () => {
  assert.throws(() => otelLogSink(), /no OpenTelemetry log pipeline .* OTEL_DENO=true/);
});
