/**
 * Mq conformance: producer and consumer metrics.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import * as metrics from "../../metrics/mod.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the metrics case: messages sent and handler outcomes are counted,
 * handler time is measured.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function metricsCases(context: MqSuiteContext): void {
  const { test, providers } = context;

  test("with metrics, messages sent and handler outcomes are counted, handler time measured", async () => {
    await using registry = await metrics.create(metrics.defaultConfig("development"));
    await using env = await providers("metrics", 1, { maxRetries: 1 }, registry);
    const [queue] = env.mqs;
    const done: string[] = [];
    await using _subscription = await queue.consumer("g").subscribe<string>([env.topic], (m) => {
      if (m.value === "flaky" && m.attempt === 1) throw new Error("temporary");
      if (m.value === "poison") throw new Error("cannot process poison");
      done.push(m.value);
    });
    for (const value of ["flaky", "poison", "fine"]) {
      await queue.producer().sendSync({ topic: env.topic, key: "same", value });
    }
    const count = (name: string, labels: string) =>
      Number(
        (registry.render() ?? "").split("\n").find((line) => line.startsWith(`${name}{${labels}}`))
          ?.split(" ")[1] ?? 0,
      );
    const consumed = (outcome: string) =>
      count("mq_messages_consumed_total", `topic="${env.topic}",group="g",outcome="${outcome}"`);
    await eventually(() => assert.equal(consumed("dead_lettered"), 1), { timeoutMs: 10_000 });
    await eventually(() => assert.deepEqual(done, ["flaky", "fine"]), { timeoutMs: 10_000 });
    assert.equal(consumed("ok"), 2);
    assert.equal(consumed("retried"), 2, "flaky once, poison once before its last attempt");
    assert.equal(count("mq_messages_produced_total", `topic="${env.topic}",outcome="ok"`), 3);
    assert.equal(
      count("mq_handler_duration_seconds_count", `topic="${env.topic}",group="g"`),
      5,
      "every attempt is timed",
    );
  });
}
