/**
 * Mq conformance: bad input to the producer.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import * as mq from "../mod.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the bad-input case: a clear error, and the producer stays usable.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function inputCases(context: MqSuiteContext): void {
  const { test, providers } = context;

  test("bad input gets a clear error and the producer stays usable", async () => {
    await using env = await providers("bad", 1, { maxMessageBytes: 100, autoCreateTopics: false });
    const producer = env.mqs[0].producer();
    assert.throws(
      () => producer.send({ topic: env.topic, value: "x".repeat(200) }),
      mq.MessageTooLargeError,
    );
    assert.throws(
      () => producer.send({ topic: env.topic, value: { m: new Map() } }),
      /value.m is a Map/,
    );
    assert.throws(
      () => producer.send({ topic: "", value: 1 }),
      /'topic' must be a non-empty string/,
    );
    // Text the broker would store as U+FFFD (so "k\ud800" and "k\udc00" would be one key).
    for (const lone of ["k\ud800", "k\udc00"]) {
      assert.throws(
        () => producer.send({ topic: env.topic, key: lone, value: 1 }),
        /'key' must be well-formed Unicode/,
      );
      assert.throws(
        () => producer.send({ topic: env.topic, value: 1, headers: { trace: lone } }),
        /'headers.trace' must be well-formed Unicode/,
      );
    }
    assert.throws(
      () => producer.send({ topic: env.topic, value: 1, headers: { n: 1 as unknown as string } }),
      /'headers.n' must be a string/,
    );
    await assert.rejects(
      producer.sendSync({ topic: `${env.topic}.missing`, value: 1 }),
      mq.UnknownTopicError,
    );
    await producer.sendSync({ topic: env.topic, value: "still fine" });
    const seen: string[] = [];
    await using _s = await env.mqs[0].consumer("g").subscribe<string>(
      [env.topic],
      (m) => void seen.push(m.value),
    );
    await eventually(() => assert.deepEqual(seen, ["still fine"]), { timeoutMs: 10_000 });
  });
}
