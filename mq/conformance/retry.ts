/**
 * Mq conformance: retries with backoff and dead-lettering.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import type * as mq from "../mod.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the retry case: a failing message is retried with backoff, then
 * dead-lettered with its error, while the rest flows on.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function retryCases(context: MqSuiteContext): void {
  const { test, providers } = context;

  test("a failing message is retried with backoff, then dead-lettered with its error; the rest flows on", async () => {
    await using env = await providers("dlq", 1);
    const [queue] = env.mqs;
    const attempts = new Map<string, number>();
    const done: string[] = [];
    await using _subscription = await queue.consumer("g").subscribe<string>(
      [env.topic],
      (m) => {
        attempts.set(m.value, m.attempt);
        if (m.value === "flaky" && m.attempt < 3) throw new Error("temporary");
        if (m.value === "poison") throw new Error("cannot process poison");
        done.push(m.value);
      },
    );
    const dead: mq.ConsumedMessage<string>[] = [];
    await using _dlq = await queue.consumer("dlq-reader").subscribe<string>(
      [`${env.topic}.dlq`],
      (m) => void dead.push(m),
    );
    for (const value of ["flaky", "poison", "fine"]) {
      await queue.producer().sendSync({ topic: env.topic, key: "same", value });
    }
    await eventually(() => assert.deepEqual(done, ["flaky", "fine"]), { timeoutMs: 10_000 });
    assert.equal(attempts.get("flaky"), 3);
    assert.equal(attempts.get("poison"), 4, "1 attempt + maxRetries (3)");
    await eventually(() => assert.equal(dead.length, 1), { timeoutMs: 10_000 });
    assert.equal(dead[0].value, "poison");
    assert.equal(dead[0].headers["x-error"], "cannot process poison");
    assert.equal(dead[0].headers["x-original-topic"], env.topic);
    assert.equal(dead[0].headers["x-attempts"], "4");
  });
}
