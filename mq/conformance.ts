/**
 * The behaviour every mq driver must show, as `Deno.test` cases, with several
 * providers (processes) on one backend.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { mqConformance } from "@gochat/kit/mq/conformance";
 * import { mq } from "@gochat/kit";
 *
 * const broker = new mq.MemoryMqBroker();
 * mqConformance({
 *   name: "memory",
 *   makeDriver: () => mq.memoryMq({ broker }),
 *   crash: (driver) => (driver as mq.MemoryMqDriver).crash(),
 * });
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import * as clog from "../clog/mod.ts";
import { eventually } from "../testing/eventually.ts";
import { testKeyspace } from "../testing/keyspace.ts";
import * as db from "../db/mod.ts";
import * as metrics from "../metrics/mod.ts";
import * as mq from "./mod.ts";
import { capturingLogger } from "../testing/logger.ts";

/** How to run the suite against one driver. */
export interface MqSuiteOptions {
  /** Driver name for test names (`[redis] …`). */
  readonly name: string;
  /** A new client of the shared backend; one per provider ("process"). */
  makeDriver(): mq.MqDriver | Promise<mq.MqDriver>;
  /**
   * Kills a client the way a crashed process dies: no commit, no goodbye. Drivers that cannot do
   * this in process leave it out and test it with a real process in their own test file.
   */
  crash?(driver: mq.MqDriver): void | Promise<void>;
  /** A database for the transactional-outbox case (left out when absent). */
  makeDatabase?(): Promise<db.Db>;
  /** How long the backend takes to notice a dead member and reassign its partitions. */
  readonly failoverMs?: number;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

/**
 * Registers the mq conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function mqConformance(options: MqSuiteOptions): void {
  const { name } = options;
  const failoverMs = options.failoverMs ?? 1000;

  async function providers(
    label: string,
    count = 2,
    config: Partial<mq.MqConfig> = {},
    meter?: metrics.Metrics,
  ) {
    const topic = testKeyspace(label).replace(/[^a-zA-Z0-9._-]+/g, ".").replace(/\.+$/, "");
    const { logger, logs } = capturingLogger();
    const drivers: mq.MqDriver[] = [];
    const list: mq.Mq[] = [];
    for (let i = 0; i < count; i++) {
      const driver = await options.makeDriver();
      drivers.push(driver);
      list.push(
        await mq.create({ ...mq.defaultConfig("development"), retryBackoffMs: 10, ...config }, {
          driver,
          logger,
          metrics: meter,
        }),
      );
    }
    await list[0].admin.createTopic(topic, 4);
    return {
      topic,
      logs,
      drivers,
      mqs: list,
      async [Symbol.asyncDispose]() {
        await Promise.all(list.map((provider) => provider.close()));
      },
    };
  }

  const test = (title: string, fn: () => Promise<void>, unsupported = false) => {
    if (!unsupported) Deno.test({ name: `[${name}] mq: ${title}`, ignore: options.ignore, fn });
  };

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await mq.create(mq.defaultConfig("development"), {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), mq.DriverError);
  });

  test("per-key order is kept, and every message arrives once", async () => {
    await using env = await providers("order", 1);
    const [queue] = env.mqs;
    const seen = new Map<string, number[]>();
    let count = 0;
    await using _subscription = await queue.consumer("g").subscribe<number>(
      [env.topic],
      (message) => {
        const list = seen.get(message.key as string) ?? [];
        list.push(message.value);
        seen.set(message.key as string, list);
        count++;
      },
    );
    for (let i = 0; i < 200; i++) {
      queue.producer().send({ topic: env.topic, key: `k${i % 7}`, value: i });
    }
    await queue.producer().flush();
    await eventually(() => assert.equal(count, 200), { timeoutMs: 10_000 });
    for (const [key, values] of seen) {
      assert.deepEqual(values, [...values].sort((a, b) => a - b), `order of ${key}`);
    }
    assert.equal(seen.size, 7);
  });

  test("members of one group share the partitions; each group gets every message", async () => {
    await using env = await providers("groups", 3);
    const [a, b, c] = env.mqs;
    const byMember = [new Set<number>(), new Set<number>()];
    const other = new Set<number>();
    await using subA = await a.consumer("shared").subscribe<number>(
      [env.topic],
      (m) => void byMember[0].add(m.value),
    );
    await using subB = await b.consumer("shared").subscribe<number>(
      [env.topic],
      (m) => void byMember[1].add(m.value),
    );
    await using _subC = await c.consumer("other").subscribe<number>(
      [env.topic],
      (m) => void other.add(m.value),
    );
    await eventually(() => {
      assert.equal(subA.assigned().length + subB.assigned().length, 4);
      assert.ok(subA.assigned().length > 0 && subB.assigned().length > 0);
    }, { timeoutMs: failoverMs * 5 + 5000 });
    assert.deepEqual(subA.assigned().filter((p) => subB.assigned().includes(p)), [], "disjoint");
    for (let i = 0; i < 100; i++) a.producer().send({ topic: env.topic, key: `k${i}`, value: i });
    await a.producer().flush();
    await eventually(() => {
      assert.equal(
        byMember[0].size + byMember[1].size,
        100,
        `shared group: ${byMember[0].size} + ${byMember[1].size}`,
      );
      assert.equal(other.size, 100, "other group");
    }, { timeoutMs: 10_000 });
    assert.ok(byMember[0].size > 0 && byMember[1].size > 0, "both members worked");
    assert.equal(
      [...byMember[0]].filter((v) => byMember[1].has(v)).length,
      0,
      "no message went to both",
    );
  });

  test("a member leaving hands its partitions over, and nothing is lost", async () => {
    await using env = await providers("rebalance", 2);
    const [a, b] = env.mqs;
    const seen = new Set<number>();
    const subA = await a.consumer("g").subscribe<number>(
      [env.topic],
      (m) => void seen.add(m.value),
    );
    for (let i = 0; i < 20; i++) a.producer().send({ topic: env.topic, key: `k${i}`, value: i });
    await a.producer().flush();
    await eventually(() => assert.equal(seen.size, 20));
    await using subB = await b.consumer("g").subscribe<number>(
      [env.topic],
      (m) => void seen.add(m.value),
    );
    await eventually(() => assert.ok(subB.assigned().length > 0), {
      timeoutMs: failoverMs * 5 + 5000,
    });
    await subA.close();
    await eventually(() => assert.equal(subB.assigned().length, 4), {
      timeoutMs: failoverMs * 5 + 5000,
    });
    for (let i = 20; i < 40; i++) b.producer().send({ topic: env.topic, key: `k${i}`, value: i });
    await b.producer().flush();
    await eventually(() => assert.equal(seen.size, 40), { timeoutMs: 10_000 });
  });

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

  test(
    "a crashed member's unacknowledged message is delivered to another member; nothing is lost",
    async () => {
      await using env = await providers("crash", 2);
      const [a, b] = env.mqs;
      const handledByB = new Set<number>();
      let started!: () => void;
      const inFlight = new Promise<void>((resolve) => (started = resolve));
      await a.consumer("g").subscribe<number>([env.topic], async (m) => {
        if (m.value === 0) {
          started();
          await new Promise(() => {}); // the process dies in the middle of this message
        }
      });
      await a.producer().sendSync({ topic: env.topic, key: "k", value: 0 });
      await inFlight;
      await using _subB = await b.consumer("g").subscribe<number>(
        [env.topic],
        (m) => void handledByB.add(m.value),
      );
      await options.crash?.(env.drivers[0]);
      for (let i = 1; i <= 5; i++) {
        await b.producer().sendSync({ topic: env.topic, key: "k", value: i });
      }
      await eventually(() => assert.deepEqual([...handledByB].sort(), [0, 1, 2, 3, 4, 5]), {
        timeoutMs: failoverMs * 5 + 10_000,
      });
    },
    !options.crash,
  );

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
    await eventually(() => assert.deepEqual(seen, [traceId]));
    assert.deepEqual(sink.records.map((r) => r.traceId), [traceId, traceId]);
    assert.match(
      String(sink.records[1].fields.header),
      new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
    );
  });

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

  test("a subscription's signal closes it like close(): the message in flight finishes first", async () => {
    await using env = await providers("signal", 2);
    const [a, b] = env.mqs;
    // One partition: while the first member holds it, a second member of the group gets nothing.
    const topic = `${env.topic}.one`;
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
    await eventually(() => assert.equal(outcomes.length, 3));
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

  test(
    "the outbox relay publishes each committed event and none from a rolled-back transaction",
    async () => {
      await using env = await providers("outbox", 1);
      const [queue] = env.mqs;
      await using database = await options.makeDatabase!();
      const table = `kit_outbox_${env.topic.replace(/\W+/g, "_")}`.slice(0, 60);
      const box = mq.outbox(database, queue.producer(), { table });
      await database.migrate([box.migration]);
      const seen: unknown[] = [];
      await using _subscription = await queue.consumer("g").subscribe(
        [env.topic],
        (m) => void seen.push(m.value),
      );
      await database.transaction((tx) => box.add(tx, { topic: env.topic, key: "a", value: 1 }));
      await assert.rejects(database.transaction(async (tx) => {
        await box.add(tx, { topic: env.topic, key: "a", value: 2 });
        throw new Error("rolled back");
      }));
      await database.transaction((tx) => box.add(tx, { topic: env.topic, key: "a", value: 3 }));
      // A Snowflake id beyond 2^53 keeps all its digits through the table and the relay.
      const id = 1234567890123456789n;
      await database.transaction((tx) =>
        box.add(tx, { topic: env.topic, key: "a", value: { id } })
      );
      assert.equal(await box.relayOnce(), 3);
      assert.equal(await box.relayOnce(), 0);
      await eventually(() => assert.deepEqual(seen, [1, 3, { id }]), { timeoutMs: 10_000 });
      await database.sql`drop table ${db.identifier(table)}`;
    },
    !options.makeDatabase,
  );
}
