/**
 * Mq conformance: trace ids carried from producer to consumer.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as clog from "../../clog/mod.ts";
import { eventually } from "../../testing/eventually.ts";
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
}
