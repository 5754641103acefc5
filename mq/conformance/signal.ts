/**
 * Mq conformance: signals on `send` and `sendSync`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the send signal case: a message whose signal aborts before its
 * batch leaves is not sent.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function sendSignalCases(context: MqSuiteContext): void {
  const { test, providers } = context;

  test("send and sendSync take a signal: aborted before its batch leaves, the message is not sent", async () => {
    await using env = await providers("send signal", 1);
    const [a] = env.mqs;
    const producer = a.producer();
    const controller = new AbortController();
    const first = producer.sendSync({ topic: env.topic, key: "k", value: 1 });
    const second = producer.sendSync({ topic: env.topic, key: "k", value: 2 }, {
      signal: controller.signal,
    });
    const secondOutcome = second.then(() => "sent", (error: Error) => error.message);
    const outcomes: string[] = [];
    const report = (error: Error | undefined) => outcomes.push(error?.message ?? "sent");
    producer.send({ topic: env.topic, key: "k", value: 4 }, report, { signal: controller.signal });
    producer.send({ topic: env.topic, key: "k", value: 5 }, report);
    controller.abort(new Error("client gone")); // before any batch has left
    await first;
    assert.equal(await secondOutcome, "client gone");
    await producer.flush();
    assert.deepEqual(outcomes.sort(), ["client gone", "sent"]);
    producer.send({ topic: env.topic, value: 9 }, report, { signal: controller.signal });
    await eventually(() => assert.equal(outcomes.length, 3), { timeoutMs: 20_000 });
    assert.equal(outcomes[2], "client gone");
    await assert.rejects(
      producer.sendSync({ topic: env.topic, value: 9 }, { signal: controller.signal }),
      /client gone/,
    );
    await producer.sendSync({ topic: env.topic, key: "k", value: 3 });
    const seen: number[] = [];
    await using _subscription = await a.consumer("g").subscribe<number>(
      [env.topic],
      (m) => void seen.push(m.value),
    );
    await eventually(() => assert.deepEqual(seen, [1, 5, 3]), { timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(seen, [1, 5, 3], "2, 4 and 9 were never sent");
  });
}
