/**
 * Mq conformance: subscriptions: pause, resume, close, their signal and `message.signal`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the subscription case: pause and resume, and close after the
 * message in flight.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function subscriptionCases(context: MqSuiteContext): void {
  const { test, providers } = context;

  test("pause stops delivery, resume brings it back; close waits for the message in flight", async () => {
    await using env = await providers("pause", 2);
    const [a, b] = env.mqs;
    const seen: number[] = [];
    let slowStarted!: () => void;
    const slowInFlight = new Promise<void>((resolve) => (slowStarted = resolve));
    const subscription = await a.consumer("g").subscribe<number>([env.topic], async (m) => {
      if (m.value === 99) {
        slowStarted();
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      seen.push(m.value);
    });
    subscription.pause();
    await a.producer().sendSync({ topic: env.topic, key: "k", value: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(seen, [], "nothing while paused");
    subscription.resume();
    await eventually(() => assert.deepEqual(seen, [1]), { timeoutMs: 10_000 });
    await a.producer().sendSync({ topic: env.topic, key: "k", value: 99 });
    await slowInFlight;
    await subscription.close();
    assert.deepEqual(seen, [1, 99], "close let the slow message finish");
    const again: number[] = [];
    await using _next = await b.consumer("g").subscribe<number>(
      [env.topic],
      (m) => void again.push(m.value),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(again, [], "it was committed, so the group does not see it again");
  });
}

/**
 * Registers the subscription signal cases: closing by signal after the message
 * in flight, and `message.signal`.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function subscriptionSignalCases(context: MqSuiteContext): void {
  const { failoverMs, test, providers } = context;

  test("a subscription's signal closes it like close(): the message in flight finishes first", async () => {
    await using env = await providers("signal", 2);
    const [a, b] = env.mqs;
    // One partition: while the first member holds it, a second member of the group gets nothing.
    const topic = `${env.topic}.one`;
    await context.options.prepareTopic?.(topic, 1);
    await a.admin.createTopic(topic, 1);
    const seen: number[] = [];
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const controller = new AbortController();
    await a.consumer("g").subscribe<number>([topic], async (m) => {
      started();
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen.push(m.value);
      finish();
    }, { signal: controller.signal });
    await a.producer().sendSync({ topic: topic, key: "k", value: 1 });
    await inFlight;
    controller.abort();
    await finished;
    assert.deepEqual(seen, [1], "the message in flight finished");
    await a.producer().sendSync({ topic: topic, key: "k", value: 2 });
    const next: number[] = [];
    await using _b = await b.consumer("g").subscribe<number>(
      [topic],
      (m) => void next.push(m.value),
    );
    await eventually(() => assert.deepEqual(next, [2]), { timeoutMs: 10_000 });
    assert.deepEqual(seen, [1], "the aborted member took nothing more");
    await assert.rejects(
      a.consumer("h").subscribe([topic], () => Promise.resolve(), {
        signal: controller.signal,
      }),
      (error: Error) => error.name === "AbortError",
      "an aborted signal joins nothing",
    );
  });

  test("a handler's message.signal aborts when its subscription closes; a handler stopped by it leaves the message to come again", async () => {
    // maxRetries 0: a failure that counted as the last attempt would be dead-lettered.
    await using env = await providers("handler signal", 2, { maxRetries: 0 });
    const [a, b] = env.mqs;
    const topic = `${env.topic}.one`;
    await context.options.prepareTopic?.(topic, 1);
    await a.admin.createTopic(topic, 1);
    const abortedAtStart: boolean[] = [];
    const inFlight = Promise.withResolvers<void>();
    const subscription = await a.consumer("g").subscribe<number>([topic], ({ signal }) => {
      abortedAtStart.push(signal.aborted);
      inFlight.resolve();
      return new Promise<void>((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason), { once: true })
      );
    });
    await a.producer().sendSync({ topic, key: "k", value: 1 });
    await inFlight.promise;
    await subscription.close();
    assert.deepEqual(abortedAtStart, [false], "the signal was live while the handler ran");
    const again: number[] = [];
    await using _b = await b.consumer("g").subscribe<number>(
      [topic],
      (m) => void again.push(m.value),
    );
    await eventually(() => assert.deepEqual(again, [1]), { timeoutMs: failoverMs * 5 + 10_000 });
    assert.deepEqual(await a.admin.partitions(`${topic}.dlq`), undefined, "not dead-lettered");
  });
}
