/**
 * Mq conformance: how values are encoded: bigints a Go consumer reads, pluggable serializers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import * as mq from "../mod.ts";
import { capturingLogger } from "../../testing/logger.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the value cases: bigints as JSON integers a Go consumer reads, and
 * a pluggable serializer whose output must be well-formed.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function valueCases(context: MqSuiteContext): void {
  const { options, test, providers } = context;

  /** Subscribes a bare driver: the records as the backend holds them, as a Go consumer reads them. */
  async function rawRecords(topic: string) {
    const driver = await options.makeDriver();
    const values: string[] = [];
    const subscription = await driver.subscribe(
      "raw-reader",
      [topic],
      { fromBeginning: true },
      (record) => {
        values.push(record.value);
        return Promise.resolve();
      },
    );
    return {
      values,
      async [Symbol.asyncDispose]() {
        await subscription.close();
        await driver.close();
      },
    };
  }

  test("values: a bigint is sent as a JSON integer with all its digits and consumed exactly, nested too", async () => {
    await using env = await providers("bigint", 1);
    const [queue] = env.mqs;
    const received: unknown[] = [];
    await using _subscription = await queue.consumer("g").subscribe([env.topic], (message) => {
      received.push(message.value);
    });
    await using raw = await rawRecords(env.topic);
    const value = {
      id: 1234567890123456789n, // a Snowflake id, beyond 2^53
      ids: [2n ** 63n - 1n, -(2n ** 63n), 5n],
      page: { next: 9007199254740993n },
    };
    await queue.producer().sendSync({ topic: env.topic, key: "k", value });
    await queue.producer().sendSync({ topic: env.topic, key: "k", value: 2n ** 60n });
    // A bigint within ±(2^53 − 1) arrives as a number: JSON text cannot tell the two apart.
    await eventually(
      () =>
        assert.deepEqual(received, [
          { ...value, ids: [2n ** 63n - 1n, -(2n ** 63n), 5] },
          2n ** 60n,
        ]),
      {
        timeoutMs: 10_000,
      },
    );
    await eventually(() =>
      assert.deepEqual(raw.values, [
        `{"id":1234567890123456789,"ids":[9223372036854775807,-9223372036854775808,5],"page":{"next":9007199254740993}}`,
        "1152921504606846976",
      ]), { timeoutMs: 10_000 });
  });

  test("values: a serializer given to create encodes and decodes every value; its output must be well-formed", async () => {
    await using env = await providers("serializer", 1);
    const serializer: mq.Serializer = {
      encode: (value) => `v1:${JSON.stringify(value)}`,
      decode: (text) => {
        assert.ok(text.startsWith("v1:"), text);
        return JSON.parse(text.slice(3));
      },
    };
    const config = { ...mq.defaultConfig("development"), retryBackoffMs: 10 };
    await using queue = await mq.create(config, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
      serializer,
    });
    const received: unknown[] = [];
    await using _subscription = await queue.consumer("g").subscribe([env.topic], (message) => {
      received.push(message.value);
    });
    await using raw = await rawRecords(env.topic);
    await queue.producer().sendSync({ topic: env.topic, value: { n: 1 } });
    await eventually(() => assert.deepEqual(received, [{ n: 1 }]), { timeoutMs: 10_000 });
    await eventually(() => assert.deepEqual(raw.values, [`v1:{"n":1}`]), { timeoutMs: 10_000 });
    await using broken = await mq.create(config, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
      serializer: { encode: () => "\ud800", decode: (text) => text },
    });
    assert.throws(
      () => broken.producer().send({ topic: env.topic, value: 1 }),
      /must be well-formed Unicode/,
    );
    await assert.rejects(
      mq.create(config, {
        driver: await options.makeDriver(),
        serializer: { encode: 1, decode: 2 } as unknown as mq.Serializer,
      }),
      (e: Error) => e instanceof TypeError && /'serializer' must have/.test(e.message),
    );
  });
}
