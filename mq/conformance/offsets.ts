/**
 * Mq conformance: where a new consumer group starts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the start offset case: a new group starts at the earliest or the
 * latest message as asked.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function offsetCases(context: MqSuiteContext): void {
  const { test, providers } = context;

  test("a new group starts at the earliest or the latest message as asked", async () => {
    await using env = await providers("start", 1);
    const [queue] = env.mqs;
    await queue.producer().sendSync({ topic: env.topic, key: "k", value: "old" });
    const earliest: string[] = [];
    const latest: string[] = [];
    await using _e = await queue.consumer("early").subscribe<string>(
      [env.topic],
      (m) => void earliest.push(m.value),
      {
        start: "earliest",
      },
    );
    await using _l = await queue.consumer("late").subscribe<string>(
      [env.topic],
      (m) => void latest.push(m.value),
      {
        start: "latest",
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await queue.producer().sendSync({ topic: env.topic, key: "k", value: "new" });
    await eventually(() => {
      assert.deepEqual(earliest, ["old", "new"]);
      assert.deepEqual(latest, ["new"]);
    }, { timeoutMs: 10_000 });
  });
}
