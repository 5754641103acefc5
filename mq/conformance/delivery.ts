/**
 * Mq conformance: delivery: per-key order, consumer groups, hand-over and a crashed member.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the delivery cases: per-key order, partitions shared within a group
 * and every message to each group, and a hand-over that loses nothing.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function deliveryCases(context: MqSuiteContext): void {
  const { failoverMs, test, providers } = context;

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

  test("members of one group subscribed to different topics each get all of their own topic", async () => {
    await using env = await providers("group topics", 2);
    const [a, b] = env.mqs;
    const second = `${env.topic}.b`;
    await context.options.prepareTopic?.(second, 4);
    await a.admin.createTopic(second, 4);
    const seen = [new Set<number>(), new Set<number>()];
    await using subA = await a.consumer("mixed").subscribe<number>(
      [env.topic],
      (m) => void seen[0].add(m.value),
    );
    await using subB = await b.consumer("mixed").subscribe<number>(
      [second],
      (m) => void seen[1].add(m.value),
    );
    // Each is the only member reading its topic: it gets all four partitions of it.
    await eventually(() => {
      assert.equal(subA.assigned().length, 4, `first topic: ${subA.assigned()}`);
      assert.equal(subB.assigned().length, 4, `second topic: ${subB.assigned()}`);
    }, { timeoutMs: failoverMs * 5 + 5000 });
    for (let i = 0; i < 40; i++) {
      a.producer().send({ topic: env.topic, key: `k${i}`, value: i });
      a.producer().send({ topic: second, key: `k${i}`, value: i });
    }
    await a.producer().flush();
    await eventually(() => {
      assert.equal(seen[0].size, 40, "first topic");
      assert.equal(seen[1].size, 40, "second topic");
    }, { timeoutMs: 10_000 });
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
    await eventually(() => assert.equal(seen.size, 20), { timeoutMs: 20_000 });
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
}

/**
 * Registers the crash case: a crashed member's unacknowledged message goes to
 * another member.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function crashCases(context: MqSuiteContext): void {
  const { options, failoverMs, test, providers } = context;

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
}
