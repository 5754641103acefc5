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
import { textOf } from "../codec.ts";

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
        values.push(textOf(record.value));
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

  test("values: per-topic codecs pass bytes and text untouched; a non-JSON payload is not dead-lettered", async () => {
    await using env = await providers("codecs", 1);
    const bytesTopic = env.topic;
    const textTopic = `${env.topic}.text`;
    await options.prepareTopic?.(textTopic, 1);
    await env.mqs[0].admin.createTopic(textTopic, 1);
    const { logger, logs } = capturingLogger();
    const driver = await options.makeDriver();
    await using queue = await mq.create(
      { ...mq.defaultConfig("development"), retryBackoffMs: 10, maxRetries: 0 },
      { driver, logger, codecs: { [bytesTopic]: mq.bytesCodec, [textTopic]: mq.textCodec } },
    );
    // A protobuf varint and bytes that are not UTF-8 at all (0xff), as a Go producer sends them.
    const payload = new Uint8Array([0x08, 0x96, 0x01, 0xff, 0x00, 0x80]);
    const received: unknown[] = [];
    // One member of one group for both topics: a Kafka group expects one subscription per member.
    await using _subscription = await queue.consumer("g").subscribe(
      [bytesTopic, textTopic],
      (message) => void received.push(message.value),
    );
    await queue.producer().sendSync({ topic: bytesTopic, key: "k", value: payload });
    await queue.producer().sendSync({ topic: textTopic, value: "plain, not JSON: {" });
    await eventually(() => assert.equal(received.length, 2), { timeoutMs: 30_000 });
    const bytes = received.find((value) => value instanceof Uint8Array) as Uint8Array;
    assert.deepEqual([...bytes], [...payload], "the bytes arrive as they were sent");
    assert.ok(received.includes("plain, not JSON: {"), "the text arrives untouched");
    assert.equal(
      logs.records.filter((record) => /dead-letter/.test(record.msg)).length,
      0,
      "nothing was dead-lettered",
    );
    await assert.rejects(
      queue.producer().sendSync({ topic: bytesTopic, value: "not bytes" }),
      /the bytes codec takes a Uint8Array/,
    );
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
